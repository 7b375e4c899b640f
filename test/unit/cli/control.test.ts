import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/index.js';
import { render } from '../../../cli/commands/plan.js';
import { renderCheck } from '../../../cli/commands/act.js';

async function run(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t) }, { env });
  return { code, out, err };
}

// A real HTTP server standing in for the app, answering what the app answers for these requests.
let server: Server;
let url: string;
const seen: { method: string; path: string; key: string | undefined; body: string }[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, key: req.headers['x-functions-key'] as string | undefined, body });
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.url === '/api/plan') {
        const parsed = JSON.parse(body || '{}');
        if (parsed.config) return send(400, { error: 'InvalidConfig', problems: [{ path: '$.config.targets[0].bogus', code: 'SCHEMA_UNKNOWN_FIELD', message: 'unknown field "bogus"' }] });
        return send(200, { items: [], counts: { create: 0, update: 0, none: 0, recover: 0, adopt: 0, conflict: 0, 'skip-newer': 0, blocked: 0 }, unread: [] });
      }
      if (req.url === '/api/targets/nowhere/check') return send(404, { error: 'NotFound', message: 'unknown target "nowhere"; configured: contoso' });
      return send(500, { error: 'Boom', message: 'the app failed' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('control commands: connection and exit codes', () => {
  it('refuse to run without naming the app (exit 2), and fail at once when the stack is not running (exit 3)', async () => {
    const none = await run(['plan']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('which app? use --stack for the local stack, or --url (or SECRET_RELAY_URL)');
    const down = await run(['target', 'check', 'contoso', '--stack', '/nonexistent/stack.json']);
    expect(down.code).toBe(3);
    expect(down.err).toContain('the local stack is not running');
    const refused = await run(['plan', '--url', 'http://127.0.0.1:1']);
    expect(refused.code).toBe(3);
    expect(refused.err).toContain('cannot reach the app at http://127.0.0.1:1');
  });

  it('send the function key from the settings, and turn 400/404 into usage errors, 5xx into exit 3', async () => {
    const ok = await run(['plan', '--json'], { SECRET_RELAY_URL: url, SECRET_RELAY_KEY: 'k-123' });
    expect(ok.code).toBe(0);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', path: '/api/plan', key: 'k-123' });
    expect(JSON.parse(ok.out).counts.create).toBe(0);
    const unknown = await run(['target', 'check', 'nowhere', '--url', url]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown target "nowhere"; configured: contoso');
    const failed = await run(['reconcile', '--url', url]);
    expect(failed.code).toBe(3);
    expect(failed.err).toContain('the app failed (HTTP 500)');
    const badRef = await run(['sync', 'no-slash', '--url', url]);
    expect(badRef.code).toBe(2);
    expect(badRef.err).toContain('<source/name>: expected e.g. platform/db-password');
    expect((await run(['sync', 'platform/x', '--url', url, '--timeout', 'soon'])).code).toBe(2);
  });

  it('plan --config prints every problem of an invalid proposed config and exits 1', async () => {
    const bad = await run(['plan', '--config', 'test/fixtures/config/bad.json', '--url', url]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('INVALID test/fixtures/config/bad.json: 1 problem(s); nothing planned');
    expect(bad.out).toContain('error   $.targets[0].bogus  SCHEMA_UNKNOWN_FIELD');
    const missing = await run(['plan', '--config', 'test/fixtures/config/missing.json', '--url', url]);
    expect(missing.code).toBe(2);
  });
});

describe('human output', () => {
  it('groups plan rows by action with counts, in a fixed action order', () => {
    const text = render({
      items: [
        { source: 'platform', name: 'b', version: 'v2', targetId: 'edge', placement: { name: 'b', key: 'value' }, action: 'update', reason: 'older-version' },
        { source: 'platform', name: 'a', version: 'v1', targetId: 'contoso', placement: { name: 'a' }, action: 'create', reason: 'absent' },
        { source: 'platform', name: 'a', version: 'v1', targetId: 'fabrikam', placement: { name: 'x--a' }, action: 'blocked', reason: 'access-denied', message: 'HTTP 403' },
      ],
      counts: { create: 1, update: 1, none: 0, recover: 0, adopt: 0, conflict: 0, 'skip-newer': 0, blocked: 1 },
      unread: [{ source: 'other', reason: 'unavailable', message: 'HTTP 503' }],
    });
    expect(text.split('\n')[0]).toBe('Plan: 3 row(s) (create 1, update 1, blocked 1); nothing was written');
    expect(text.indexOf('create: ')).toBeLessThan(text.indexOf('update: '));
    expect(text.indexOf('update: ')).toBeLessThan(text.indexOf('blocked: '));
    expect(text).toContain('  platform/b  v2  → edge  b#value  older-version');
    expect(text).toContain('access-denied: HTTP 403');
    expect(text).toContain('not planned: other could not be read: unavailable (HTTP 503)');
  });

  it('names each permission of a target check, and what is missing first', () => {
    const text = renderCheck({
      targetId: 'contoso',
      kind: 'keyVault',
      location: 'contoso.vault.azure.net',
      ok: false,
      checks: [
        { permission: 'secrets/readMetadata', result: 'allowed', required: true },
        { permission: 'secrets/setSecret', result: 'denied', required: true, detail: 'HTTP 403 Forbidden' },
      ],
    });
    expect(text).toBe(
      'target contoso (keyVault contoso.vault.azure.net): MISSING secrets/setSecret\n' +
        '  allowed    secrets/readMetadata  required\n' +
        '  denied     secrets/setSecret     required  HTTP 403 Forbidden\n',
    );
  });
});
