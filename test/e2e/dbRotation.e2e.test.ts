import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDbRotationDemo } from '../../local/dbRotationDemo.js';
import { DEMO_DB, postgresUnavailableReason } from '../../local/postgres.js';
import { createAuditLog } from '../../shared/audit/index.js';
import { startE2E, type E2E } from './support.js';

// The demo database credential on the local stack (docs/rotation.md): a real PostgreSQL server, the demo config's
// `orders-db` route (postgres rotator, two login roles) to the contoso vault and the edge-1 cluster.

const unavailable = postgresUnavailableReason();
if (unavailable) console.warn(`skipping the database rotation end-to-end tests: ${unavailable}`);

let e2e: E2E;
let templateDir: string;
const WAIT = 60_000;
const GRACE_SECRET = 'orders-grace-credential';

/** The demo config plus a route whose retirement waits a grace period (roles grace_a / grace_b). */
function configTemplate(): string {
  const demo = JSON.parse(readFileSync(new URL('../../local/demo.config.json', import.meta.url), 'utf8'));
  const route = demo.routes.find((r: { id: string }) => r.id === 'orders-db');
  demo.routes.push({
    ...route,
    id: 'orders-grace',
    match: { names: [GRACE_SECRET] },
    targets: [{ target: 'contoso', name: '{name}' }],
    rotation: { ...route.rotation, rotator: { ...route.rotation.rotator, roles: ['grace_a', 'grace_b'] }, retirement: { rule: 'grace', graceMinutes: 2 } },
  });
  templateDir = mkdtempSync(join(tmpdir(), 'relay-db-e2e-'));
  const path = join(templateDir, 'config.json');
  writeFileSync(path, JSON.stringify(demo));
  return path;
}

async function auditRecords() {
  const container = BlobServiceClient.fromConnectionString(e2e.stack.info.storage.connectionString).getContainerClient('audit');
  return (await createAuditLog({ containerClient: container }).query({ secret: DEMO_DB.credentialSecret })).records;
}

async function canLogin(role: string): Promise<boolean> {
  const rows = await e2e.stack.postgres!.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [role]);
  return rows.rows[0]?.rolcanlogin === true;
}

async function contosoCredential(): Promise<{ username: string; password: string; version: string }> {
  const secret = await e2e.vault('contoso').getSecret(DEMO_DB.credentialSecret);
  e2e.remember(JSON.parse(secret.value!).password);
  return { ...JSON.parse(secret.value!), version: secret.properties.tags?.['relay-source-version'] ?? '' };
}

describe.skipIf(unavailable !== undefined)('rotating the demo database credential', () => {
  beforeAll(async () => {
    e2e = await startE2E({ configTemplate: configTemplate() });
    // The stack publishes the first version (slot orders_app_blue); the relay delivers it like any other.
    const deadline = Date.now() + WAIT;
    while (!(await e2e.vault('contoso').getSecret(DEMO_DB.credentialSecret).catch(() => undefined))) {
      if (Date.now() > deadline) throw new Error('the first version of the demo credential never reached contoso');
      await new Promise((r) => setTimeout(r, 200));
    }
    await contosoCredential();
  });

  afterAll(async () => {
    await e2e?.close();
    if (templateDir) rmSync(templateDir, { recursive: true, force: true });
  });

  it('a client logging in every 100 ms never fails, and the old role is locked only after every target holds the new password', async () => {
    const result = await runDbRotationDemo(e2e.stack.info);
    expect(result.status.runtimeStatus).toBe('Completed');
    expect(result.failures).toEqual([]);
    expect(result.roles).toEqual(['orders_app_blue', 'orders_app_green']);
    expect(result.status.slot).toBe('orders_app_green');
    expect(result.status.retirement).toEqual({ outcome: 'retired', slot: 'orders_app_blue' });

    expect(await canLogin('orders_app_blue')).toBe(false);
    expect(await canLogin('orders_app_green')).toBe(true);
    const held = await contosoCredential();
    expect(held.username).toBe('orders_app_green');
    const k8s = await e2e.core.readNamespacedSecret({ name: 'orders-db', namespace: 'apps' });
    const k8sValue = JSON.parse(Buffer.from(k8s.data!['credential']!, 'base64').toString('utf8'));
    expect(k8sValue).toMatchObject({ username: 'orders_app_green', password: held.password });

    // Audit order: both targets received the new version before the previous slot was retired.
    const records = (await auditRecords()).filter((r) => r.source?.version === held.version);
    const rotate = (reason: string) => records.find((r) => r.action === 'rotate' && r.reason === reason);
    const deliveries = records.filter((r) => r.action === 'deliver');
    expect(deliveries.map((r) => `${r.target?.id} ${r.status}`).sort()).toEqual(['contoso Updated', 'edge-1-apps Updated']);
    expect(rotate('postgres-slot-set')?.status).toBe('Rotated');
    expect(rotate('new-version-written')?.status).toBe('Rotated');
    const retired = rotate('previous-slot-retired');
    expect(retired?.status).toBe('Rotated');
    for (const delivery of deliveries) expect(Date.parse(retired!.time)).toBeGreaterThanOrEqual(Date.parse(delivery.time));
  });

  it('a rotation whose relay fails keeps the old role usable and says so in the audit', async () => {
    const before = await contosoCredential();
    e2e.stack.keyVault.addFault({ vault: 'contoso', operation: 'setSecret', effect: { kind: 'forbidden' } });
    try {
      const started = await e2e.call('POST', '/rotations', { source: 'platform', name: DEMO_DB.credentialSecret, mode: 'rotate' });
      expect(started.status).toBe(202);
      const done = await e2e.stack.host.waitForInstance(started.json.id, WAIT);
      expect(done.runtimeStatus).toBe('Completed');
      const status = await e2e.call('GET', `/rotations/${encodeURIComponent(started.json.id)}`);
      expect(status.json.slot).toBe('orders_app_blue');
      expect(status.json.retirement).toMatchObject({ outcome: 'kept', slot: 'orders_app_green', reason: 'previous-slot-kept' });
    } finally {
      e2e.stack.keyVault.clearFaults();
    }
    // contoso still holds the previous credential, and it still logs in.
    const held = await contosoCredential();
    expect(held.username).toBe('orders_app_green');
    expect(held.password).toBe(before.password);
    expect(await canLogin('orders_app_green')).toBe(true);
    const session = new pg.Client({ ...e2e.stack.info.postgres!, user: held.username, password: held.password });
    await session.connect();
    await session.end();

    const kept = (await auditRecords()).find((r) => r.action === 'rotate' && r.reason === 'previous-slot-kept');
    expect(kept?.status).toBe('RotationFailed');
    expect(kept?.error?.message).toMatch(/previous slot "orders_app_green" kept usable: the relay failed for 1 of 2 targets \(.*FailedAccessDenied/);
  });

  it('refuses the next rotation while a target lags, and rotates again once it is repaired', async () => {
    // contoso still holds the previous version: rotating now would change the role its consumers use.
    const refused = await e2e.call('POST', '/rotations', { source: 'platform', name: DEMO_DB.credentialSecret, mode: 'rotate' });
    expect((await e2e.stack.host.waitForInstance(refused.json.id, WAIT)).runtimeStatus).toBe('Completed');
    const refusal = await e2e.call('GET', `/rotations/${encodeURIComponent(refused.json.id)}`);
    expect(refusal.json.failure).toMatchObject({ reason: 'previous-version-not-converged' });
    expect(refusal.json.failure.message).toContain('contoso:orders-db-credential');
    expect(await canLogin('orders_app_green')).toBe(true);

    // Repair contoso (a manual relay of the current version); the next rotation goes through and retires blue.
    const repair = await e2e.call('POST', '/rotations', { source: 'platform', name: DEMO_DB.credentialSecret, mode: 'relay' });
    expect((await e2e.stack.host.waitForInstance(repair.json.id, WAIT)).runtimeStatus).toBe('Completed');
    expect((await contosoCredential()).username).toBe('orders_app_blue');
    const again = await e2e.call('POST', '/rotations', { source: 'platform', name: DEMO_DB.credentialSecret, mode: 'rotate' });
    expect((await e2e.stack.host.waitForInstance(again.json.id, WAIT)).runtimeStatus).toBe('Completed');
    const status = await e2e.call('GET', `/rotations/${encodeURIComponent(again.json.id)}`);
    expect(status.json).toMatchObject({ slot: 'orders_app_green', retirement: { outcome: 'retired', slot: 'orders_app_blue' } });
    expect(await canLogin('orders_app_blue')).toBe(false);
    expect((await contosoCredential()).username).toBe('orders_app_green');
  });

  it('with the grace rule, waits the grace period after the relay before it checks convergence and retires', async () => {
    for (const role of ['grace_a', 'grace_b']) await e2e.stack.postgres!.query(`CREATE ROLE ${role} NOLOGIN IN ROLE orders_app`);
    // The first rotation of a new secret starts on the first slot and has nothing to retire.
    const first = await e2e.call('POST', '/rotations', { source: 'platform', name: GRACE_SECRET, mode: 'rotate' });
    expect((await e2e.stack.host.waitForInstance(first.json.id, WAIT)).runtimeStatus).toBe('Completed');
    expect((await e2e.call('GET', `/rotations/${encodeURIComponent(first.json.id)}`)).json).toMatchObject({ slot: 'grace_a', retirement: { outcome: 'none' } });

    const second = await e2e.call('POST', '/rotations', { source: 'platform', name: GRACE_SECRET, mode: 'rotate' });
    const done = await e2e.stack.host.waitForInstance(second.json.id, WAIT);
    expect(done.runtimeStatus).toBe('Completed');
    expect((await e2e.call('GET', `/rotations/${encodeURIComponent(second.json.id)}`)).json).toMatchObject({ slot: 'grace_b', retirement: { outcome: 'retired', slot: 'grace_a' } });
    // In history order: the relay sub-orchestration completed, the grace timer fired, then the check and the retirement ran.
    const order = done.history
      .map((event) => {
        const e = event as unknown as { EventType: number; Name?: string };
        return e.EventType === 8 ? 'relay-completed' : e.EventType === 11 ? 'timer-fired' : e.EventType === 4 ? e.Name : undefined;
      })
      .filter((step) => step === 'relay-completed' || step === 'timer-fired' || step === 'checkRotationConvergence' || step === 'retireRotationSlot');
    // (A retry timer may come before the relay completes: the version's own event can hold the relay id a moment.)
    expect(order.slice(order.lastIndexOf('relay-completed'))).toEqual(['relay-completed', 'timer-fired', 'checkRotationConvergence', 'retireRotationSlot']);
    expect(await canLogin('grace_a')).toBe(false);
    expect(await canLogin('grace_b')).toBe(true);
  });

  it('no password appears in logs, HTTP responses, durable history or any blob', async () => {
    for (const name of [DEMO_DB.credentialSecret, GRACE_SECRET]) {
      for await (const version of e2e.vault('platform').listPropertiesOfSecretVersions(name)) {
        e2e.remember(JSON.parse((await e2e.vault('platform').getSecret(name, { version: version.version! })).value!).password);
      }
    }
    e2e.remember((await e2e.vault('platform').getSecret(DEMO_DB.adminPasswordSecret)).value!);
    const scan = await e2e.scanForLeaks();
    expect(scan.scanned.durableFiles).toBeGreaterThan(0);
    expect(scan.leaks).toEqual([]);
  });
});
