import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../shared/audit/index.js';
import { BlobServiceClient } from '@azure/storage-blob';
import { relayInstanceId } from '../../shared/orchestrations/names.js';
import { newValue, newVersionEvent, startE2E, versionsOf, type E2E } from './support.js';

// End to end through the local host's real URLs: the Key Vault emulator posts real Event Grid events to the host's
// webhook, the app runs on the real durable-functions replay code, and the tests look at the targets with the
// emulators' real clients (SecretClient, @kubernetes/client-node) and at the audit blobs in Azurite.

let e2e: E2E;
const accepted = (status: number) => status >= 200 && status <= 204;
const WAIT = 60_000;

beforeAll(async () => {
  e2e = await startE2E();
});

afterAll(async () => {
  await e2e?.close();
});

async function setSource(name: string, label: string): Promise<{ version: string; value: string }> {
  const value = e2e.remember(newValue(label));
  const secret = await e2e.vault('platform').setSecret(name, value);
  return { version: secret.properties.version!, value };
}

async function relayed(name: string, version: string) {
  return e2e.stack.host.waitForInstance(relayInstanceId('platform', name, version), WAIT);
}

async function k8sSecret(name: string) {
  return e2e.core.readNamespacedSecret({ name, namespace: 'apps' });
}

function decoded(data: Record<string, string> | undefined, key: string): string | undefined {
  const raw = data?.[key];
  return raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8');
}

async function auditRecords(secret: string) {
  const container = BlobServiceClient.fromConnectionString(e2e.stack.info.storage.connectionString).getContainerClient('audit');
  return (await createAuditLog({ containerClient: container }).query({ secret })).records;
}

describe('a new source version', () => {
  it('reaches every target, each holding the value with relay ownership marks, and is audited', async () => {
    const { version, value } = await setSource('app-alpha', 'alpha');
    const run = await relayed('app-alpha', version);
    expect(run.runtimeStatus).toBe('Completed');

    for (const [vault, name] of [['contoso', 'app-alpha'], ['fabrikam', 'fabrikam--app-alpha']] as const) {
      const secret = await e2e.vault(vault).getSecret(name);
      expect(secret.value).toBe(value);
      expect(secret.properties.tags).toMatchObject({ 'managed-by': 'secret-relay', 'relay-source-version': version });
      expect(secret.properties.tags?.['relay-fingerprint']).toMatch(/^hmac-sha256:/);
    }
    const k8s = await k8sSecret('app-alpha');
    expect(decoded(k8s.data, 'value')).toBe(value);
    expect(k8s.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('secret-relay');
    expect(k8s.metadata?.annotations?.['secret-relay.io/source-version']).toBe(version);
    const deployment = await e2e.apps.readNamespacedDeployment({ name: 'api', namespace: 'apps' });
    expect(deployment.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeTruthy();

    const status = await e2e.call('GET', '/secrets/platform/app-alpha');
    expect(status.status).toBe(200);
    expect(status.json.targets).toHaveLength(3);
    expect(status.json.targets.every((t: { inSync: boolean }) => t.inSync)).toBe(true);

    const records = await auditRecords('app-alpha');
    const deliveries = records.filter((r) => r.action === 'deliver' && r.source?.version === version);
    expect(deliveries.map((r) => r.target?.id).sort()).toEqual(['contoso', 'edge-1-apps', 'fabrikam']);
    expect(deliveries.every((r) => r.status === 'Created' && r.fingerprint?.startsWith('hmac-sha256:'))).toBe(true);
    expect(deliveries.every((r) => r.actor.kind === 'event' && r.cause.eventId)).toBe(true);
  });
});

describe('duplicate and late events', () => {
  it('20 copies of an event write one version per target, and an older version arriving later rolls nothing back', async () => {
    const v1 = await setSource('app-beta', 'beta1');
    await relayed('app-beta', v1.version);
    const v2 = await setSource('app-beta', 'beta2');
    await relayed('app-beta', v2.version);
    const k8sBefore = await k8sSecret('app-beta');

    const platformUrl = e2e.stack.info.keyVault.vaults.platform!;
    const copies = Array.from({ length: 20 }, () => e2e.postEvents('keyVaultEvents', [newVersionEvent(platformUrl, 'app-beta', v2.version, 'dup-1')]));
    // Event Grid counts 200-204 as delivered.
    expect((await Promise.all(copies)).every(accepted)).toBe(true);
    const rerun = await relayed('app-beta', v2.version);
    expect(rerun.runtimeStatus).toBe('Completed');

    // The older version's event, delivered late: its relay completed successfully before, so it is only acknowledged.
    expect(accepted(await e2e.postEvents('keyVaultEvents', [newVersionEvent(platformUrl, 'app-beta', v1.version, 'late-1')]))).toBe(true);
    const duplicates = (await auditRecords('app-beta')).filter((r) => r.action === 'reject-event' && r.status === 'Duplicate');
    expect(duplicates.some((r) => r.cause.eventId === 'late-1' && r.cause.instanceId === relayInstanceId('platform', 'app-beta', v1.version))).toBe(true);
    expect(duplicates.some((r) => r.cause.eventId === 'dup-1')).toBe(true);

    // Exactly one target version per source version, the newest one current everywhere.
    for (const [vault, name] of [['contoso', 'app-beta'], ['fabrikam', 'fabrikam--app-beta']] as const) {
      const versions = await versionsOf(e2e.vault(vault), name);
      expect(versions.map((v) => v.tags['relay-source-version'])).toEqual([v1.version, v2.version]);
      expect((await e2e.vault(vault).getSecret(name)).value).toBe(v2.value);
    }
    const k8sAfter = await k8sSecret('app-beta');
    expect(decoded(k8sAfter.data, 'value')).toBe(v2.value);
    expect(k8sAfter.metadata?.resourceVersion).toBe(k8sBefore.metadata?.resourceVersion);
  });

  it('acknowledges a malformed event, audits it as rejected, and does not retry it', async () => {
    const status = await e2e.postEvents('keyVaultEvents', [
      { id: 'bad-1', eventType: 'Microsoft.KeyVault.SecretNewVersionCreated', subject: 'x', eventTime: new Date().toISOString(), data: { ObjectName: 'app-x' } },
    ]);
    expect(accepted(status)).toBe(true);
    const container = BlobServiceClient.fromConnectionString(e2e.stack.info.storage.connectionString).getContainerClient('audit');
    const rejected = (await createAuditLog({ containerClient: container }).query({ action: 'reject-event' })).records;
    expect(rejected.some((r) => r.cause.eventId === 'bad-1' && r.status === 'Rejected' && r.reason)).toBe(true);
    expect(e2e.logs.some((line) => line.includes('rejected Key Vault event bad-1'))).toBe(true);
  });
});

describe('events the webhook answers without a relay', () => {
  it('starts nothing for a name no route covers, and audits reject-event/Ignored (no-route)', async () => {
    const { version } = await setSource('plain-unrouted', 'unrouted');
    await expect
      .poll(async () => (await auditRecords('plain-unrouted')).map((r) => [r.action, r.status, r.reason, r.source?.version]), { timeout: 20_000 })
      .toEqual([['reject-event', 'Ignored', 'no-route', version]]);
    expect(e2e.stack.host.getInstance(relayInstanceId('platform', 'plain-unrouted', version))).toBeUndefined();
  });

  it('a version carrying a rotation tag ends its event relay as an audited Ignored (written-by-rotation), delivering nothing', async () => {
    const value = e2e.remember(newValue('xi'));
    const written = await e2e.vault('platform').setSecret('app-xi', value, { tags: { 'relay-rotation': 'rotate:platform:app-xi:elsewhere' } });
    const run = await relayed('app-xi', written.properties.version!);
    expect(run.runtimeStatus).toBe('Completed');
    expect(run.output).toMatchObject({ planned: 0, ok: true, ignored: { reason: 'written-by-rotation' } });
    const records = await auditRecords('app-xi');
    expect(records.map((r) => [r.action, r.status, r.reason])).toEqual([['reject-event', 'Ignored', 'written-by-rotation']]);
    await expect(e2e.vault('contoso').getSecret('app-xi')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('manual rotation over HTTP', () => {
  it('generates a value, writes a new source version with the policy expiry, relays it once, and reports per-target outcomes', async () => {
    const started = await e2e.call('POST', '/rotations', { source: 'platform', name: 'app-gamma', mode: 'rotate' });
    expect(started.status).toBe(202);
    expect(started.json.statusUrl).toContain('/api/rotations/');
    // The caller sent a function key: the answer carries no other key (no durable management URLs with code=).
    expect(JSON.stringify(started.json)).not.toMatch(/code=|durabletask/);
    expect(JSON.stringify(started.json)).not.toContain(e2e.stack.info.functions.durableTaskKey);
    const id = started.json.id as string;
    const done = await e2e.stack.host.waitForInstance(id, WAIT);
    expect(done.runtimeStatus).toBe('Completed');

    const status = await e2e.call('GET', `/rotations/${encodeURIComponent(id)}`);
    expect(status.json.runtimeStatus).toBe('Completed');
    expect(status.json.outcomes.map((o: { status: string }) => o.status)).toEqual(['Created', 'Created', 'Created']);

    const source = await e2e.vault('platform').getSecret('app-gamma');
    e2e.remember(source.value!);
    const days = (source.properties.expiresOn!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
    expect((await e2e.vault('contoso').getSecret('app-gamma')).value).toBe(source.value);
    expect(decoded((await k8sSecret('app-gamma')).data, 'value')).toBe(source.value);

    // The Key Vault event caused by the rotation's own write did not start a second relay.
    const relay = e2e.stack.host.getInstance(relayInstanceId('platform', 'app-gamma', source.properties.version!));
    expect(relay?.parentInstanceId).toBe(id);
    await expect.poll(() => e2e.logs.some((l) => l.includes(`app-gamma@${source.properties.version}: written by rotation`))).toBe(true);
    expect((await versionsOf(e2e.vault('contoso'), 'app-gamma'))).toHaveLength(1);
  });

  it('refuses a rotation restricted with targets, and a relay naming a target the secret is not routed to, with 400 naming targets', async () => {
    const rotate = await e2e.call('POST', '/rotations', { source: 'platform', name: 'app-gamma', mode: 'rotate', targets: ['contoso'] });
    expect(rotate.status).toBe(400);
    expect(rotate.json.message).toContain('$.targets');
    const unknown = await e2e.call('POST', '/rotations', { source: 'platform', name: 'app-gamma', mode: 'relay', targets: ['nowhere'] });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toContain('$.targets');
  });

  it('a burst of 503s on the source write delays a rotation but does not lose it', async () => {
    // More 503s than the SDK's own retries absorb: the first attempt of the activity fails, the orchestration retries it.
    e2e.stack.keyVault.addFault({ vault: 'platform', operation: 'setSecret', times: 5, effect: { kind: 'error', error: { status: 503, code: 'ServiceUnavailable' } } });
    try {
      const started = await e2e.call('POST', '/rotations', { source: 'platform', name: 'app-iota', mode: 'rotate' });
      expect(started.status).toBe(202);
      const done = await e2e.stack.host.waitForInstance(started.json.id, WAIT);
      expect(done.runtimeStatus).toBe('Completed');
      expect(e2e.stack.keyVault.listFaults()).toHaveLength(0);
      const status = await e2e.call('GET', `/rotations/${encodeURIComponent(started.json.id)}`);
      expect(status.json).toMatchObject({ ok: true, result: 'succeeded' });
      const source = await e2e.vault('platform').getSecret('app-iota');
      e2e.remember(source.value!);
      expect((await e2e.vault('contoso').getSecret('app-iota')).value).toBe(source.value);
      const rotations = (await auditRecords('app-iota')).filter((r) => r.action === 'rotate');
      expect(rotations.map((r) => r.status)).toEqual(['Rotated']);
    } finally {
      e2e.stack.keyVault.clearFaults();
    }
  });

  it('records the key the caller presented as the actor, not a forged App Service principal header', async () => {
    const response = await fetch(`${e2e.stack.info.functions.baseUrl}/api/rotations`, {
      method: 'POST',
      headers: { 'x-functions-key': e2e.stack.info.functions.key, 'x-ms-client-principal-name': 'ceo@contoso.com', 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'platform', name: 'app-gamma', mode: 'rotate' }),
    });
    expect(response.status).toBe(202);
    const id = ((await response.json()) as { id: string }).id;
    expect((await e2e.stack.host.waitForInstance(id, WAIT)).runtimeStatus).toBe('Completed');
    const source = await e2e.vault('platform').getSecret('app-gamma');
    e2e.remember(source.value!);
    const container = BlobServiceClient.fromConnectionString(e2e.stack.info.storage.connectionString).getContainerClient('audit');
    const records = (await createAuditLog({ containerClient: container }).query({ secret: 'app-gamma', action: 'rotate' })).records;
    const mine = records.filter((record) => record.cause.instanceId === id);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((record) => record.actor.kind === 'operator' && /^function-key:[0-9a-f]{12}$/.test(record.actor.id))).toBe(true);
  });

  it('answers 400 naming the problem for an invalid body', async () => {
    const answer = await e2e.call('POST', '/rotations', { source: 'platform', mode: 'spin' });
    expect(answer.status).toBe(400);
    expect(answer.json.message).toContain('$.name');
    expect(answer.json.message).toContain('$.mode');
  });
});

describe('reconciliation', () => {
  it('repairs targets changed behind the relay’s back and leaves the others untouched', async () => {
    const { version, value } = await setSource('app-delta', 'delta');
    await relayed('app-delta', version);

    // Behind the relay's back: a foreign writer puts a new version in contoso, and someone edits the cluster Secret.
    await e2e.vault('contoso').setSecret('app-delta', e2e.remember(newValue('tampered')));
    const edited = await k8sSecret('app-delta');
    await e2e.core.replaceNamespacedSecret({
      name: 'app-delta',
      namespace: 'apps',
      body: { ...edited, data: { ...edited.data, value: Buffer.from(e2e.remember(newValue('edited'))).toString('base64') } },
    });
    const fabrikamBefore = await versionsOf(e2e.vault('fabrikam'), 'fabrikam--app-delta');
    const alphaBefore = await versionsOf(e2e.vault('contoso'), 'app-alpha');
    const k8sAlphaBefore = (await k8sSecret('app-alpha')).metadata?.resourceVersion;

    await e2e.stack.host.invokeTimer('reconcileTimer');
    const run = await e2e.stack.host.waitForInstance('reconcile', WAIT);
    expect(run.runtimeStatus).toBe('Completed');
    const report = run.output as { drift: { ref: { name: string }; targetId: string; drift: string }[]; reportBlob: string };
    const deltaDrift = report.drift.filter((d) => d.ref.name === 'app-delta').map((d) => `${d.targetId}:${d.drift}`).sort();
    expect(deltaDrift).toEqual(['contoso:foreign-overwrite', 'edge-1-apps:value']);

    expect((await e2e.vault('contoso').getSecret('app-delta')).value).toBe(value);
    expect(decoded((await k8sSecret('app-delta')).data, 'value')).toBe(value);
    expect(await versionsOf(e2e.vault('fabrikam'), 'fabrikam--app-delta')).toEqual(fabrikamBefore);
    expect(await versionsOf(e2e.vault('contoso'), 'app-alpha')).toEqual(alphaBefore);
    expect((await k8sSecret('app-alpha')).metadata?.resourceVersion).toBe(k8sAlphaBefore);

    const [container, ...path] = report.reportBlob.split('/');
    const blob = BlobServiceClient.fromConnectionString(e2e.stack.info.storage.connectionString)
      .getContainerClient(container!)
      .getBlobClient(path.join('/'));
    const saved = JSON.parse((await blob.downloadToBuffer()).toString('utf8'));
    expect(saved.drift.length).toBe(report.drift.length);
    const drift = (await auditRecords('app-delta')).filter((r) => r.action === 'drift');
    expect(drift.map((r) => r.target?.id).sort()).toEqual(['contoso', 'edge-1-apps']);
  });

  it('reads metadata only and writes nothing when every target is in sync', async () => {
    e2e.stack.keyVault.resetCounters();
    await e2e.stack.host.invokeTimer('reconcileTimer');
    const run = await e2e.stack.host.waitForInstance('reconcile', WAIT);
    expect(run.runtimeStatus).toBe('Completed');
    const report = run.output as { drift: unknown[]; checkedTargets: number };
    expect(report.checkedTargets).toBeGreaterThan(5);
    expect(report.drift).toEqual([]);
    for (const vault of ['contoso', 'fabrikam']) {
      const c = e2e.stack.keyVault.counters(vault);
      // List pages only: no per-secret version listing, no value read, no write.
      expect(c.listSecrets).toBeGreaterThan(0);
      expect({ vault, listSecretVersions: c.listSecretVersions, getSecret: c.getSecret, setSecret: c.setSecret }).toEqual({ vault, listSecretVersions: 0, getSecret: 0, setSecret: 0 });
    }
    // The source is read for values only to settle which version is current when its two newest versions were
    // created in the same second (Key Vault times have 1-second resolution); the tests create such ties quickly.
    let tied = 0;
    for await (const secret of e2e.vault('platform').listPropertiesOfSecrets()) {
      if (!secret.name.startsWith('app-')) continue;
      const times: number[] = [];
      for await (const v of e2e.vault('platform').listPropertiesOfSecretVersions(secret.name)) times.push(Math.floor(v.createdOn!.getTime() / 1000));
      times.sort((a, b) => b - a);
      if (times.length > 1 && times[0] === times[1]) tied++;
    }
    const platform = e2e.stack.keyVault.counters('platform');
    expect(platform.setSecret).toBe(0);
    expect(platform.getSecret).toBeLessThanOrEqual(2 * tied);
  });
});

describe('two relays of one secret', () => {
  it('never roll a target back: v2 then v1 20 ms later, with 300 ms latency on the targets\' setSecret', async () => {
    const names = ['app-race-a', 'app-race-b', 'app-race-c'];
    const platformUrl = e2e.stack.info.keyVault.vaults.platform!;
    // Both versions exist before any event (created without events, usually in the same second).
    const created = names.map((name) => {
      const v1 = e2e.remember(newValue('race1'));
      const v2 = e2e.remember(newValue('race2'));
      const first = e2e.stack.keyVault.createSecret('platform', name, v1, { emitEvent: false });
      const second = e2e.stack.keyVault.createSecret('platform', name, v2, { emitEvent: false });
      return { name, v1: { version: first.version, value: v1 }, v2: { version: second.version, value: v2 } };
    });
    for (const vault of ['contoso', 'fabrikam']) {
      e2e.stack.keyVault.addFault({ vault, operation: 'setSecret', effect: { kind: 'latency', latencyInMs: 300 } });
    }
    try {
      await Promise.all(
        created.map(async ({ name, v1, v2 }, i) => {
          expect(accepted(await e2e.postEvents('keyVaultEvents', [newVersionEvent(platformUrl, name, v2.version, `race-${i}-v2`)]))).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 20));
          expect(accepted(await e2e.postEvents('keyVaultEvents', [newVersionEvent(platformUrl, name, v1.version, `race-${i}-v1`)]))).toBe(true);
        }),
      );
      for (const { name, v1, v2 } of created) {
        await relayed(name, v2.version);
        await relayed(name, v1.version);
      }
    } finally {
      e2e.stack.keyVault.clearFaults();
    }
    for (const { name, v2 } of created) {
      for (const [vault, target] of [['contoso', name], ['fabrikam', `fabrikam--${name}`]] as const) {
        expect((await e2e.vault(vault).getSecret(target)).value, `${vault}/${target}`).toBe(v2.value);
      }
      expect(decoded((await k8sSecret(name)).data, 'value')).toBe(v2.value);
      // The status API and a forced relay agree with what the targets hold.
      const status = await e2e.call('GET', `/secrets/platform/${name}`);
      expect(status.json.targets.map((t: { heldVersion: string; inSync: boolean }) => [t.heldVersion, t.inSync])).toEqual([
        [v2.version, true],
        [v2.version, true],
        [v2.version, true],
      ]);
    }
  });
});

describe('failure isolation', () => {
  it('audits each delivery as soon as its outcome is known, not behind the slowest target', async () => {
    // fabrikam answers 503 until the test clears the fault: the relay cannot finish before that, yet contoso's
    // delivery record must already be in the trail.
    e2e.stack.keyVault.addFault({ vault: 'fabrikam', operation: 'setSecret', effect: { kind: 'error', error: { status: 503, code: 'ServiceUnavailable' } } });
    try {
      const { version } = await setSource('app-zeta', 'zeta');
      const relayId = relayInstanceId('platform', 'app-zeta', version);
      await expect
        .poll(async () => (await auditRecords('app-zeta')).some((r) => r.action === 'deliver' && r.target?.id === 'contoso'), { timeout: WAIT, interval: 100 })
        .toBe(true);
      expect(e2e.stack.host.getInstance(relayId)?.runtimeStatus).toBe('Running');
      expect((await auditRecords('app-zeta')).some((r) => r.target?.id === 'fabrikam')).toBe(false);
      e2e.stack.keyVault.clearFaults();
      const done = await relayed('app-zeta', version);
      expect(done.runtimeStatus).toBe('Completed');
      const records = (await auditRecords('app-zeta')).filter((r) => r.action === 'deliver');
      // One record per delivery, none twice.
      expect(records.map((r) => r.target?.id).sort()).toEqual(['contoso', 'edge-1-apps', 'fabrikam']);
    } finally {
      e2e.stack.keyVault.clearFaults();
    }
  });

  it('one target failing does not block the others and is reported with its status', async () => {
    e2e.stack.keyVault.addFault({ vault: 'fabrikam', operation: 'setSecret', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    // contoso answers 503 twice: transient, retried by the orchestration, then delivered.
    e2e.stack.keyVault.addFault({
      vault: 'contoso',
      operation: 'setSecret',
      times: 2,
      effect: { kind: 'error', error: { status: 503, code: 'ServiceUnavailable' } },
    });
    try {
      const { version, value } = await setSource('app-eps', 'eps');
      const run = await relayed('app-eps', version);
      expect(run.runtimeStatus).toBe('Completed');
      const byTarget = Object.fromEntries(
        (run.output as { outcomes: { targetId: string; status: string }[] }).outcomes.map((o) => [o.targetId, o.status]),
      );
      expect(byTarget).toEqual({ contoso: 'Created', fabrikam: 'FailedAccessDenied', 'edge-1-apps': 'Created' });
      expect((await e2e.vault('contoso').getSecret('app-eps')).value).toBe(value);

      const status = await e2e.call('GET', `/rotations/${encodeURIComponent(relayInstanceId('platform', 'app-eps', version))}`);
      expect(status.json.ok).toBe(false);
      // A relay with a failed delivery does not read as a plain success, and the failure carries its hint.
      expect(status.json).toMatchObject({ runtimeStatus: 'Completed', result: 'failed-deliveries', failed: 1 });
      const denied = status.json.outcomes.find((o: { targetId: string }) => o.targetId === 'fabrikam');
      expect(denied.hint).toMatch(/Grant the relay identity write access/);
      expect(status.json.counts).toMatchObject({ Created: 2, FailedAccessDenied: 1 });
      const failed = (await auditRecords('app-eps')).find((r) => r.target?.id === 'fabrikam');
      expect(failed?.status).toBe('FailedAccessDenied');
      // Logged at error level with the hint (never an information line without a message).
      const line = e2e.logs.find((l) => l.includes('fabrikam') && l.includes('FailedAccessDenied') && l.includes('hint:'));
      expect(line).toBeDefined();
      expect(line).toMatch(/Grant the relay identity write access/);
    } finally {
      e2e.stack.keyVault.clearFaults();
    }
  });
});

describe('secrets never leak', () => {
  it('no value used by these tests appears in logs, HTTP responses, durable history or any blob', async () => {
    const { scanned, leaks } = await e2e.scanForLeaks();
    expect(scanned.logs).toBeGreaterThan(20);
    expect(scanned.durableFiles).toBeGreaterThan(5);
    expect(scanned.blobs).toBeGreaterThan(1);
    expect(leaks).toEqual([]);
  });
});
