import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenEndpoint, type TokenEndpoint } from '../../../local/identity/index.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { postgresUnavailableReason, startPostgres, type LocalPostgres } from '../../../local/postgres.js';
import { createActivities, type Activities } from '../../../shared/activities.js';
import { createRuntime } from '../../../shared/composition.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import type { RelayRuntime } from '../../../shared/runtime.js';
import type { SecretVersionRef } from '../../../shared/domain/references.js';

// Each step of the dual-credential protocol with the postgres rotator, through the real composition root: a real
// PostgreSQL server, the Key Vault emulator as source (admin password by reference) and as the target vault.

const unavailable = postgresUnavailableReason();
if (unavailable) console.warn(`skipping the PostgreSQL rotator tests: ${unavailable}`);

let server: LocalPostgres;
let keyVault: KeyVaultEmulator;
let identity: TokenEndpoint;
let azurite: AzuriteBlob;
let runtime: RelayRuntime;
let activities: Activities;
let dir: string;
const savedEnv = { ...process.env };

const rotator = (roles: [string, string], adminSecret = 'db-admin') => ({
  kind: 'postgres',
  host: '127.0.0.1',
  port: 0,
  database: 'app',
  adminUser: 'relay_admin',
  adminPassword: { source: 'platform', secret: adminSecret },
  roles,
  tls: 'disable',
});

async function canLogin(role: string): Promise<boolean> {
  return (await server.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [role])).rows[0]?.rolcanlogin === true;
}

async function login(credential: { username: string; password: string }): Promise<string> {
  const client = new pg.Client({ host: server.host, port: server.port, database: 'app', user: credential.username, password: credential.password });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query('SELECT current_user AS u')).rows[0].u as string;
  } catch (error) {
    return `failed:${(error as { code?: string }).code}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function sourceValue(ref: SecretVersionRef): Promise<{ username: string; password: string }> {
  return JSON.parse((await runtime.source('platform').readVersion(ref.name, ref.version, runtime.fingerprintKey)).value);
}

async function relay(ref: SecretVersionRef): Promise<string[]> {
  const cause = { actor: { kind: 'operator', id: 'test' }, trigger: 'manual' } as const;
  const plan = await activities.planRelay({ ref, cause });
  const out: string[] = [];
  for (const delivery of plan.deliveries) out.push((await activities.deliverSecret({ ref, delivery, cause })).status);
  return out;
}

describe.skipIf(unavailable !== undefined)('the postgres rotator, step by step', () => {
  beforeAll(async () => {
    server = await startPostgres({ database: 'app' });
    for (const role of ['app_a', 'app_b', 'app_c']) await server.query(`CREATE ROLE ${role} NOLOGIN`);
    await server.query('GRANT CONNECT ON DATABASE app TO app_a, app_b, app_c');
    keyVault = await startKeyVaultEmulator({ vaults: ['platform', 'contoso'] });
    keyVault.createSecret('platform', 'db-admin', server.adminPassword, { emitEvent: false });
    keyVault.createSecret('platform', 'db-admin-wrong', 'not-the-password', { emitEvent: false });
    keyVault.createSecret('platform', 'db-untagged', JSON.stringify({ username: 'app_a' }), { emitEvent: false });
    identity = await startTokenEndpoint();
    // Deliveries take a blob-lease lock per vault and source secret (reports container), so the runtime needs real Blob Storage.
    azurite = await startAzurite();
    Object.assign(process.env, identity.env);
    dir = mkdtempSync(join(tmpdir(), 'relay-pg-rotator-'));
    const port = server.port;
    const config = {
      mode: 'local',
      sources: [{ id: 'platform', vaultUrl: keyVault.vaultUrls['platform'] }],
      targets: [{ id: 'contoso', kind: 'keyVault', vaultUrl: keyVault.vaultUrls['contoso'] }],
      routes: [
        { id: 'db', source: 'platform', match: { names: ['db-cred', 'db-untagged'] }, targets: [{ target: 'contoso' }], rotation: { generator: 'password', length: 24, rotator: { ...rotator(['app_a', 'app_b']), port } } },
        { id: 'db-missing', source: 'platform', match: { names: ['db-missing'] }, targets: [{ target: 'contoso' }], rotation: { generator: 'password', length: 24, rotator: { ...rotator(['app_missing', 'app_c']), port } } },
        { id: 'db-wrong-admin', source: 'platform', match: { names: ['db-wrong'] }, targets: [{ target: 'contoso' }], rotation: { generator: 'password', length: 24, rotator: { ...rotator(['app_c', 'app_b'], 'db-admin-wrong'), port } } },
      ],
    };
    writeFileSync(join(dir, 'relay.config.json'), JSON.stringify(config));
    runtime = createRuntime(
      {
        ...process.env,
        RELAY_CONFIG_PATH: join(dir, 'relay.config.json'),
        RELAY_FINGERPRINT_KEY: randomBytes(32).toString('base64'),
        AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        RELAY_TRUSTED_CA_PATH: keyVault.caCertPath,
        RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
        RELAY_SOURCE_CACHE_TTL_MS: '0',
      },
      { log: { info: () => undefined, warn: () => undefined, error: () => undefined } },
    );
    activities = createActivities(runtime);
  });

  afterAll(async () => {
    await server?.stop();
    await keyVault?.close();
    await identity?.close();
    await azurite?.stop();
    process.env = savedEnv;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('plans a dual-slot rotation from the route config', async () => {
    expect(await activities.planRotation({ sourceId: 'platform', name: 'db-cred' })).toEqual({
      ok: true,
      rotator: 'postgres',
      routeId: 'db',
      slots: ['app_a', 'app_b'],
      retirement: { rule: 'converged', graceMinutes: 0 },
    });
  });

  it('first rotation: sets the first role at the owner, checks the login, publishes it tagged with its slot', async () => {
    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-cred', rotationId: 'rot-1' });
    expect(result).toMatchObject({ ok: true, reused: false, slot: 'app_a' });
    if (!result.ok) return;
    expect(result.previousSlot).toBeUndefined();
    const value = await sourceValue(result.ref);
    expect(value.username).toBe('app_a');
    expect(await login(value)).toBe('app_a');
    expect(await canLogin('app_b')).toBe(false);
    const properties = await runtime.source('platform').getVersionProperties('db-cred', result.ref.version);
    expect(properties?.tags).toMatchObject({ 'relay-slot': 'app_a', 'relay-rotation': 'rot-1' });
    // ALTER ROLE carried a SCRAM verifier, never the password.
    const stored = (await server.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_a'")).rows[0].rolpassword as string;
    expect(stored.startsWith('SCRAM-SHA-256$4096:')).toBe(true);
    expect(stored).not.toContain(value.password);

    // A retried activity finds its version and does not call the owner again: the published password still works.
    const again = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-cred', rotationId: 'rot-1' });
    expect(again).toMatchObject({ ok: true, reused: true, slot: 'app_a', ref: result.ref });
    expect(await login(value)).toBe('app_a');
  });

  it('refuses to touch the inactive role while a target does not hold the current version', async () => {
    const latest = (await runtime.source('platform').getLatestProperties('db-cred'))!;
    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-cred', rotationId: 'rot-2' });
    expect(result).toMatchObject({ ok: false, step: 'precheck', status: 'FailedValidation', reason: 'previous-version-not-converged' });
    expect(await canLogin('app_b')).toBe(false);
    expect((await runtime.source('platform').getLatestProperties('db-cred'))!.version).toBe(latest.version);
  });

  it('rotates to the other role, keeps both usable until the target converged, then locks the old one', async () => {
    const first = await runtime.source('platform').getLatestProperties('db-cred');
    const firstRef = { sourceId: 'platform', vaultUrl: keyVault.vaultUrls['platform']!, name: 'db-cred', version: first!.version };
    expect(await relay(firstRef)).toEqual(['Created']);
    expect(await activities.checkRotationConvergence({ ref: firstRef })).toEqual({ checked: 1, converged: true, pending: [] });
    const oldValue = await sourceValue(firstRef);

    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-cred', rotationId: 'rot-3' });
    expect(result).toMatchObject({ ok: true, reused: false, slot: 'app_b', previousSlot: 'app_a' });
    if (!result.ok) return;
    const newValue = await sourceValue(result.ref);
    expect(await login(newValue)).toBe('app_b');
    expect(await login(oldValue)).toBe('app_a');

    const pending = await activities.checkRotationConvergence({ ref: result.ref });
    expect(pending).toEqual({ checked: 1, converged: false, pending: [{ targetId: 'contoso', location: 'contoso:db-cred', held: firstRef.version }] });
    expect(await relay(result.ref)).toEqual(['Updated']);
    expect((await activities.checkRotationConvergence({ ref: result.ref })).converged).toBe(true);

    const retire = { sourceId: 'platform', name: 'db-cred', rotationId: 'rot-3', routeId: 'db', slot: 'app_a' };
    expect(await activities.retireRotationSlot(retire)).toEqual({ ok: true, slot: 'app_a' });
    expect(await canLogin('app_a')).toBe(false);
    expect(await login(oldValue)).toBe('failed:28000');
    expect(await login(newValue)).toBe('app_b');
    // Retiring again is harmless.
    expect(await activities.retireRotationSlot(retire)).toEqual({ ok: true, slot: 'app_a' });
  });

  it('refuses a secret whose version has no relay-slot tag, naming the slots', async () => {
    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-untagged', rotationId: 'rot-4' });
    expect(result).toMatchObject({ ok: false, step: 'precheck', reason: 'slot-tag-missing' });
    expect(!result.ok && result.message).toContain('app_a or app_b');
  });

  it('publishes nothing when the owner refuses: a missing role, a wrong admin password', async () => {
    const missing = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-missing', rotationId: 'rot-5' });
    expect(missing).toMatchObject({ ok: false, step: 'owner', status: 'FailedValidation', reason: 'slot-role-missing' });
    expect(await runtime.source('platform').getLatestProperties('db-missing')).toBeUndefined();

    const wrong = await activities.rotateAtOwner({ sourceId: 'platform', name: 'db-wrong', rotationId: 'rot-6' });
    expect(wrong).toMatchObject({ ok: false, step: 'owner', status: 'FailedAccessDenied', reason: 'login-refused' });
    expect(!wrong.ok && wrong.message).not.toContain(server.adminPassword);
    expect(await runtime.source('platform').getLatestProperties('db-wrong')).toBeUndefined();
    expect(await canLogin('app_c')).toBe(false);
  });
});
