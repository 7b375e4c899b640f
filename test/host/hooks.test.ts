import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHost, type LocalHost } from '../../local/host/index.js';
import { seen } from './hooks-app/index.js';

// App hooks (`app.hook.preInvocation` / `postInvocation`) run around every invocation as the Node worker runs them:
// in registration order, awaited, sharing hookData within an invocation; a
// preInvocation hook may replace the callback, a postInvocation hook sees the error and may replace it with a result.

let host: LocalHost;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-hooks-'));
  host = await startHost({ app: ['test/host/hooks-app/index.ts'], durableDir: dir, log: () => undefined });
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
});

const get = async (route: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(`${host.baseUrl}/api/${route}?n=x`);
  return { status: res.status, body: await res.text() };
};

describe('app hooks in the local host', () => {
  it('run before and after an invocation, in registration order, with hookData shared by its pre and post hooks', async () => {
    expect(await get('plain')).toEqual({ status: 200, body: 'hello x' });
    expect(await get('plain')).toEqual({ status: 200, body: 'hello x' });
    expect(seen).toEqual(['pre:plain', 'pre2:plain', 'post:plain:pre:ok', 'pre:plain', 'pre2:plain', 'post:plain:pre:ok']);
  });

  it('a preInvocation hook can replace the function callback', async () => {
    expect(await get('wrapped')).toEqual({ status: 200, body: 'wrapped(hello x)' });
  });

  it('postInvocation sees a handler error; the invocation fails unless a hook clears it', async () => {
    expect((await get('failing')).status).toBe(500);
    expect(seen).toContain('post:failing:pre:error');
    expect(await get('rescued')).toEqual({ status: 200, body: 'rescued' });
  });

  it('a preInvocation hook that throws fails the invocation before the handler runs', async () => {
    expect((await get('refused')).status).toBe(500);
    expect(seen.filter((s) => s.startsWith('post:'))).toEqual([]);
  });
});
