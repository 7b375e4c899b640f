import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNcrontab, startHost } from '../../local/host/index.js';
import type { LocalHost } from '../../local/host/index.js';
import { observed } from './sample-app/index.js';

let host: LocalHost;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-eg-'));
  // a recorded next occurrence in the past: the host must run 'tick' at once with isPastDue
  mkdirSync(path.join(dir, 'timers'), { recursive: true });
  writeFileSync(
    path.join(dir, 'timers', 'tick.json'),
    JSON.stringify({ Last: '2020-01-01T00:00:00.000Z', Next: '2020-01-01T00:00:00.000Z', LastUpdated: '2020-01-01T00:00:00.000Z' }),
  );
  host = await startHost({
    app: ['test/host/sample-app/index.ts'],
    durableDir: dir,
    settings: { TICK_SCHEDULE: '0 0 0 1 Jan *', LOCAL_HOST_EVENTGRID_KEY: 'eg-key-for-tests' },
    log: () => undefined,
  });
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

const gridEvent = (id: string, data: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  topic: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/source',
  subject: 'db-password',
  eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
  eventTime: '2024-01-01T00:00:00Z',
  data: { Id: 'https://source.vault.azure.net/secrets/db-password/v1', ...data },
  dataVersion: '1',
  metadataVersion: '1',
});

describe('Event Grid webhook', () => {
  it('answers the SubscriptionValidation handshake', async () => {
    const res = await fetch(host.eventGridUrl('onEvent'), {
      method: 'POST',
      headers: { 'aeg-event-type': 'SubscriptionValidation', 'content-type': 'application/json' },
      body: JSON.stringify([{ ...gridEvent('v'), eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'code-123' } }]),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: 'code-123' });
  });

  it('answers the CloudEvents OPTIONS handshake', async () => {
    const res = await fetch(host.eventGridUrl('onEvent'), { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('invokes once per Event Grid event, passing the event unchanged (PascalCase data kept)', async () => {
    observed.events.length = 0;
    const res = await fetch(host.eventGridUrl('onEvent'), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
      body: JSON.stringify([gridEvent('e1'), gridEvent('e2')]),
    });
    expect(res.status).toBe(202);
    expect(observed.events).toEqual([gridEvent('e1'), gridEvent('e2')]);
  });

  it('accepts single and batched CloudEvents', async () => {
    observed.events.length = 0;
    const cloudEvent = (id: string): Record<string, unknown> => ({ specversion: '1.0', id, source: '/platform/rotation', type: 'SecretRelay.CredentialRotationRequested', time: '2024-01-01T00:00:00Z', subject: 'bmc', data: { name: 'bmc' } });
    const single = await fetch(host.eventGridUrl('onEvent'), { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(cloudEvent('c1')) });
    expect(single.status).toBe(202);
    const batch = await fetch(host.eventGridUrl('onEvent'), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([cloudEvent('c2'), cloudEvent('c3')]),
    });
    expect(batch.status).toBe(202);
    expect(observed.events.map((e) => (e as { id: string }).id)).toEqual(['c1', 'c2', 'c3']);
  });

  it('answers non-2xx when a handler fails, 404 for an unknown function, 401 without the key', async () => {
    const failing = await fetch(host.eventGridUrl('onEvent'), {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification' },
      body: JSON.stringify([gridEvent('bad', { fail: true })]),
    });
    expect(failing.status).toBeGreaterThanOrEqual(500);
    expect((await fetch(host.eventGridUrl('noSuchFunction'), { method: 'POST', body: '[]' })).status).toBe(404);
    const withoutKey = host.eventGridUrl('onEvent').replace(/&code=[^&]+/, '');
    expect((await fetch(withoutKey, { method: 'POST', body: JSON.stringify([gridEvent('nokey')]) })).status).toBe(401);
  });

  it('passes durable client binding data to df.app.client.eventGrid functions', async () => {
    const res = await fetch(host.eventGridUrl('startFromEvent'), { method: 'POST', headers: { 'aeg-event-type': 'Notification' }, body: JSON.stringify([gridEvent('dur-1')]) });
    expect(res.status).toBe(202);
    expect((await host.waitForInstance('event-dur-1', 10_000)).output).toEqual(['Hello x']);
  });
});

describe('timers', () => {
  it('runs a past-due timer at start with isPastDue and schedule status as @azure/functions shapes it', async () => {
    for (let i = 0; i < 200 && observed.timers.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(observed.timers[0]).toMatchObject({ isPastDue: true, schedule: { adjustForDST: true }, scheduleStatus: { next: '2020-01-01T00:00:00.000Z' } });
  });

  it('invokes a timer on demand with isPastDue false', async () => {
    const before = observed.timers.length;
    await host.invokeTimer('tick');
    expect(observed.timers.length).toBe(before + 1);
    expect(observed.timers.at(-1)?.isPastDue).toBe(false);
    expect(host.functions().find((f) => f.name === 'tick')?.schedule).toBe('0 0 0 1 Jan *');
  });

  it.each([
    ['*/15 * * * * *', '2024-01-01T00:00:07Z', '2024-01-01T00:00:15.000Z'],
    ['0 */5 * * * *', '2024-01-01T00:03:00Z', '2024-01-01T00:05:00.000Z'],
    ['0 30 9 * * Mon-Fri', '2024-01-06T10:00:00Z', '2024-01-08T09:30:00.000Z'],
    ['0 0 0 1 Jan,Jul *', '2024-02-01T00:00:00Z', '2024-07-01T00:00:00.000Z'],
    ['10,20 0 12 * * *', '2024-01-01T12:00:10Z', '2024-01-01T12:00:20.000Z'],
    ['0 0 8-10/2 * * *', '2024-01-01T08:00:00Z', '2024-01-01T10:00:00.000Z'],
    ['0 0 0 13 * 5', '2024-01-01T00:00:00Z', '2024-09-13T00:00:00.000Z'],
  ])('NCRONTAB %s after %s is %s', (expression, after, expected) => {
    expect(parseNcrontab(expression).next(new Date(after)).toISOString()).toBe(expected);
  });

  it.each(['* * * * *', '60 * * * * *', '0 0 0 1 Foo *', '*/0 * * * * *'])('rejects %s', (expression) => {
    expect(() => parseNcrontab(expression)).toThrow();
  });
});
