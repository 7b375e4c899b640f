import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnLocalHost } from '../support/hostProcess.js';

const COUNT = 60;
const INSTANCE_ID = 'crash-fanout';
let dir: string;
let fanoutLog: string;
let settingsFile: string;
const children: ChildProcess[] = [];

function spawnHost() {
  return spawnLocalHost({ apps: ['test/host/sample-app/index.ts'], durableDir: path.join(dir, 'durable'), settingsFile, children });
}

function executions(): string[] {
  return existsSync(fanoutLog) ? readFileSync(fanoutLog, 'utf8').split('\n').filter((l) => l.length > 0) : [];
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-crash-'));
  fanoutLog = path.join(dir, 'executions.log');
  settingsFile = path.join(dir, 'settings.json');
  writeFileSync(settingsFile, JSON.stringify({ Values: { FANOUT_LOG: fanoutLog, TICK_SCHEDULE: '0 0 0 1 1 *' } }));
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('resumes a fan-out after kill -9: each result recorded once, each activity run at most twice', async () => {
  const first = await spawnHost();
  const started = await fetch(`${first.ready.rpcBaseUrl}orchestrators/FanOut/${INSTANCE_ID}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count: COUNT, delayMs: 150 }),
  });
  expect(started.status).toBe(202);

  for (let i = 0; i < 2000 && executions().length < 5; i++) await new Promise((r) => setTimeout(r, 5));
  const exited = new Promise((resolve) => first.child.once('exit', resolve));
  first.child.kill('SIGKILL');
  await exited;
  const atKill = executions().length;
  expect(atKill).toBeGreaterThanOrEqual(5);
  expect(atKill).toBeLessThan(COUNT);

  const second = await spawnHost();
  let status: { runtimeStatus: string; output: unknown } = { runtimeStatus: 'Unknown', output: null };
  for (let i = 0; i < 600 && status.runtimeStatus !== 'Completed' && status.runtimeStatus !== 'Failed'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = (await (await fetch(`${second.ready.rpcBaseUrl}instances/${INSTANCE_ID}`)).json()) as typeof status;
  }
  expect(status.runtimeStatus).toBe('Completed');
  expect(status.output).toEqual(Array.from({ length: COUNT }, (_, i) => i * 2));

  const perIndex = new Map<string, number>();
  for (const line of executions()) perIndex.set(line, (perIndex.get(line) ?? 0) + 1);
  expect(perIndex.size).toBe(COUNT);
  expect(Math.max(...perIndex.values())).toBeLessThanOrEqual(2);
  for (const line of perIndex.keys()) expect(line.startsWith(`${INSTANCE_ID}:`)).toBe(true);

  const stopped = new Promise((resolve) => second.child.once('exit', resolve));
  second.child.kill('SIGTERM');
  await stopped;
});
