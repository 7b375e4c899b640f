import { describe, expect, it } from 'vitest';
import { parseKeyVaultEvent, parseKeyVaultEvents } from '../../../shared/domain/index.js';
import type { EventRejectReason } from '../../../shared/domain/index.js';

const TOPIC = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/platform';
const VERSION = 'a9f4eab27ec64771ac1fb07d38fdbae2';

/** The real Event Grid wire shape (PascalCase data), as in platform-facts §4. */
const eventGrid = () => ({
  id: '39869b5c-6d56-404b-aab8-50ec200f93f8',
  topic: TOPIC,
  subject: 'TestSecret',
  eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
  data: {
    Id: `https://platform.vault.azure.net/secrets/TestSecret/${VERSION}`,
    VaultName: 'platform',
    ObjectType: 'Secret',
    ObjectName: 'TestSecret',
    Version: VERSION,
    NBF: 1627491993,
    EXP: 1690563970,
  } as Record<string, unknown>,
  dataVersion: '1',
  metadataVersion: '1',
  eventTime: '2021-07-28T17:08:38.2145376Z',
});

/** The same event as CloudEvents 1.0. */
const cloudEvent = () => ({
  specversion: '1.0',
  id: 'ce-1',
  source: TOPIC,
  subject: 'TestSecret',
  type: 'Microsoft.KeyVault.SecretNearExpiry',
  time: '2021-07-28T17:08:38Z',
  data: { ...eventGrid().data },
});

/** The Learn page sample: camelCase keys, a key with a trailing space, string nbf/exp, a value with a stray space. */
const learnSample = () => ({
  id: '00eccf70-95a7-4e7c-8299-2eb17ee9ad64',
  topic: '/subscriptions/x/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-kv',
  subject: 'newsecret',
  eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
  eventTime: '2019-07-25T01:08:33.1036736Z',
  data: {
    Id: 'https://sample-kv.vault.azure.net/secrets/newsecret/ee059b2bb5bc48398a53b168c6cdcb10',
    vaultName: 'sample-kv',
    objectType: 'Secret',
    'objectName ': 'newsecret',
    version: ' ee059b2bb5bc48398a53b168c6cdcb10',
    nbf: '1559081980',
    exp: '1559082102',
  },
  dataVersion: '1',
  metadataVersion: '1',
});

describe('parseKeyVaultEvent: accepted', () => {
  it('reads the Event Grid schema with PascalCase data', () => {
    expect(parseKeyVaultEvent(eventGrid())).toEqual({
      ok: true,
      event: {
        id: '39869b5c-6d56-404b-aab8-50ec200f93f8',
        type: 'SecretNewVersionCreated',
        schema: 'eventGrid',
        objectType: 'Secret',
        vaultName: 'platform',
        secretId: `https://platform.vault.azure.net/secrets/TestSecret/${VERSION}`,
        vaultUrl: 'https://platform.vault.azure.net',
        objectName: 'TestSecret',
        version: VERSION,
        notBefore: 1627491993,
        expiresOn: 1690563970,
        eventTime: '2021-07-28T17:08:38.2145376Z',
      },
    });
  });

  it('reads CloudEvents 1.0', () => {
    const result = parseKeyVaultEvent(cloudEvent());
    expect(result).toMatchObject({ ok: true, event: { id: 'ce-1', type: 'SecretNearExpiry', schema: 'cloudEvents', vaultName: 'platform', eventTime: '2021-07-28T17:08:38Z' } });
  });

  it('reads camelCase keys, a key with a trailing space, string NBF/EXP and a padded version (the Learn sample)', () => {
    expect(parseKeyVaultEvent(learnSample())).toMatchObject({
      ok: true,
      event: { vaultName: 'sample-kv', objectName: 'newsecret', version: 'ee059b2bb5bc48398a53b168c6cdcb10', notBefore: 1559081980, expiresOn: 1559082102 },
    });
  });

  it.each<[string, (d: Record<string, unknown>) => void, Record<string, unknown>]>([
    ['null EXP and NBF', (d) => Object.assign(d, { EXP: null, NBF: null }), {}],
    ['absent EXP and NBF', (d) => { delete d['EXP']; delete d['NBF']; }, {}],
    ['no VaultName (from topic)', (d) => { delete d['VaultName']; }, { vaultName: 'platform' }],
    ['no ObjectName and Version (from Id)', (d) => { delete d['ObjectName']; delete d['Version']; }, { objectName: 'TestSecret', version: VERSION }],
    ['uppercase version', (d) => Object.assign(d, { Version: VERSION.toUpperCase() }), { version: VERSION }],
    ['ObjectName in other case', (d) => Object.assign(d, { ObjectName: 'testsecret' }), { objectName: 'testsecret' }],
    ['local emulator origin', (d) => Object.assign(d, { Id: `https://127.0.0.1:8443/secrets/TestSecret/${VERSION}` }), { vaultUrl: 'https://127.0.0.1:8443' }],
  ])('accepts %s', (_label, tweak, expected) => {
    const event = eventGrid();
    tweak(event.data);
    const result = parseKeyVaultEvent(event);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.event).toMatchObject(expected);
      if (event.data['EXP'] === null || !('EXP' in event.data)) expect(result.event).not.toHaveProperty('expiresOn');
    }
  });

  it('parses batches (arrays) element by element', () => {
    const results = parseKeyVaultEvents([eventGrid(), { eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', id: 'v', data: {} }]);
    expect(results.map((r) => r.ok)).toEqual([true, false]);
    expect(parseKeyVaultEvents(cloudEvent())).toHaveLength(1);
  });
});

describe('parseKeyVaultEvent: rejected with a named reason', () => {
  const withEnvelope = (tweak: Record<string, unknown>) => ({ ...eventGrid(), ...tweak });
  const withData = (tweak: Record<string, unknown>) => ({ ...eventGrid(), data: { ...eventGrid().data, ...tweak } });
  it.each<[string, unknown, EventRejectReason]>([
    ['null', null, 'NotAnObject'],
    ['an array', [eventGrid()], 'NotAnObject'],
    ['a string', 'event', 'NotAnObject'],
    ['no id', withEnvelope({ id: undefined }), 'MissingId'],
    ['no eventType', withEnvelope({ eventType: undefined }), 'MissingType'],
    ['a storage event', withEnvelope({ eventType: 'Microsoft.Storage.BlobCreated' }), 'NotKeyVaultEvent'],
    ['the subscription validation event', withEnvelope({ eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent' }), 'NotKeyVaultEvent'],
    ['a vault-level event', withEnvelope({ eventType: 'Microsoft.KeyVault.VaultAccessPolicyChanged' }), 'UnsupportedEventType'],
    ['an unknown Key Vault event', withEnvelope({ eventType: 'Microsoft.KeyVault.SecretRenamed' }), 'UnsupportedEventType'],
    ['no data', withEnvelope({ data: undefined }), 'MissingData'],
    ['data not an object', withEnvelope({ data: 'x' }), 'MissingData'],
    ['ObjectType Key on a secret event', withData({ ObjectType: 'Key' }), 'ObjectTypeMismatch'],
    ['an Id pointing at a key', withData({ Id: `https://platform.vault.azure.net/keys/TestSecret/${VERSION}` }), 'ObjectTypeMismatch'],
    ['no Id', withData({ Id: undefined }), 'BadObjectId'],
    ['an Id that is not a URL', withData({ Id: 'TestSecret' }), 'BadObjectId'],
    ['an Id without version', withData({ Id: 'https://platform.vault.azure.net/secrets/TestSecret' }), 'BadObjectId'],
    ['a bad version', withData({ Version: 'v1', Id: 'https://platform.vault.azure.net/secrets/TestSecret/v1' }), 'BadVersion'],
    ['a Version that differs from Id', withData({ Version: 'b'.repeat(32) }), 'ObjectMismatch'],
    ['an ObjectName that differs from Id', withData({ ObjectName: 'Other' }), 'ObjectMismatch'],
    ['a VaultName that differs from the topic', withData({ VaultName: 'contoso' }), 'VaultMismatch'],
    ['no vault anywhere', { ...withData({ VaultName: undefined, Id: `https://127.0.0.1/secrets/TestSecret/${VERSION}` }), topic: undefined }, 'MissingVault'],
    ['a non-numeric NBF', withData({ NBF: 'soon' }), 'BadTimestamp'],
    ['an object EXP', withData({ EXP: { at: 1 } }), 'BadTimestamp'],
    ['no eventTime', withEnvelope({ eventTime: undefined }), 'BadEventTime'],
    ['a CloudEvent without time', { ...cloudEvent(), time: undefined }, 'BadEventTime'],
  ])('rejects %s', (_label, input, reason) => {
    const result = parseKeyVaultEvent(input);
    expect(result).toMatchObject({ ok: false, reason });
    if (!result.ok) expect(result.detail.length).toBeGreaterThan(0);
  });
});
