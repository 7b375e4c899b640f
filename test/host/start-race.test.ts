import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost } from '../../local/host/index.js';
import type { LocalHost } from '../../local/host/index.js';

// A burst of starts of one instance id (duplicate events racing each other, or a restart of a finished instance)
// through the durable client API: exactly one start wins, every other is a 409, none is a 500.

let host: LocalHost;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-start-race-'));
  host = await startHost({ app: ['test/host/sample-app/index.ts'], durableDir: dir, settings: { TICK_SCHEDULE: '0 0 0 1 1 *' }, log: () => undefined });
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function burst(instanceId: string, count: number): Promise<number[]> {
  const start = () => fetch(`${host.rpcBaseUrl}orchestrators/Sequence/${instanceId}`, { method: 'POST', body: JSON.stringify(['x']) }).then((r) => r.status);
  return Promise.all(Array.from({ length: count }, start));
}

describe('concurrent starts of one instance id', () => {
  it('start one instance for a new id and answer 409 to the others', async () => {
    const statuses = await burst('race-new', 20);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 202).every((s) => s === 409)).toBe(true);
    expect((await host.waitForInstance('race-new', 10_000)).runtimeStatus).toBe('Completed');
  });

  it('restart a finished instance once and answer 409 to the others', async () => {
    await burst('race-again', 1);
    await host.waitForInstance('race-again', 10_000);
    const statuses = await burst('race-again', 20);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 202).every((s) => s === 409)).toBe(true);
    expect((await host.waitForInstance('race-again', 10_000)).runtimeStatus).toBe('Completed');
  });
});
