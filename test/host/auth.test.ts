import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost } from '../../local/host/index.js';
import { resolveKeys } from '../../local/host/keys.js';
import type { LocalHost, LogEntry } from '../../local/host/index.js';
import { actorFromRequest, isAppServiceAuthEnabled } from '../../shared/triggers/index.js';

// Attacks every door of the local host: no key, a wrong key, a key of another kind (function key where the master
// or a system key is needed, one system key where the other is needed) on every route, as the Azure host refuses them.
const KEYS = {
  function: 'function-key-of-the-auth-tests-0001',
  master: 'master-key-of-the-auth-tests-000002',
  durableTask: 'durabletask-key-of-the-auth-tests-03',
  eventGrid: 'eventgrid-key-of-the-auth-tests-0004',
};
type Presented = keyof typeof KEYS | 'none' | 'wrong';
const PRESENTED: Presented[] = ['none', 'wrong', 'function', 'master', 'durableTask', 'eventGrid'];

let host: LocalHost;
let dir: string;
const logs: LogEntry[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-auth-'));
  host = await startHost({
    app: ['test/host/sample-app/index.ts'],
    durableDir: dir,
    settings: {
      TICK_SCHEDULE: '0 0 0 1 1 *',
      LOCAL_HOST_FUNCTION_KEY: KEYS.function,
      LOCAL_HOST_MASTER_KEY: KEYS.master,
      LOCAL_HOST_DURABLETASK_KEY: KEYS.durableTask,
      LOCAL_HOST_EVENTGRID_KEY: KEYS.eventGrid,
    },
    log: (entry) => logs.push(entry),
  });
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('host keys from settings', () => {
  it('refuses a key too short to guess hard or to redact from logs, naming the setting', () => {
    expect(() => resolveKeys(undefined, { LOCAL_HOST_MASTER_KEY: 'abc123' })).toThrow(
      'LOCAL_HOST_MASTER_KEY (masterKey) is 6 characters long; a host key needs at least 16',
    );
    expect(() => resolveKeys({ functionKey: 'sixteen-chars-ok' }, {})).not.toThrow();
  });
});

function withKey(url: string, presented: Presented, how: 'query' | 'header' = 'query'): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  u.searchParams.delete('code');
  if (presented === 'none') return { url: u.href, headers: {} };
  const key = presented === 'wrong' ? 'not-a-key-of-this-host-at-all-00000' : KEYS[presented];
  if (how === 'header') return { url: u.href, headers: { 'x-functions-key': key } };
  u.searchParams.set('code', key);
  return { url: u.href, headers: {} };
}

interface Door {
  route: string;
  method: string;
  url: () => string;
  body?: () => string;
  headers?: Record<string, string>;
  accepts: Presented[];
}

const gridEvent = JSON.stringify([
  { id: 'auth-1', topic: '/x', subject: 's', eventType: 'Custom.Auth', eventTime: '2024-01-01T00:00:00Z', data: {}, dataVersion: '1', metadataVersion: '1' },
]);

const doors: Door[] = [
  { route: 'function-level HTTP function', method: 'GET', url: () => `${host.baseUrl}/api/items/7`, accepts: ['function', 'master'] },
  { route: 'admin-level HTTP function', method: 'GET', url: () => `${host.baseUrl}/api/admin-only`, accepts: ['master'] },
  {
    route: 'Event Grid webhook (notification)',
    method: 'POST',
    url: () => host.eventGridUrl('onEvent'),
    body: () => gridEvent,
    headers: { 'aeg-event-type': 'Notification' },
    accepts: ['eventGrid', 'master'],
  },
  {
    route: 'Event Grid webhook (validation handshake)',
    method: 'POST',
    url: () => host.eventGridUrl('onEvent'),
    body: () => JSON.stringify([{ id: 'v', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'c-1' } }]),
    headers: { 'aeg-event-type': 'SubscriptionValidation' },
    accepts: ['eventGrid', 'master'],
  },
  {
    route: 'Event Grid webhook (CloudEvents OPTIONS handshake)',
    method: 'OPTIONS',
    url: () => host.eventGridUrl('onEvent'),
    headers: { 'webhook-request-origin': 'eventgrid.azure.net' },
    accepts: ['eventGrid', 'master'],
  },
  { route: 'durable webhook: list instances', method: 'GET', url: () => `${host.baseUrl}/runtime/webhooks/durabletask/instances/`, accepts: ['durableTask', 'master'] },
  {
    route: 'durable webhook: start an orchestration',
    method: 'POST',
    url: () => `${host.baseUrl}/runtime/webhooks/durabletask/orchestrators/Sequence`,
    body: () => JSON.stringify(['a']),
    accepts: ['durableTask', 'master'],
  },
  { route: 'admin: run a timer', method: 'POST', url: () => `${host.baseUrl}/admin/functions/tick`, accepts: ['master'] },
];

describe('every door refuses a missing, wrong or insufficient key', () => {
  for (const door of doors) {
    it.each(PRESENTED)(`${door.route}: key %s`, async (presented) => {
      for (const how of ['query', 'header'] as const) {
        const target = withKey(door.url(), presented, how);
        const res = await fetch(target.url, { method: door.method, headers: { ...door.headers, ...target.headers }, ...(door.body ? { body: door.body() } : {}) });
        await res.arrayBuffer();
        if (door.accepts.includes(presented)) expect(res.status, `${how}`).toBeLessThan(300);
        else expect(res.status, `${how}`).toBe(401);
      }
    });
  }

  it('the durable RPC endpoint answers only under its path token (rpcBaseUrl), never under a key', async () => {
    const rpc = new URL(host.rpcBaseUrl);
    expect(rpc.pathname).toMatch(/^\/durabletask\/[^/]+\/$/);
    expect((await fetch(`${host.rpcBaseUrl}instances/`)).status).toBe(200);
    for (const presented of PRESENTED) {
      const target = withKey(`${host.baseUrl}/durabletask/instances/`, presented);
      expect((await fetch(target.url)).status).toBe(401);
      expect((await fetch(withKey(`${host.baseUrl}/durabletask/${KEYS.durableTask}/instances/`, presented).url)).status).toBe(401);
    }
  });

  it('no answer of a function-key caller carries a system key', async () => {
    const res = await fetch(withKey(`${host.baseUrl}/api/items/7`, 'function').url);
    const text = `${JSON.stringify(Object.fromEntries(res.headers))}${await res.text()}`;
    for (const key of [KEYS.master, KEYS.durableTask, KEYS.eventGrid]) expect(text).not.toContain(key);
  });
});

describe('logs carry no key and no whole body', () => {
  it('redacts code= and x-functions-key from logged URLs and text, and caps a 10 MB body', async () => {
    const body = 'x'.repeat(10 * 1024 * 1024);
    const before = logs.length;
    const res = await fetch(withKey(`${host.baseUrl}/api/echo-log`, 'function').url, { method: 'POST', body, headers: { 'x-functions-key': KEYS.function } });
    expect(res.status).toBe(202);
    const entries = logs.slice(before).filter((entry) => entry.message.startsWith('echo-log'));
    expect(entries).toHaveLength(2);
    for (const entry of entries) {
      expect(entry.message.length).toBeLessThan(4200);
      expect(entry.message).toMatch(/more characters not logged\]$/);
      expect(entry.message).not.toContain(KEYS.function);
    }
    expect(entries[0]!.message).toContain('code=[redacted]');
    expect(entries[0]!.message).toContain('key=[redacted]');
    for (const entry of logs) for (const key of Object.values(KEYS)) expect(entry.message).not.toContain(key);
  });
});

describe('the audit actor', () => {
  const forged = (name: string): string | null => ({ 'x-ms-client-principal-name': 'ceo@contoso.com', 'x-ms-client-principal-id': 'oid-forged' })[name] ?? null;
  const label = (key: string): string => `label-of-${key.length}`;

  it('ignores forged principal headers unless App Service authentication is enabled, and records the key instead', () => {
    expect(actorFromRequest(forged, { appServiceAuthEnabled: false, presentedKey: KEYS.function, labelKey: label })).toEqual({
      kind: 'operator',
      id: `function-key:label-of-${KEYS.function.length}`,
    });
    expect(actorFromRequest(forged, { appServiceAuthEnabled: true, presentedKey: KEYS.function, labelKey: label })).toEqual({ kind: 'operator', id: 'ceo@contoso.com' });
  });

  it.each([
    [{ WEBSITE_AUTH_ENABLED: 'True' }, true],
    [{ WEBSITE_AUTH_ENABLED: 'true' }, true],
    [{ WEBSITE_AUTH_ENABLED: 'False' }, false],
    [{}, false],
  ])('reads App Service authentication from the platform setting %j', (env, enabled) => {
    expect(isAppServiceAuthEnabled(env)).toBe(enabled);
  });
});
