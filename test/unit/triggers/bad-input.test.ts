import { describe, expect, it } from 'vitest';
import { buildRecordContent } from '../../../shared/audit/schema.js';
import { toRecordInput } from '../../../shared/composition.js';
import { validateConfig } from '../../../shared/domain/config.js';
import { parseKeyVaultEvent } from '../../../shared/domain/events.js';
import { parseRotationEvent } from '../../../shared/domain/rotationEvents.js';
import { orchestrationClientPort } from '../../../shared/orchestrations/client.js';
import { handleKeyVaultEvent } from '../../../shared/triggers/index.js';
import { fakeClient, fakeRuntime, PLATFORM, V1 } from './fakes.js';

const event = (fields: { id?: string; name?: string; idPath?: string }) => ({
  id: fields.id ?? 'evt-1',
  topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/platform',
  subject: fields.name ?? 'db-a',
  eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
  eventTime: '2026-12-01T10:00:00Z',
  data: { Id: `${PLATFORM}/secrets/${fields.idPath ?? encodeURIComponent(fields.name ?? 'db-a')}/${V1}`, VaultName: 'platform', ObjectType: 'Secret', ObjectName: fields.name ?? 'db-a', Version: V1 },
});

describe('bad input is refused up front, with a reason the audit can hold', () => {
  it.each([
    ['a unicode ObjectName', { name: 'pässwörd' }, 'BadObjectName'],
    ['an ObjectName longer than 127 characters', { name: 'n'.repeat(128) }, 'BadObjectName'],
    ['an event id with a space', { id: 'evt 1' }, 'BadId'],
    ['a malformed percent-encoding in data.Id', { idPath: '%E0%A4%A', name: 'db-a' }, 'BadObjectId'],
  ])('rejects a Key Vault event with %s', (_, fields, reason) => {
    expect(parseKeyVaultEvent(event(fields))).toMatchObject({ ok: false, reason });
  });

  it('rejects a rotation event whose id the audit could not record', () => {
    const parsed = parseRotationEvent({ specversion: '1.0', id: 'evt 1', source: '/ci', type: 'SecretRelay.RotationRequested', data: { source: 'platform', name: 'db-a' } });
    expect(parsed).toMatchObject({ ok: false, reason: 'invalid' });
  });

  it('audits the rejection of an event with an unauditable id without starting anything, in a record the audit accepts', async () => {
    const { runtime, audit } = fakeRuntime({ 'db-a': [{ version: V1 }] });
    const { client, starts } = fakeClient();
    const handled = await handleKeyVaultEvent(event({ id: 'evt 1' }), runtime, client);
    expect(handled.result).toBe('rejected');
    expect(starts).toEqual([]);
    expect(audit).toHaveLength(1);
    const record = buildRecordContent(toRecordInput(audit[0]!));
    expect(record).toMatchObject({ action: 'reject-event', status: 'Rejected', reason: 'BadId', cause: { eventId: null, instanceId: 'event:invalid-id' } });
  });
});

describe('the durable client port under duplicate starts', () => {
  it('answers already-running when a start got 409 and the instance finished before the status read', async () => {
    const durable = {
      startNew: async () => Promise.reject(new Error('The operation failed with an unexpected status code: 409. Details: {"Message":"An Orchestration instance with the status Running already exists."}')),
      getStatus: async () => ({ instanceId: 'relay:x', name: 'relaySecretVersion', runtimeStatus: 'Completed', input: null, output: null }),
    };
    const port = orchestrationClientPort(durable as never);
    await expect(port.start('relaySecretVersion', 'relay:x', {})).resolves.toBe('already-running');
  });
});

describe('config check: Kubernetes key collisions', () => {
  const config = (routes: unknown[]) =>
    validateConfig({
      sources: [{ id: 'platform', vaultUrl: PLATFORM }],
      targets: [
        { id: 'edge', kind: 'kubernetes', namespace: 'apps', cluster: { name: 'edge', server: 'https://edge.example:6443', auth: { type: 'aad', serverAppId: '6dae42f8-4368-4678-94ff-3960e28e3630' } } },
      ],
      routes,
    });

  it('refuses two routes writing the same key of the same Secret, naming the JSON path', () => {
    const result = config([
      { id: 'a', source: 'platform', match: { names: ['db-a'] }, targets: [{ target: 'edge', name: 'shared', key: 'password' }] },
      { id: 'b', source: 'platform', match: { names: ['db-b'] }, targets: [{ target: 'edge', name: 'shared', key: 'password' }] },
    ]);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toContainEqual(expect.objectContaining({ path: '$.routes[1].targets[0].key', code: 'NAME_COLLISION' }));
  });

  it('accepts two routes writing different keys of one Secret', () => {
    const result = config([
      { id: 'a', source: 'platform', match: { names: ['db-a'] }, targets: [{ target: 'edge', name: 'shared', key: 'a' }] },
      { id: 'b', source: 'platform', match: { names: ['db-b'] }, targets: [{ target: 'edge', name: 'shared', key: 'b' }] },
    ]);
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});
