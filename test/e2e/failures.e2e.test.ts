import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTlsMaterial } from '../../local/kubernetes/tls.js';
import { createAuditLog, type AuditRecord } from '../../shared/audit/index.js';
import { relayInstanceId } from '../../shared/orchestrations/names.js';
import { newValue, newVersionEvent, startE2E, type E2E } from './support.js';

// Failure paths end to end, through the local host's real URLs, with faults injected through the emulators' admin
// APIs: every target that is wrong is named (status API, reconcile report, audit record, warning log), one failing
// target never hides another's drift, and bad input gets a clear answer and a record, never a 500.

let e2e: E2E;
const WAIT = 90_000;

beforeAll(async () => {
  e2e = await startE2E({
    configTemplate: new URL('./failures.config.json', import.meta.url).pathname,
    vaults: ['platform', 'contoso', 'fabrikam', 'northwind'],
    // An unreachable (hung) vault must not stretch the reconciliation: each target check gets 2 s here.
    settings: { RELAY_CHECK_TIME_LIMIT_MS: '2000' },
  });
});

afterAll(async () => {
  if (process.env.DEBUG_E2E) for (const l of e2e.logs.filter((x) => /error|fail/i.test(x)).slice(0, 15)) process.stderr.write(`${l.slice(0, 600)}\n`);
  await e2e?.close();
});

async function setSource(name: string, value = newValue(name)): Promise<{ version: string; value: string }> {
  e2e.remember(value);
  const secret = await e2e.vault('platform').setSecret(name, value);
  const version = secret.properties.version!;
  const run = await e2e.stack.host.waitForInstance(relayInstanceId('platform', name, version), WAIT);
  expect(run.runtimeStatus).toBe('Completed');
  return { version, value };
}

async function audit(filter: { secret?: string; action?: AuditRecord['action'] }): Promise<AuditRecord[]> {
  const container = BlobServiceClient.fromConnectionString(e2e.stack.info.storage.connectionString).getContainerClient('audit');
  return (await createAuditLog({ containerClient: container }).query(filter)).records;
}

async function reconcileRun() {
  await e2e.stack.host.invokeTimer('reconcileTimer');
  const run = await e2e.stack.host.waitForInstance('reconcile', WAIT);
  expect(run.runtimeStatus).toBe('Completed');
  return run.output as {
    drift: { ref: { name: string }; targetId: string; drift: string; reason?: string }[];
    checkFailed: number;
    repairs: { ref: { name: string }; summary: { outcomes: { targetId: string; status: string }[] } }[];
  };
}

type TargetStatus = { targetId: string; inSync: boolean; drift?: string; hint?: string; state: string; reason?: string };
const byTarget = (targets: TargetStatus[]) => Object.fromEntries(targets.map((t) => [t.targetId, t]));

describe('reconciliation with failing targets and changed sources', () => {
  it('checks and reports each target on its own, repairs what it can and names every state', async () => {
    const one = await setSource('app-one');
    const off = await setSource('app-off');
    const gone = await setSource('app-gone');
    const dis = await setSource('app-dis');
    const tls = createTlsMaterial({ commonName: 'web.example' });
    await setSource('web-tls', `${tls.certPem}${tls.keyPem}`);
    await setSource('registry-pull', JSON.stringify({ auths: { 'registry.example': { auth: Buffer.from(`u:${newValue('pw')}`).toString('base64') } } }));

    // Behind the relay's back: a foreign writer overwrites contoso's copy of app-one; the source's current version of
    // app-off is disabled; app-gone is deleted in the source; a customer disables the relay's version in contoso.
    await e2e.vault('contoso').setSecret('app-one', e2e.remember(newValue('foreign')));
    await e2e.vault('platform').updateSecretProperties('app-off', off.version, { enabled: false });
    await (await e2e.vault('platform').beginDeleteSecret('app-gone')).pollUntilDone();
    const disabledCopy = (await e2e.vault('contoso').getSecret('app-dis')).properties.version!;
    await e2e.vault('contoso').updateSecretProperties('app-dis', disabledCopy, { enabled: false });
    // fabrikam refuses the relay (403); northwind hangs (an unreachable vault). Reconciliation reads targets by list
    // pages (`GET /secrets`), so that is where the faults go.
    e2e.stack.keyVault.addFault({ vault: 'fabrikam', operation: 'listSecrets', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    e2e.stack.keyVault.addFault({ vault: 'northwind', operation: 'listSecrets', effect: { kind: 'latency', latencyInMs: 600_000 } });
    let report;
    try {
      report = await reconcileRun();
    } finally {
      e2e.stack.keyVault.clearFaults();
    }

    const findings = (name: string) =>
      Object.fromEntries(report.drift.filter((d) => d.ref.name === name).map((d) => [d.targetId, d.reason ? `${d.drift}:${d.reason}` : d.drift]));
    expect(findings('app-one')).toEqual({ contoso: 'foreign-overwrite', fabrikam: 'check-failed:access-denied', northwind: 'check-failed:timeout' });
    expect(findings('app-off')).toMatchObject({ contoso: 'source-disabled', 'edge-1-apps': 'source-disabled' });
    expect(findings('app-gone')).toMatchObject({ contoso: 'source-deleted', 'edge-1-apps': 'source-deleted' });
    expect(findings('app-dis')).toMatchObject({ contoso: 'target-disabled' });
    // Typed Secrets are observed with their configured type: in sync, so not "repaired" on every run.
    expect(findings('web-tls')).toEqual({});
    expect(findings('registry-pull')).toEqual({});

    // The overwritten copy was repaired although two other targets of the same secret could not be checked.
    expect((await e2e.vault('contoso').getSecret('app-one')).value).toBe(one.value);
    expect(report.repairs.map((r) => r.ref.name)).toEqual(['app-one']);
    // Copies of a disabled or deleted source are kept.
    expect((await e2e.vault('contoso').getSecret('app-off')).value).toBe(off.value);
    expect((await e2e.vault('contoso').getSecret('app-gone')).value).toBe(gone.value);

    const drift = (await audit({ secret: 'app-one' })).filter((r) => r.action === 'drift');
    expect(Object.fromEntries(drift.map((r) => [r.target?.id, `${r.status}:${r.reason}`]))).toEqual({
      contoso: 'Drifted:foreign-overwrite',
      fabrikam: 'CheckFailed:access-denied',
      northwind: 'CheckFailed:timeout',
    });
    expect(drift.find((r) => r.target?.id === 'fabrikam')?.error?.message).toContain('403');
    expect((await audit({ secret: 'app-off' })).some((r) => r.action === 'drift' && r.reason === 'source-disabled')).toBe(true);
    expect((await audit({ secret: 'app-gone' })).some((r) => r.action === 'drift' && r.reason === 'source-deleted')).toBe(true);
    expect((await audit({ secret: 'app-dis' })).some((r) => r.action === 'drift' && r.reason === 'target-disabled')).toBe(true);
    const runs = (await audit({ action: 'reconcile' })).map((r) => `${r.status}${r.reason ? `:${r.reason}` : ''}`);
    expect(runs).toEqual(['ReconcileStarted', 'ReconcileCompleted:checks-failed']);
    expect(e2e.logs.some((l) => l.startsWith('[warn]') && l.includes('app-off') && l.includes('disabled'))).toBe(true);
    expect(e2e.logs.some((l) => l.startsWith('[warn]') && l.includes('northwind') && l.includes('timeout'))).toBe(true);

    const offStatus = await e2e.call('GET', '/secrets/platform/app-off');
    expect(offStatus.status).toBe(200);
    expect(offStatus.json.sourceState).toBe('disabled');
    expect(byTarget(offStatus.json.targets).contoso).toMatchObject({ inSync: false, drift: 'source-disabled', hint: expect.any(String) });
    const goneStatus = await e2e.call('GET', '/secrets/platform/app-gone');
    expect(goneStatus.status).toBe(200);
    expect(goneStatus.json.sourceState).toBe('deleted');
    expect(byTarget(goneStatus.json.targets).contoso).toMatchObject({ inSync: false, drift: 'source-deleted' });
    const disStatus = await e2e.call('GET', '/secrets/platform/app-dis');
    expect(byTarget(disStatus.json.targets).contoso).toMatchObject({ inSync: false, drift: 'target-disabled', hint: expect.stringContaining('enable') });
    for (const name of ['web-tls', 'registry-pull']) {
      const typed = await e2e.call('GET', `/secrets/platform/${name}`);
      expect(typed.json.targets.map((t: TargetStatus) => [t.targetId, t.inSync])).toEqual([['edge-1-apps', true]]);
    }
  });

  it('names an immutable Kubernetes Secret with a real hint instead of failing validation', async () => {
    await setSource('frozen-config');
    const secret = await e2e.core.readNamespacedSecret({ name: 'frozen-config', namespace: 'apps' });
    await e2e.core.replaceNamespacedSecret({ name: 'frozen-config', namespace: 'apps', body: { ...secret, immutable: true } });
    const value = e2e.remember(newValue('frozen'));
    const written = await e2e.vault('platform').setSecret('frozen-config', value);
    const run = await e2e.stack.host.waitForInstance(relayInstanceId('platform', 'frozen-config', written.properties.version!), WAIT);
    const outcome = (run.output as { outcomes: { status: string; reason: string; message: string }[] }).outcomes[0]!;
    expect(outcome).toMatchObject({ status: 'FailedImmutable', reason: 'immutable' });
    expect(outcome.message).toContain('delete it');
    const status = await e2e.call('GET', '/secrets/platform/frozen-config');
    expect(status.json.targets[0]).toMatchObject({ inSync: false, drift: 'immutable', immutable: true, hint: expect.stringContaining('kubectl delete secret') });
  });
});

describe('a missing Kubernetes namespace', () => {
  it('is its own reason with a hint that names the namespace, not a route problem', async () => {
    const written = await e2e.vault('platform').setSecret('ns-missing', e2e.remember(newValue('ns')));
    const run = await e2e.stack.host.waitForInstance(relayInstanceId('platform', 'ns-missing', written.properties.version!), WAIT);
    const outcome = (run.output as { outcomes: { status: string; reason: string; message: string }[] }).outcomes[0]!;
    expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'namespace-missing' });
    expect(outcome.message).toContain('kubectl create namespace gone');
  });
});

describe('bad input', () => {
  const platformUrl = () => e2e.stack.info.keyVault.vaults.platform!;
  const rejects = async () => (await audit({ action: 'reject-event' })).map((r) => ({ reason: r.reason, eventId: r.cause.eventId }));

  it('acknowledges Key Vault events with a unicode, too long or malformed name, or an id the audit cannot hold, and records each', async () => {
    const version = 'a'.repeat(32);
    const cases = [
      { id: 'evt-unicode', name: 'pässwörd', reason: 'BadObjectName' },
      { id: 'evt-long', name: 'n'.repeat(128), reason: 'BadObjectName' },
    ];
    for (const c of cases) {
      const event = newVersionEvent(platformUrl(), c.name, version, c.id) as { data: { Id: string } };
      event.data.Id = `${platformUrl()}/secrets/${encodeURIComponent(c.name)}/${version}`;
      expect(await e2e.postEvents('keyVaultEvents', [event])).toBe(202);
    }
    const malformed = newVersionEvent(platformUrl(), 'app-x', version, 'evt-percent') as { data: { Id: string; ObjectName?: string } };
    malformed.data.Id = `${platformUrl()}/secrets/%E0%A4%A/${version}`;
    delete malformed.data.ObjectName;
    expect(await e2e.postEvents('keyVaultEvents', [malformed])).toBe(202);

    // A real version, announced by an event whose id has a space: refused before anything is written.
    const hidden = e2e.stack.keyVault.createSecret('platform', 'app-spaced', e2e.remember(newValue('spaced')), { emitEvent: false });
    expect(await e2e.postEvents('keyVaultEvents', [newVersionEvent(platformUrl(), 'app-spaced', hidden.version, 'evt 1')])).toBe(202);

    const recorded = await rejects();
    expect(recorded).toEqual(
      expect.arrayContaining([
        { reason: 'BadObjectName', eventId: 'evt-unicode' },
        { reason: 'BadObjectName', eventId: 'evt-long' },
        { reason: 'BadObjectId', eventId: 'evt-percent' },
        { reason: 'BadId', eventId: null },
      ]),
    );
    expect(e2e.stack.host.getInstance(relayInstanceId('platform', 'app-spaced', hidden.version))).toBeUndefined();
    await expect(e2e.vault('contoso').getSecret('app-spaced')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('records a CredentialRotated event for a secret the source does not have', async () => {
    const event = {
      specversion: '1.0',
      id: 'rot-missing-1',
      source: '/platform/ci',
      type: 'SecretRelay.CredentialRotated',
      time: new Date().toISOString(),
      data: { source: 'platform', name: 'app-never-written' },
    };
    expect(await e2e.postEvents('credentialRotationEvents', [event])).toBe(202);
    expect(await rejects()).toContainEqual({ reason: 'secret-not-found', eventId: 'rot-missing-1' });
  });

  it('answers 400 for a secret name outside Key Vault’s rules and for a malformed percent-encoding', async () => {
    const bad = await e2e.call('GET', `/secrets/platform/${encodeURIComponent('bad_name!')}`);
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/^name: /);
    const response = await fetch(`${e2e.api}/secrets/platform/%E0%A4%A`, { headers: { 'x-functions-key': e2e.stack.info.functions.key } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'InvalidRequest' });
  });

  it('answers a burst of duplicate events and requests without a 500, starting one relay', async () => {
    const hidden = e2e.stack.keyVault.createSecret('platform', 'app-burst', e2e.remember(newValue('burst')), { emitEvent: false });
    const event = newVersionEvent(platformUrl(), 'app-burst', hidden.version, 'evt-burst');
    const statuses = await Promise.all(Array.from({ length: 20 }, () => e2e.postEvents('keyVaultEvents', [event])));
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 202));
    const run = await e2e.stack.host.waitForInstance(relayInstanceId('platform', 'app-burst', hidden.version), WAIT);
    expect(run.runtimeStatus).toBe('Completed');
    const requests = await Promise.all(Array.from({ length: 10 }, () => e2e.call('POST', '/rotations', { source: 'platform', name: 'app-burst', mode: 'relay' })));
    expect(requests.map((r) => r.status).filter((s) => s !== 202 && s !== 409)).toEqual([]);
    expect(e2e.logs.filter((l) => l.includes('Executed with an error'))).toEqual([]);
  });
});

describe('secrets never leak', () => {
  it('no value used by these tests appears in logs, HTTP responses, durable history or any blob', async () => {
    const { leaks } = await e2e.scanForLeaks();
    expect(leaks).toEqual([]);
  });
});
