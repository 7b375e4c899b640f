import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCoreRegistry, startHost } from '../../local/host/index.js';
import type { LocalHost, LogEntry } from '../../local/host/index.js';

let host: LocalHost;
let dir: string;
const logs: LogEntry[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-http-'));
  host = await startHost({
    app: ['test/host/sample-app/index.ts'],
    durableDir: dir,
    settings: { TICK_SCHEDULE: '0 0 0 1 1 *', LOCAL_HOST_FUNCTION_KEY: 'fn-key-for-tests', LOCAL_HOST_MASTER_KEY: 'master-key-for-tests' },
    log: (entry) => logs.push(entry),
  });
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('registration capture', () => {
  it('captures every app.* and df.app.* registration with metadata and the wrapped handler', () => {
    const registry = getCoreRegistry();
    const start = registry.functions.get('start');
    expect(start?.metadata.bindings).toMatchObject({ $return: { type: 'http', direction: 'out' } });
    expect(Object.values(start?.metadata.bindings ?? {}).map((b) => b.type)).toEqual(expect.arrayContaining(['httpTrigger', 'durableClient']));
    expect(typeof registry.functions.get('Sequence')?.callback).toBe('function');
    expect(registry.programmingModel).toBeDefined();
    const types = Object.fromEntries(host.functions().map((f) => [f.name, f.triggerType]));
    expect(types).toMatchObject({
      hello: 'httpTrigger',
      onEvent: 'eventGridTrigger',
      tick: 'timerTrigger',
      Hello: 'activityTrigger',
      Sequence: 'orchestrationTrigger',
      startFromEvent: 'eventGridTrigger',
    });
  });

  it('uses the keys from settings', () => {
    expect(host.functionKey).toBe('fn-key-for-tests');
    expect(host.masterKey).toBe('master-key-for-tests');
  });
});

describe('HTTP functions', () => {
  it('serves a route with an optional parameter and query string', async () => {
    const withName = await fetch(`${host.baseUrl}/api/hello/ada?q=x`);
    expect(withName.status).toBe(200);
    expect(await withName.json()).toEqual({ greeting: 'Hello ada', query: 'x' });
    const without = await fetch(`${host.baseUrl}/api/hello`);
    expect(await without.json()).toEqual({ greeting: 'Hello world', query: null });
  });

  it('honours methods and route constraints (404 otherwise)', async () => {
    expect((await fetch(`${host.baseUrl}/api/hello/ada`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${host.baseUrl}/api/items/abc?code=fn-key-for-tests`)).status).toBe(404);
    expect((await fetch(`${host.baseUrl}/api/unknown`)).status).toBe(404);
  });

  it('enforces function-level keys via code or x-functions-key', async () => {
    expect((await fetch(`${host.baseUrl}/api/items/7`)).status).toBe(401);
    expect((await fetch(`${host.baseUrl}/api/items/7?code=wrong`)).status).toBe(401);
    const byQuery = await fetch(`${host.baseUrl}/api/items/7?code=fn-key-for-tests`);
    expect(byQuery.status).toBe(200);
    expect(byQuery.headers.get('x-item')).toBe('7');
    const byHeader = await fetch(`${host.baseUrl}/api/items/7`, {
      method: 'PUT',
      headers: { 'x-functions-key': 'master-key-for-tests', 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(byHeader.status).toBe(201);
    expect(await byHeader.json()).toEqual({ id: '7', method: 'PUT', body: { a: 1 } });
  });

  it('admin level accepts only the master key', async () => {
    expect((await fetch(`${host.baseUrl}/api/admin-only?code=fn-key-for-tests`)).status).toBe(401);
    const ok = await fetch(`${host.baseUrl}/api/admin-only?code=master-key-for-tests`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('admin ok');
  });

  it('passes the App Service authentication principal headers through', async () => {
    const principal = Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: [], name_typ: 'name', role_typ: 'roles' })).toString('base64');
    const res = await fetch(`${host.baseUrl}/api/whoami`, {
      headers: { 'x-ms-client-principal-name': 'operator@example.com', 'x-ms-client-principal-id': 'oid-1', 'x-ms-client-principal-idp': 'aad', 'x-ms-client-principal': principal },
    });
    const body = (await res.json()) as { name: string; id: string; principal: string; user: { type: string } | null };
    expect(body).toMatchObject({ name: 'operator@example.com', id: 'oid-1', principal });
    expect(body.user?.type).toBe('AppService');
  });

  it('answers 500 with no body when the handler throws, and 204 when it returns nothing', async () => {
    const failed = await fetch(`${host.baseUrl}/api/boom`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toBe('');
    expect((await fetch(`${host.baseUrl}/api/nothing`)).status).toBe(204);
  });

  it('sends invocation logs to the sink with function name and invocation id', async () => {
    await fetch(`${host.baseUrl}/api/hello/logger`);
    const entry = logs.find((e) => e.message === 'hello called for logger');
    expect(entry).toMatchObject({ functionName: 'hello', category: 'user', level: 'information' });
    expect(entry?.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs.some((e) => e.functionName === 'boom' && e.level === 'error' && e.message.includes('handler exploded'))).toBe(true);
  });
});
