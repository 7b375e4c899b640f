import type { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createKeyVaultAdminClient,
  startKeyVaultEmulator,
  vaultTopic,
  type EventGridEventWire,
  type CloudEventWire,
  type KeyVaultEmulator,
} from '../../../local/keyvault/index.js';
import { secretClient, startWebhook, type Webhook } from './helpers.js';

let emulator: KeyVaultEmulator;
let client: SecretClient;
let hook: Webhook;
const value = 'event-test-value-Zx81';

beforeAll(async () => {
  emulator = await startKeyVaultEmulator({
    vaults: ['platform', 'other'],
    eventDelivery: { maxAttempts: 3, initialBackoffInMs: 10, maxBackoffInMs: 50 },
  });
  client = secretClient(emulator, 'platform');
});

beforeEach(async () => {
  await hook?.close();
  hook = await startWebhook();
  for (const s of emulator.subscriptions()) emulator.unsubscribe(s.id);
});

afterAll(async () => {
  await emulator?.close();
  await hook?.close();
});

describe('Key Vault events', () => {
  it('posts SecretNewVersionCreated in the Event Grid wire shape (PascalCase data)', async () => {
    emulator.subscribe('platform', hook.url, 'eventGrid');
    const exp = 1_893_456_000;
    const set = await client.setSecret('Db-Password', value, { expiresOn: new Date(exp * 1000) });
    await hook.waitFor(1);
    const [request] = hook.received;
    expect(request?.headers['aeg-event-type']).toBe('Notification');
    expect(request?.headers['content-type']).toContain('application/json');
    const events = JSON.parse(request?.body ?? '') as EventGridEventWire[];
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      topic: emulator.eventTopics.platform,
      subject: 'Db-Password',
      eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
      data: {
        Id: `${emulator.vaultUrls.platform}/secrets/Db-Password/${set.properties.version}`,
        VaultName: 'platform',
        ObjectType: 'Secret',
        ObjectName: 'Db-Password',
        Version: set.properties.version,
        NBF: null,
        EXP: exp,
      },
      dataVersion: '1',
      metadataVersion: '1',
      eventTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(events[0]?.topic).toMatch(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/platform$/);
    expect(request?.body).not.toContain(value);
  });

  it('retries a failing subscriber with backoff until it answers 2xx (at-least-once)', async () => {
    hook.script = [500, 503];
    emulator.subscribe('platform', hook.url);
    await client.setSecret('retried', value);
    await emulator.whenEventsDelivered();
    expect(hook.received).toHaveLength(3);
    expect(hook.received.map((r) => r.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
    const ids = hook.received.map((r) => (JSON.parse(r.body) as EventGridEventWire[])[0]?.id);
    expect(new Set(ids).size).toBe(1);
    const record = emulator.deliveries().find((d) => d.secretName === 'retried');
    expect(record).toMatchObject({ state: 'delivered', attempts: 3, lastStatus: 200 });
  });

  it('gives up after the bounded attempts', async () => {
    hook.script = [500, 500, 500, 500];
    emulator.subscribe('platform', hook.url);
    await client.setSecret('given-up', value);
    await emulator.whenEventsDelivered();
    expect(hook.received).toHaveLength(3);
    expect(emulator.deliveries().find((d) => d.secretName === 'given-up')).toMatchObject({ state: 'failed', attempts: 3 });
  });

  it('does not block the PUT on a subscriber that has not answered yet', async () => {
    let release: () => void = () => undefined;
    hook.hold = new Promise<void>((resolve) => (release = resolve));
    emulator.subscribe('platform', hook.url);
    const set = await client.setSecret('not-blocked', value);
    expect(set.value).toBe(value);
    await hook.waitFor(1);
    expect(emulator.deliveries().find((d) => d.secretName === 'not-blocked')?.state).toBe('pending');
    release();
    await emulator.whenEventsDelivered();
    expect(emulator.deliveries().find((d) => d.secretName === 'not-blocked')?.state).toBe('delivered');
  });

  it('sends CloudEvents to cloudEvents subscribers and only for their vault', async () => {
    emulator.subscribe('platform', hook.url, 'cloudEvents');
    await createKeyVaultAdminClient(emulator.adminUrl).createSecret('other', 'elsewhere', value);
    const set = await client.setSecret('cloudy', value);
    await emulator.whenEventsDelivered();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.headers['content-type']).toContain('application/cloudevents+json');
    const event = JSON.parse(hook.received[0]?.body ?? '') as CloudEventWire;
    expect(event).toMatchObject({
      specversion: '1.0',
      source: vaultTopic('platform'),
      subject: 'cloudy',
      type: 'Microsoft.KeyVault.SecretNewVersionCreated',
      data: { ObjectName: 'cloudy', Version: set.properties.version, VaultName: 'platform', ObjectType: 'Secret' },
    });
  });

  it('emits SecretNearExpiry and SecretExpired on demand through the admin API', async () => {
    const admin = createKeyVaultAdminClient(emulator.adminUrl);
    await admin.subscribe('platform', hook.url, 'eventGrid');
    const created = await admin.createSecret('platform', 'expiring', value, { expiresOn: 1_900_000_000, emitEvent: false });
    await admin.emitEvent('platform', 'expiring', 'Microsoft.KeyVault.SecretNearExpiry');
    await admin.emitEvent('platform', 'expiring', 'Microsoft.KeyVault.SecretExpired', { version: created.version });
    await admin.whenEventsDelivered();
    const events = hook.received.map((r) => (JSON.parse(r.body) as EventGridEventWire[])[0]);
    expect(events.map((e) => e?.eventType).sort()).toEqual(['Microsoft.KeyVault.SecretExpired', 'Microsoft.KeyVault.SecretNearExpiry']);
    expect(events.every((e) => e?.data.Version === created.version && e.data.EXP === 1_900_000_000)).toBe(true);
    expect((await admin.deliveries()).some((d) => d.secretName === 'expiring' && d.state === 'delivered')).toBe(true);
  });
});
