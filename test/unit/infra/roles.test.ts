import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exprText, get, stringItems, stringValue, type BicepNode } from './bicep.js';
import builtInRoleList from './built-in-roles.json' with { type: 'json' };
import { bicep, bicepPaths, infraDir, resourceOf } from './files.js';

/** Built-in role GUIDs by roles.bicep key, from the committed copy of Microsoft's built-in role list. */
const BUILT_IN_ROLES = Object.fromEntries(Object.entries(builtInRoleList.roles).map(([key, role]) => [key, role.id]));

const WRITER_DATA_ACTIONS = [
  'Microsoft.KeyVault/vaults/secrets/setSecret/action',
  'Microsoft.KeyVault/vaults/secrets/update/action',
  'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
];
const RECOVER_DATA_ACTION = 'Microsoft.KeyVault/vaults/secrets/recover/action';

const roles = bicep('modules/roles.bicep');
const rbac = bicep('modules/rbac.bicep');
const sourceVault = bicep('modules/source-vault.bicep');
const storageAccess = bicep('modules/storage-data-access.bicep');
const writerRole = bicep('modules/writer-role.bicep');
const customer = bicep('modules/customer-vault-access.bicep');

function roleKey(assignmentBody: BicepNode): string | undefined {
  const text = exprText(get(assignmentBody, 'properties.roleDefinitionId')) ?? '';
  return /builtInRoles\.(\w+)\)$/.exec(text)?.[1];
}

describe('built-in role GUIDs', () => {
  it('roles.bicep maps each role name to its built-in GUID, and nothing else', () => {
    const map = roles.vars.get('builtInRoles');
    const actual = Object.fromEntries(
      [...(map?.kind === 'object' ? map.entries : new Map<string, BicepNode>())].map(([k, v]) => [k, stringValue(v)]),
    );
    expect(actual).toEqual(BUILT_IN_ROLES);
  });

  it('docs/deployment.md lists each built-in role with the same GUID', () => {
    const doc = readFileSync(new URL('../../../docs/deployment.md', import.meta.url), 'utf8');
    for (const role of Object.values(builtInRoleList.roles)) expect(doc).toContain(`| ${role.roleName} | \`${role.id}\` |`);
  });

  it('no other infra file spells a GUID literal (each assignment names a role from roles.bicep)', () => {
    for (const path of bicepPaths().filter((p) => !p.endsWith('roles.bicep'))) {
      const code = bicep(relative(infraDir, path)).code;
      expect(code, relative(infraDir, path)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    }
  });

  it('every role assignment uses a subscription-level role definition id', () => {
    for (const file of [rbac, sourceVault, storageAccess, bicep('modules/rotation-topic.bicep')]) {
      for (const r of file.resources.filter((x) => x.type === 'Microsoft.Authorization/roleAssignments' && x.symbol !== 'relayAccess')) {
        expect(exprText(get(r.body, 'properties.roleDefinitionId')), `${r.symbol}`).toMatch(
          /^subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', (roleId|builtInRoles\.\w+)\)$/,
        );
      }
    }
  });
});

describe('what each identity is granted', () => {
  it('host and task hub storage: Blob Data Owner, Queue and Table Data Contributor (durable needs queues and tables)', () => {
    const list = rbac.vars.get('hostStorageRoles');
    expect(list?.kind === 'array' ? list.items.map(exprText) : []).toEqual([
      'builtInRoles.storageBlobDataOwner',
      'builtInRoles.storageQueueDataContributor',
      'builtInRoles.storageTableDataContributor',
    ]);
    const storageModules = rbac.modules.filter((m) => m.path === 'storage-data-access.bicep');
    expect(storageModules.map((m) => exprText(get(m.body, 'params.storageAccountName')))).toEqual([
      'hostStorageName',
      'taskHubStorageName',
    ]);
    for (const m of storageModules) {
      expect(exprText(get(m.body, 'params.roleIds'))).toBe('hostStorageRoles');
      expect(exprText(get(m.body, 'params.principalId'))).toBe('relayPrincipalId');
    }
    const access = resourceOf(storageAccess, 'access');
    expect(access.loop).toBe(true);
    expect(exprText(get(access.body, 'scope'))).toBe('account');
  });

  it.each([
    ['auditStorageAccess', 'auditStorage::blobService::auditContainer', 'storageBlobDataContributor', 'relayPrincipalId'],
    ['reportsAccess', 'auditStorage::blobService::reportsContainer', 'storageBlobDataContributor', 'relayPrincipalId'],
    ['configAccess', 'auditStorage::blobService::configContainer', 'storageBlobDataReader', 'relayPrincipalId'],
    ['deadLetterReadAccess', 'auditStorage::blobService::deadLetterContainer', 'storageBlobDataReader', 'relayPrincipalId'],
    ['deadLetterAccess', 'auditStorage::blobService::deadLetterContainer', 'storageBlobDataContributor', 'eventGridPrincipalId'],
    ['relayVaultAccess', 'relayVault', 'keyVaultSecretsUser', 'relayPrincipalId'],
    ['telemetryAccess', 'applicationInsights', 'monitoringMetricsPublisher', 'relayPrincipalId'],
  ])('rbac.bicep %s: scope %s, role %s, principal %s', (symbol, scope, role, principal) => {
    const r = resourceOf(rbac, symbol);
    expect(exprText(get(r.body, 'scope'))).toBe(scope);
    expect(roleKey(r.body)).toBe(role);
    expect(exprText(get(r.body, 'properties.principalId'))).toBe(principal);
    expect(stringValue(get(r.body, 'properties.principalType'))).toBe('ServicePrincipal');
  });

  it('the relay identity has no role on the whole audit account (it cannot delete evidence outside WORM)', () => {
    for (const r of rbac.resources.filter((x) => x.type === 'Microsoft.Authorization/roleAssignments')) {
      expect(exprText(get(r.body, 'scope')), r.symbol).not.toBe('auditStorage');
    }
  });

  it('source vaults: the relay identity gets the Secret Relay Source role (get, set, readMetadata only) on the vault itself', () => {
    const r = resourceOf(sourceVault, 'relayAccess');
    expect(exprText(get(r.body, 'scope'))).toBe('vault');
    expect(exprText(get(r.body, 'properties.roleDefinitionId'))).toBe('sourceRoleDefinitionId');
    expect(exprText(get(r.body, 'properties.principalId'))).toBe('relayPrincipalId');
    expect(stringItems(roles.vars.get('sourceDataActions'))).toEqual([
      'Microsoft.KeyVault/vaults/secrets/getSecret/action',
      'Microsoft.KeyVault/vaults/secrets/setSecret/action',
      'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
    ]);
    const main = bicep('main.bicep');
    const sourceRole = main.modules.find((m) => m.symbol === 'sourceRole');
    expect(sourceRole?.path).toBe('modules/custom-role.bicep');
    expect(exprText(get(sourceRole!.body, 'params.dataActions'))).toBe('sourceDataActions');
    expect(exprText(get(sourceRole!.body, 'params.roleSeed'))).toContain('environmentName');
  });

  it('custom role definition names are GUIDs seeded with the environment, so environments never collide', () => {
    expect(exprText(get(resourceOf(writerRole, 'writerRole').body, 'name'))).toBe("guid(subscription().id, 'secret-relay-writer', roleSeed)");
    expect(exprText(get(resourceOf(bicep('modules/custom-role.bicep'), 'role').body, 'name'))).toBe('guid(subscription().id, roleSeed)');
    const writer = bicep('main.bicep').modules.find((m) => m.symbol === 'writerRole');
    expect(exprText(get(writer!.body, 'params.roleSeed'))).toBe('environmentName');
  });

  it('no identity is given Key Vault Administrator or an Owner-like control-plane role', () => {
    for (const path of bicepPaths()) {
      const text = readFileSync(path, 'utf8');
      expect(text).not.toMatch(/00482a5a-887f-4fb3-b363-3b7fe8e74483|8e3af657-a8ff-443c-a75c-2fe8c4bcb635/);
    }
  });
});

describe('Secret Relay Writer custom role', () => {
  const role = resourceOf(writerRole, 'writerRole');
  const permissions = get(role.body, 'properties.permissions');
  const permission = permissions?.kind === 'array' ? permissions.items[0] : undefined;

  it('is a custom role with exactly set, update, read-metadata (+ recover when allowed) data actions', () => {
    expect(stringValue(get(role.body, 'properties.type'))).toBe('CustomRole');
    expect(stringValue(writerRole.params.find((p) => p.name === 'roleName')!.defaultValue)).toBe('Secret Relay Writer');
    expect(stringItems(writerRole.vars.get('writeDataActions'))).toEqual(WRITER_DATA_ACTIONS);
    expect(stringItems(writerRole.vars.get('recoverDataActions'))).toEqual([RECOVER_DATA_ACTION]);
    expect(exprText(get(permission, 'dataActions'))).toBe(
      'allowRecover ? concat(writeDataActions, recoverDataActions) : writeDataActions',
    );
  });

  it('grants no control-plane action, no getSecret, no delete, no purge and no wildcard', () => {
    expect(get(permission, 'actions')).toEqual({ kind: 'array', items: [] });
    // Every action-like string in the file is one of the allowed data actions: nothing else can sneak in.
    const actionLiterals = [...writerRole.code.matchAll(/'(Microsoft\.[^']*)'/g)]
      .map((m) => m[1]!)
      .filter((a) => a !== 'Microsoft.Authorization/roleDefinitions@2022-04-01');
    expect(new Set(actionLiterals)).toEqual(new Set([...WRITER_DATA_ACTIONS, RECOVER_DATA_ACTION]));
    for (const a of actionLiterals) expect(a).not.toMatch(/getSecret|\/delete|purge|\*/);
    expect(get(permission, 'notDataActions')).toEqual({ kind: 'array', items: [] });
  });

  it('the customer module assigns the role given by id to the relay identity on the vault only', () => {
    const r = resourceOf(customer, 'relayWriter');
    expect(r.type).toBe('Microsoft.Authorization/roleAssignments');
    expect(exprText(get(r.body, 'scope'))).toBe('vault');
    expect(exprText(get(r.body, 'properties.roleDefinitionId'))).toBe('writerRoleDefinitionId');
    expect(exprText(get(r.body, 'properties.principalId'))).toBe('relayPrincipalId');
    expect(stringValue(get(r.body, 'properties.principalType'))).toBe('ServicePrincipal');
    expect(customer.targetScope).toBe('resourceGroup');
  });

  it('main deploys the role and outputs its id for customers', () => {
    const main = bicep('main.bicep');
    expect(main.modules.some((m) => m.path === 'modules/writer-role.bicep')).toBe(true);
    expect(main.code).toMatch(/^output SECRET_RELAY_WRITER_ROLE_ID string = writerRole\.outputs\.id$/m);
  });
});
