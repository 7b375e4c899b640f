/**
 * Every call the relay's identities make, with the data action (or container action) it needs, against what infra/
 * grants at that scope: built-in roles from built-in-roles.json (Microsoft's list), custom roles from the Bicep. And
 * each call is named in docs/deployment.md "Identities and permissions".
 *
 * Which action each REST operation needs:
 * - Blob storage: Microsoft's "Permissions for calling data operations" (Authorize with Microsoft Entra ID): Put Blob,
 *   Put Block, Lease Blob and Set Blob Properties need `blobs/write`; Append Block needs `blobs/add/action` (or
 *   write); Get Blob, Get Blob Properties and List Blobs need `blobs/read`; Create Container needs
 *   `containers/write` (an action, which the Blob Data roles carry).
 * - Key Vault: the access-policy to RBAC mapping ("Secret Get" → getSecret, "Secret List" → readMetadata, "Secret
 *   Set" → setSecret + update, "Secret Recover" → recover), and the REST reference: Get Secret Versions, Get Secrets
 *   require the `secrets/list` permission, so readMetadata. Get Deleted Secret is the exception: its REST text says
 *   `secrets/get`; the writer role has readMetadata only, on purpose, and docs/deployment.md says how to settle it
 *   on a live vault (this test checks the readMetadata reading).
 * - Event Grid: publishing to a topic with Entra ID needs `Microsoft.EventGrid/events/send/action`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import builtInRoleList from './built-in-roles.json' with { type: 'json' };
import { exprText, get, stringItems, type BicepNode } from './bicep.js';
import { bicep, repoRoot, resourceOf } from './files.js';

const BLOB = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';
const CONTAINER = 'Microsoft.Storage/storageAccounts/blobServices/containers';
const QUEUE = 'Microsoft.Storage/storageAccounts/queueServices/queues/messages';
const TABLE = 'Microsoft.Storage/storageAccounts/tableServices/tables/entities';
const SECRET = 'Microsoft.KeyVault/vaults/secrets';

type Grant =
  | { readonly assignment: string; readonly file: string }
  | { readonly customRole: 'writer' | 'source' }
  | { readonly roleList: string };

interface Call {
  /** What the code does, as docs/deployment.md names it. */
  readonly call: string;
  readonly action: string;
  readonly grant: Grant;
  /** A phrase the permissions section of docs/deployment.md must contain for this call. */
  readonly doc: string;
}

const rbac = { file: 'modules/rbac.bicep' };
const CALLS: readonly Call[] = [
  // Host and task hub storage (Functions host, Durable Functions Azure Storage provider).
  { call: 'host leases and package', action: `${BLOB}/write`, grant: { roleList: 'hostStorageRoles' }, doc: 'Functions host: leases' },
  { call: 'host reads the deployment package', action: `${BLOB}/read`, grant: { roleList: 'hostStorageRoles' }, doc: 'reading the deployment package' },
  { call: 'task hub queues', action: `${QUEUE}/process/action`, grant: { roleList: 'hostStorageRoles' }, doc: 'control and work-item queues' },
  { call: 'task hub enqueue', action: `${QUEUE}/write`, grant: { roleList: 'hostStorageRoles' }, doc: 'control and work-item queues' },
  { call: 'task hub tables', action: `${TABLE}/write`, grant: { roleList: 'hostStorageRoles' }, doc: 'History and Instances tables' },
  { call: 'task hub tables read', action: `${TABLE}/read`, grant: { roleList: 'hostStorageRoles' }, doc: 'History and Instances tables' },
  // Audit trail.
  { call: 'appendAudit creates an append blob', action: `${BLOB}/write`, grant: { assignment: 'auditStorageAccess', ...rbac }, doc: '`appendAudit`' },
  { call: 'appendAudit appends a block', action: `${BLOB}/add/action`, grant: { assignment: 'auditStorageAccess', ...rbac }, doc: '`blobs/add/action`' },
  { call: 'audit container createIfNotExists', action: `${CONTAINER}/write`, grant: { assignment: 'auditStorageAccess', ...rbac }, doc: '`createIfNotExists` of its container' },
  { call: 'audit verify lists and reads', action: `${BLOB}/read`, grant: { assignment: 'auditStorageAccess', ...rbac }, doc: '`audit verify` reads' },
  { call: 'seal append', action: `${BLOB}/add/action`, grant: { assignment: 'sealAccess', ...rbac }, doc: '`AuditLog.seal`' },
  { call: 'seal blob create', action: `${BLOB}/write`, grant: { assignment: 'sealAccess', ...rbac }, doc: '`AuditLog.seal`' },
  { call: 'seal container createIfNotExists', action: `${CONTAINER}/write`, grant: { assignment: 'sealAccess', ...rbac }, doc: '`createIfNotExists` of its container' },
  // Reports container: drift reports and delivery locks.
  { call: 'writeDriftReport', action: `${BLOB}/write`, grant: { assignment: 'reportsAccess', ...rbac }, doc: '`writeDriftReport`' },
  { call: 'delivery lock blob create', action: `${BLOB}/write`, grant: { assignment: 'reportsAccess', ...rbac }, doc: 'delivery locks' },
  { call: 'delivery lock lease acquire/renew/release', action: `${BLOB}/write`, grant: { assignment: 'reportsAccess', ...rbac }, doc: 'Lease Blob' },
  { call: 'reports container createIfNotExists', action: `${CONTAINER}/write`, grant: { assignment: 'reportsAccess', ...rbac }, doc: '`createIfNotExists` of its container' },
  // Config and dead letters: read only.
  { call: 'config store conditional GET', action: `${BLOB}/read`, grant: { assignment: 'configAccess', ...rbac }, doc: '`relay.config.json`' },
  { call: 'dead-letter read back', action: `${BLOB}/read`, grant: { assignment: 'deadLetterReadAccess', ...rbac }, doc: 'reading dead-lettered events back' },
  { call: 'Event Grid dead-letter write', action: `${BLOB}/write`, grant: { assignment: 'deadLetterAccess', ...rbac }, doc: 'dead-lettered events' },
  // Relay vault and telemetry.
  { call: 'RELAY_FINGERPRINT_KEY reference', action: `${SECRET}/getSecret/action`, grant: { assignment: 'relayVaultAccess', ...rbac }, doc: '`RELAY_FINGERPRINT_KEY`' },
  { call: 'AUDIT_CHAIN_KEY reference', action: `${SECRET}/getSecret/action`, grant: { assignment: 'relayVaultAccess', ...rbac }, doc: '`AUDIT_CHAIN_KEY`' },
  { call: 'telemetry', action: 'Microsoft.Insights/Telemetry/Write', grant: { assignment: 'telemetryAccess', ...rbac }, doc: '`Microsoft.Insights/Telemetry/Write`' },
  // Source vaults (Secret Relay Source).
  { call: 'readVersion', action: `${SECRET}/getSecret/action`, grant: { customRole: 'source' }, doc: '`readVersion`' },
  { call: 'getLatestProperties / listSecrets', action: `${SECRET}/readMetadata/action`, grant: { customRole: 'source' }, doc: '`listSecrets`' },
  { call: 'setNewVersion (rotation)', action: `${SECRET}/setSecret/action`, grant: { customRole: 'source' }, doc: '`setNewVersion`' },
  // Target vaults (Secret Relay Writer).
  { call: 'observe: GET /secrets/{n}/versions', action: `${SECRET}/readMetadata/action`, grant: { customRole: 'writer' }, doc: '`observe`' },
  { call: 'observe: getDeletedSecret', action: `${SECRET}/readMetadata/action`, grant: { customRole: 'writer' }, doc: '`GET /deletedsecrets/{n}`' },
  { call: 'deliver: PUT /secrets/{n}', action: `${SECRET}/setSecret/action`, grant: { customRole: 'writer' }, doc: '`deliver`' },
  { call: 'tags, content type, expiry', action: `${SECRET}/update/action`, grant: { customRole: 'writer' }, doc: 'ownership tags' },
  { call: 'recover a deleted name', action: `${SECRET}/recover/action`, grant: { customRole: 'writer' }, doc: '`POST /deletedsecrets/{n}/recover`' },
  // Rotation topic publishers.
  { call: 'publish credential-rotation CloudEvents', action: 'Microsoft.EventGrid/events/send/action', grant: { assignment: 'publishers', file: 'modules/rotation-topic.bicep' }, doc: '`Microsoft.EventGrid/events/send/action`' },
];

type RoleKey = keyof typeof builtInRoleList.roles;

function builtInKey(roleDefinitionId: string | undefined): RoleKey {
  const key = /builtInRoles\.(\w+)\)$/.exec(roleDefinitionId ?? '')?.[1];
  if (!key || !(key in builtInRoleList.roles)) throw new Error(`not a built-in role reference: ${roleDefinitionId}`);
  return key as RoleKey;
}

function builtInGrants(key: RoleKey): string[] {
  const role = builtInRoleList.roles[key];
  return [...role.actions, ...role.dataActions];
}

/** The actions and data actions the grant confers. */
function granted(grant: Grant): string[] {
  if ('customRole' in grant) {
    if (grant.customRole === 'source') return stringItems(bicep('modules/roles.bicep').vars.get('sourceDataActions')).filter(isString);
    const writer = bicep('modules/writer-role.bicep');
    return [...stringItems(writer.vars.get('writeDataActions')), ...stringItems(writer.vars.get('recoverDataActions'))].filter(isString);
  }
  if ('roleList' in grant) {
    const list = bicep('modules/rbac.bicep').vars.get(grant.roleList);
    return (list?.kind === 'array' ? list.items : []).flatMap((item: BicepNode) => builtInGrants(builtInKey(`${exprText(item)})`)));
  }
  const assignment = resourceOf(bicep(grant.file), grant.assignment);
  return builtInGrants(builtInKey(exprText(get(assignment.body, 'properties.roleDefinitionId'))));
}

function isString(value: string | undefined): value is string {
  return value !== undefined;
}

/** Azure RBAC matching: case-insensitive, `*` matches any run of characters. */
function covers(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.?+^$()[\]{}|\\/]/g, '\\$&')).join('.*')}$`, 'i');
  return regex.test(action);
}

describe('permissions: every call the relay makes is granted, and documented', () => {
  it.each(CALLS.map((c) => [c.call, c] as const))('%s', (_, call) => {
    const grants = granted(call.grant);
    expect(grants.some((g) => covers(g, call.action)), `${call.action} not in ${grants.join(', ')}`).toBe(true);
  });

  it('the writer role can read no value and delete nothing; the source role cannot delete or purge', () => {
    for (const action of [`${SECRET}/getSecret/action`, `${SECRET}/delete`, `${SECRET}/purge/action`, `${SECRET}/backup/action`]) {
      expect(granted({ customRole: 'writer' }).some((g) => covers(g, action)), action).toBe(false);
    }
    for (const action of [`${SECRET}/delete`, `${SECRET}/purge/action`, `${SECRET}/recover/action`]) {
      expect(granted({ customRole: 'source' }).some((g) => covers(g, action)), action).toBe(false);
    }
  });

  it('the relay identity can delete no blob in the config and dead-letter containers (read-only roles)', () => {
    for (const assignment of ['configAccess', 'deadLetterReadAccess']) {
      const grants = granted({ assignment, ...rbac });
      expect(grants.some((g) => covers(g, `${BLOB}/delete`) || covers(g, `${BLOB}/write`)), assignment).toBe(false);
    }
  });

  it('the check would catch a grant that lacks the action (a read-only role where appends are needed)', () => {
    const reader = builtInGrants('storageBlobDataReader');
    expect(reader.some((g) => covers(g, `${BLOB}/add/action`))).toBe(false);
    expect(builtInGrants('storageBlobDataOwner').some((g) => covers(g, `${BLOB}/add/action`))).toBe(true);
  });

  it('docs/deployment.md "Identities and permissions" names every call', () => {
    const doc = readFileSync(`${repoRoot}/docs/deployment.md`, 'utf8');
    const start = doc.indexOf('## Identities and permissions');
    const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
    expect(start).toBeGreaterThan(0);
    const missing = CALLS.filter((c) => !section.includes(c.doc)).map((c) => `${c.call}: "${c.doc}"`);
    expect(missing).toEqual([]);
  });
});
