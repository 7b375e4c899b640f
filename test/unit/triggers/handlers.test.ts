import { describe, expect, it } from 'vitest';
import { handleKeyVaultEvent, handleRotationEvent } from '../../../shared/triggers/index.js';
import { fakeClient, fakeRuntime, kvEvent, PLATFORM, V1, V2 } from './fakes.js';

describe('handleKeyVaultEvent', () => {
  it('starts the relay of a new source version under its deterministic id', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    const handled = await handleKeyVaultEvent(kvEvent('SecretNewVersionCreated', 'db-password', V1), runtime, client);
    expect(handled).toMatchObject({ result: 'started', instanceId: `relay:platform:db-password:${V1}` });
    expect(starts[0]).toMatchObject({ name: 'relaySecretVersion', input: { ref: { sourceId: 'platform', name: 'db-password', version: V1 }, cause: { trigger: 'event', eventId: 'evt-1' } } });
  });

  it('refuses a duplicate while the relay runs, and runs again once it finished', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = kvEvent('SecretNewVersionCreated', 'db-password', V1);
    await handleKeyVaultEvent(event, runtime, client);
    expect((await handleKeyVaultEvent(event, runtime, client)).result).toBe('duplicate');
    finish(`relay:platform:db-password:${V1}`);
    expect((await handleKeyVaultEvent(event, runtime, client)).result).toBe('started');
    expect(starts).toHaveLength(2);
  });

  it('reads nothing from the source on the answer path: a rotation-written version is left to the relay plan', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1, tags: { 'relay-rotation': 'rotate:x' } }] });
    let reads = 0;
    const source = runtime.source;
    (runtime as { source: unknown }).source = (id: string) => {
      const port = source(id);
      return { getVersionProperties: async (n: string, v: string) => (reads += 1, port.getVersionProperties(n, v)) };
    };
    const { client, starts } = fakeClient();
    expect((await handleKeyVaultEvent(kvEvent('SecretNewVersionCreated', 'db-password', V1), runtime, client)).result).toBe('started');
    expect(reads).toBe(0);
    expect(starts).toHaveLength(1);
  });

  it('ignores the event of a version whose rotation already relays it (reject-event/Ignored, written-by-rotation)', async () => {
    const { runtime, logs, audit } = fakeRuntime({ 'db-password': [{ version: V1, tags: { 'relay-rotation': 'rotate:x' } }] });
    const { client, starts } = fakeClient();
    const relayId = `relay:platform:db-password:${V1}`;
    const ref = { sourceId: 'platform', vaultUrl: PLATFORM, name: 'db-password', version: V1 };
    await client.start('relaySecretVersion', relayId, { ref, cause: { actor: { kind: 'system', id: 'rotate:x' }, trigger: 'rotation', parentInstanceId: 'rotate:x' } });
    expect((await handleKeyVaultEvent(kvEvent('SecretNewVersionCreated', 'db-password', V1), runtime, client)).result).toBe('ignored');
    expect(starts).toHaveLength(1);
    expect(logs.join('\n')).toContain(`db-password@${V1}: written by rotation rotate:x`);
    expect(audit).toEqual([expect.objectContaining({ action: 'reject-event', status: 'Ignored', reason: 'written-by-rotation', cause: expect.objectContaining({ eventId: 'evt-1' }) })]);
  });

  it('starts nothing for a name no route covers, and audits it as reject-event/Ignored (no-route)', async () => {
    const { runtime, audit, logs } = fakeRuntime({ 'unrouted-name': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    const handled = await handleKeyVaultEvent(kvEvent('SecretNewVersionCreated', 'unrouted-name', V1), runtime, client);
    expect(handled.result).toBe('ignored');
    expect(starts).toEqual([]);
    expect(audit).toEqual([
      expect.objectContaining({ action: 'reject-event', status: 'Ignored', reason: 'no-route', ref: expect.objectContaining({ name: 'unrouted-name', version: V1 }), cause: expect.objectContaining({ eventId: 'evt-1' }) }),
    ]);
    expect(logs.join('\n')).toContain('no route of source "platform" covers this name');
  });

  it('ignores vaults that are not configured sources, with a log line and a reject-event/Ignored record', async () => {
    const { runtime, logs, audit } = fakeRuntime();
    const { client, starts } = fakeClient();
    const handled = await handleKeyVaultEvent(kvEvent('SecretNewVersionCreated', 'db-password', V1, 'https://contoso.vault.azure.net'), runtime, client);
    expect(handled.result).toBe('ignored');
    expect(starts).toEqual([]);
    expect(audit).toEqual([
      expect.objectContaining({ action: 'reject-event', status: 'Ignored', reason: 'not-a-configured-source', cause: expect.objectContaining({ eventId: 'evt-1' }) }),
    ]);
    expect(logs.join('\n')).toContain('not a configured source');
  });

  it('audits a malformed event as rejected with a named reason and acknowledges it', async () => {
    const { runtime, audit, logs } = fakeRuntime();
    const { client } = fakeClient();
    const bad = { ...kvEvent('SecretNewVersionCreated', 'db-password', V1), data: { ObjectName: 'db-password', Version: 'nope' } };
    const handled = await handleKeyVaultEvent(bad, runtime, client);
    expect(handled.result).toBe('rejected');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'reject-event', status: 'Rejected', cause: { eventId: 'evt-1' } });
    expect(logs[0]).toContain('rejected Key Vault event evt-1');
  });

  it('acknowledges event types it does not act on as reject-event/Ignored, not Rejected', async () => {
    const { runtime, audit } = fakeRuntime();
    const { client } = fakeClient();
    const policy = { ...kvEvent('SecretNewVersionCreated', 'db-password', V1), eventType: 'Microsoft.KeyVault.VaultAccessPolicyChanged' };
    expect((await handleKeyVaultEvent(policy, runtime, client)).result).toBe('ignored');
    expect(audit.map((a) => [a.action, a.status, a.reason])).toEqual([['reject-event', 'Ignored', 'unsupported-event-type']]);
  });

  it('acknowledges a late duplicate of a version whose relay succeeded as reject-event/Duplicate without re-running it', async () => {
    const { runtime, audit } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = kvEvent('SecretNewVersionCreated', 'db-password', V1);
    expect((await handleKeyVaultEvent(event, runtime, client)).result).toBe('started');
    finish(`relay:platform:db-password:${V1}`, { ok: true });
    expect(await handleKeyVaultEvent({ ...event, id: 'evt-2' }, runtime, client)).toMatchObject({ result: 'duplicate', instanceId: `relay:platform:db-password:${V1}` });
    expect(starts).toHaveLength(1);
    expect(audit).toEqual([
      expect.objectContaining({ action: 'reject-event', status: 'Duplicate', reason: 'already-done', instanceId: `relay:platform:db-password:${V1}`, cause: expect.objectContaining({ eventId: 'evt-2' }) }),
    ]);
  });

  it('runs a relay again when its earlier run completed with failed deliveries', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = kvEvent('SecretNewVersionCreated', 'db-password', V1);
    await handleKeyVaultEvent(event, runtime, client);
    finish(`relay:platform:db-password:${V1}`, { ok: false });
    expect((await handleKeyVaultEvent({ ...event, id: 'evt-2' }, runtime, client)).result).toBe('started');
    expect(starts).toHaveLength(2);
  });

  it('rotates on SecretNearExpiry when the route has a rotation policy, once per expiring version', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = kvEvent('SecretNearExpiry', 'db-password', V1);
    expect(await handleKeyVaultEvent(event, runtime, client)).toMatchObject({ result: 'started', instanceId: `rotate:platform:db-password:near-expiry-${V1}` });
    finish(`rotate:platform:db-password:near-expiry-${V1}`);
    expect((await handleKeyVaultEvent(event, runtime, client)).result).toBe('duplicate');
    expect(starts.map((s) => s.name)).toEqual(['rotateCredential']);
  });

  it('a redelivered SecretNearExpiry after a failed rotation starts it again (no already-done for unfinished work)', async () => {
    const { runtime, audit } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = kvEvent('SecretNearExpiry', 'db-password', V1);
    const id = `rotate:platform:db-password:near-expiry-${V1}`;
    await handleKeyVaultEvent(event, runtime, client);
    finish(id, { ok: false }, 'Failed');
    expect(await handleKeyVaultEvent({ ...event, id: 'evt-2' }, runtime, client)).toMatchObject({ result: 'started', instanceId: id });
    expect(starts).toHaveLength(2);
    finish(id, { ok: true });
    expect((await handleKeyVaultEvent({ ...event, id: 'evt-3' }, runtime, client)).result).toBe('duplicate');
    expect(audit.map((a) => [a.action, a.status, a.reason])).toEqual([['reject-event', 'Duplicate', 'already-done']]);
  });

  it('audits SecretNearExpiry with a warning when no route rotates the secret', async () => {
    const { runtime, audit } = fakeRuntime({ 'api-key': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    expect((await handleKeyVaultEvent(kvEvent('SecretNearExpiry', 'api-key', V1), runtime, client)).result).toBe('audited');
    expect(starts).toEqual([]);
    expect(audit[0]).toMatchObject({ action: 'expired', status: 'NearExpiry', reason: 'no-rotation-policy' });
  });

  it('audits SecretExpired and warns', async () => {
    const { runtime, audit, logs } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    expect((await handleKeyVaultEvent(kvEvent('SecretExpired', 'db-password', V1), runtime, client)).result).toBe('audited');
    expect(starts).toEqual([]);
    expect(audit[0]).toMatchObject({ action: 'expired', status: 'Expired' });
    expect(logs.join('\n')).toContain('EXPIRED');
  });
});

describe('handleRotationEvent', () => {
  const cloudEvent = (type: string, data: Record<string, unknown>, id = 'ce-1') => ({ specversion: '1.0', id, source: '/platform/rotator', type, data });

  it('relays the version a platform reports, or the current one', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }, { version: V2 }] });
    const { client, starts } = fakeClient();
    await handleRotationEvent(cloudEvent('SecretRelay.CredentialRotated', { source: 'platform', name: 'db-password', version: V1 }), runtime, client);
    await handleRotationEvent(cloudEvent('SecretRelay.CredentialRotated', { source: 'platform', name: 'db-password' }, 'ce-2'), runtime, client);
    expect(starts.map((s) => s.instanceId)).toEqual([`relay:platform:db-password:${V1}`, `relay:platform:db-password:${V2}`]);
  });

  it('rotates once per RotationRequested event, even when the event comes again after the rotation finished', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = cloudEvent('SecretRelay.RotationRequested', { source: 'platform', name: 'db-password', reason: 'quarterly' });
    const first = await handleRotationEvent(event, runtime, client);
    expect(first).toMatchObject({ result: 'started', instanceId: 'rotate:platform:db-password:event-ce-1' });
    finish(first.instanceId!);
    expect((await handleRotationEvent(event, runtime, client)).result).toBe('duplicate');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.input).toMatchObject({ requestReason: 'quarterly' });
  });

  it('starts a rotation again when its earlier instance failed or was terminated', async () => {
    const { runtime } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts, finish } = fakeClient();
    const event = cloudEvent('SecretRelay.RotationRequested', { source: 'platform', name: 'db-password' });
    const first = await handleRotationEvent(event, runtime, client);
    finish(first.instanceId!, null, 'Failed');
    expect((await handleRotationEvent(event, runtime, client)).result).toBe('started');
    finish(first.instanceId!, null, 'Terminated');
    expect((await handleRotationEvent(event, runtime, client)).result).toBe('started');
    expect(starts).toHaveLength(3);
  });

  it('refuses a RotationRequested restricted with targets (every routed target must get the new version), naming targets', async () => {
    const { runtime, audit } = fakeRuntime({ 'db-password': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    const event = cloudEvent('SecretRelay.RotationRequested', { source: 'platform', name: 'db-password', targets: ['contoso'] });
    const handled = await handleRotationEvent(event, runtime, client);
    expect(handled.result).toBe('rejected');
    expect(handled.detail).toContain('data.targets');
    expect(starts).toEqual([]);
    expect(audit.map((a) => [a.status, a.reason])).toEqual([['Rejected', 'targets-not-allowed']]);
  });

  it('refuses a CredentialRotated whose targets name a target the secret is not routed to', async () => {
    const { runtime, audit } = fakeRuntime({ 'api-key': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    const event = cloudEvent('SecretRelay.CredentialRotated', { source: 'platform', name: 'api-key', targets: ['fabrikam'] });
    expect((await handleRotationEvent(event, runtime, client)).result).toBe('rejected');
    expect(starts).toEqual([]);
    expect(audit.map((a) => a.reason)).toEqual(['unknown-targets']);
  });

  it('rejects an unknown source and a malformed event, auditing both', async () => {
    const { runtime, audit } = fakeRuntime();
    const { client, starts } = fakeClient();
    expect((await handleRotationEvent(cloudEvent('SecretRelay.RotationRequested', { source: 'nowhere', name: 'db-password' }), runtime, client)).result).toBe('rejected');
    expect((await handleRotationEvent({ type: 'SecretRelay.RotationRequested' }, runtime, client)).result).toBe('rejected');
    expect(starts).toEqual([]);
    expect(audit.map((a) => a.reason)).toEqual(['unknown-source', 'invalid']);
  });
});
