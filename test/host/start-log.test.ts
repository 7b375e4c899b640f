import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnLocalHost } from '../support/hostProcess.js';

// A new instance's start is durable in the host's shared start log before the start is answered; its own journal is
// written with its first episode. These tests kill the host (SIGKILL) in between and check what a restart finds.
let dir: string;
const children: ChildProcess[] = [];

interface Running {
  child: ChildProcess;
  rpcBaseUrl: string;
}

async function spawnHost(settings: Record<string, string>): Promise<Running> {
  const settingsFile = path.join(dir, `settings-${children.length}.json`);
  writeFileSync(settingsFile, JSON.stringify({ Values: { TICK_SCHEDULE: '0 0 0 1 1 *', ...settings } }));
  const { child, ready } = await spawnLocalHost({
    apps: ['test/host/sample-app/index.ts', 'test/host/hold-app/index.ts'],
    durableDir: path.join(dir, 'durable'),
    settingsFile,
    children,
  });
  return { child, rpcBaseUrl: ready.rpcBaseUrl };
}

async function kill(host: Running): Promise<void> {
  const exited = new Promise((resolve) => host.child.once('exit', resolve));
  host.child.kill('SIGKILL');
  await exited;
}

async function status(host: Running, id: string): Promise<{ httpStatus: number; runtimeStatus?: string; output?: unknown }> {
  const response = await fetch(`${host.rpcBaseUrl}instances/${id}`);
  if (response.status === 404) return { httpStatus: 404 };
  return { httpStatus: response.status, ...((await response.json()) as { runtimeStatus: string; output: unknown }) };
}

async function finished(host: Running, id: string): Promise<{ runtimeStatus?: string; output?: unknown }> {
  let last = await status(host, id);
  for (let i = 0; i < 600 && !['Completed', 'Failed', 'Terminated'].includes(last.runtimeStatus ?? ''); i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await status(host, id);
  }
  return last;
}

function journalOf(id: string): string {
  return path.join(dir, 'durable', 'instances', `${Buffer.from(id, 'utf8').toString('base64url')}.jsonl`);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-start-log-'));
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('runs every answered start after kill -9, also those whose instance had no journal of its own yet; a purged one stays purged', async () => {
  const held = await spawnHost({ HOLD_ORCHESTRATIONS: '1' });
  const ids = ['held-1', 'held-2', 'held-3'];
  const answers = await Promise.all(
    ids.map((id, i) =>
      fetch(`${held.rpcBaseUrl}orchestrators/Sequence/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([`n${i}`]) }),
    ),
  );
  expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
  // no episode ran: the starts exist only in the start log
  expect((await Promise.all(ids.map((id) => status(held, id)))).map((s) => s.runtimeStatus)).toEqual(['Pending', 'Pending', 'Pending']);
  expect(ids.filter((id) => existsSync(journalOf(id)))).toEqual([]);
  await kill(held);

  const second = await spawnHost({});
  for (const [i, id] of ids.entries()) expect(await finished(second, id)).toMatchObject({ runtimeStatus: 'Completed', output: [`Hello n${i}`] });
  // a start in this run's log, completed and purged before the crash: the log still holds its start
  const purged = await fetch(`${second.rpcBaseUrl}orchestrators/Sequence/purged-1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["p"]' });
  expect(purged.status).toBe(202);
  expect(await finished(second, 'purged-1')).toMatchObject({ runtimeStatus: 'Completed' });
  expect((await fetch(`${second.rpcBaseUrl}instances/purged-1`, { method: 'DELETE' })).status).toBe(200);
  await kill(second);

  const third = await spawnHost({});
  expect(await status(third, 'purged-1')).toEqual({ httpStatus: 404 });
  for (const [i, id] of ids.entries()) expect(await status(third, id)).toMatchObject({ runtimeStatus: 'Completed', output: [`Hello n${i}`] });
  await kill(third);
});
