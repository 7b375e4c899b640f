import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, startHost } from '../../local/host/index.js';
import type { LocalHost, LogEntry } from '../../local/host/index.js';
import { observed } from './sample-app/index.js';

let host: LocalHost;
let dir: string;
const logs: LogEntry[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'host-durable-'));
  host = await startHost({
    app: ['test/host/sample-app/index.ts'],
    durableDir: dir,
    settings: { TICK_SCHEDULE: '0 0 0 1 1 *' },
    log: (entry) => logs.push(entry),
    activityConcurrency: 3,
    // a 60 s durable timer takes 60 ms
    timeScale: 1000,
  });
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface CheckStatus {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
}

async function start(orchestrator: string, input?: unknown, instanceId?: string): Promise<{ status: number; body: CheckStatus & { message?: string }; location: string | null }> {
  const res = await fetch(`${host.baseUrl}/api/start/${orchestrator}${instanceId ? `/${instanceId}` : ''}`, {
    method: 'POST',
    ...(input !== undefined ? { body: JSON.stringify(input) } : {}),
  });
  return { status: res.status, body: (await res.json()) as CheckStatus & { message?: string }, location: res.headers.get('location') };
}

describe('durable client binding and status API', () => {
  it('starts through df.getClient and createCheckStatusResponse with working management URLs', async () => {
    const started = await start('Sequence', ['x', 'y']);
    expect(started.status).toBe(202);
    expect(started.location).toBe(started.body.statusQueryGetUri);
    expect(started.body.statusQueryGetUri.startsWith(`${host.baseUrl}/runtime/webhooks/durabletask/instances/${started.body.id}?`)).toBe(true);
    await host.waitForInstance(started.body.id, 10_000);

    const status = await fetch(`${started.body.statusQueryGetUri}&showHistory=true&showHistoryOutput=true`);
    expect(status.status).toBe(200);
    const body = (await status.json()) as { runtimeStatus: string; input: unknown; output: unknown; historyEvents: { EventType: string; FunctionName?: string; Result?: unknown }[] };
    expect(body).toMatchObject({ runtimeStatus: 'Completed', input: ['x', 'y'], output: ['Hello x', 'Hello y'] });
    expect(body.historyEvents.map((e) => e.EventType)).toEqual(['ExecutionStarted', 'TaskCompleted', 'TaskCompleted', 'ExecutionCompleted']);
    expect(body.historyEvents[1]).toMatchObject({ FunctionName: 'Hello', Result: 'Hello x' });

    const noInput = (await (await fetch(`${started.body.statusQueryGetUri}&showInput=false`)).json()) as { input: unknown; historyEvents?: unknown };
    expect(noInput.input).toBeNull();
    expect(noInput.historyEvents).toBeUndefined();

    expect((await fetch(started.body.statusQueryGetUri.replace(/code=[^&]+/, 'code=wrong'))).status).toBe(401);
  });

  it('client.getStatus, getStatusBy and createHttpManagementPayload work over rpcBaseUrl', async () => {
    const id = await host.startOrchestration('Sequence', { input: ['q'] });
    await host.waitForInstance(id, 10_000);
    const status = (await (await fetch(`${host.baseUrl}/api/ops/status/${id}`)).json()) as { runtimeStatus: string; output: unknown; input: unknown };
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello q'], input: ['q'] });
    const list = (await (await fetch(`${host.baseUrl}/api/ops/list/-`)).json()) as { instanceId: string }[];
    expect(list.map((s) => s.instanceId)).toContain(id);
    const payload = (await (await fetch(`${host.baseUrl}/api/ops/payload/${id}`)).json()) as { statusQueryGetUri: string };
    expect(payload.statusQueryGetUri.startsWith(host.baseUrl)).toBe(true);
  });

  it('activities see triggerMetadata.instanceId and log to the sink', async () => {
    const id = await host.startOrchestration('Sequence', { input: ['meta'] });
    await host.waitForInstance(id, 10_000);
    expect(observed.activityInstanceIds).toContain(id);
    expect(logs.some((e) => e.functionName === 'Hello' && e.message === 'saying hello to meta' && typeof e.invocationId === 'string')).toBe(true);
  });

  it('refuses a pending or running instance id with 409 and restarts a finished one', async () => {
    const id = `dedupe-${Date.now()}`;
    const first = await start('Forever', null, id);
    expect(first.status).toBe(202);
    const duplicate = await start('Forever', null, id);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toMatch(/unexpected status code: 409.*An Orchestration instance with the status (Pending|Running) already exists/);

    const raw = await fetch(`${host.rpcBaseUrl}orchestrators/Forever/${id}`, { method: 'POST', body: '' });
    expect(raw.status).toBe(409);
    expect(((await raw.json()) as { Message: string }).Message).toMatch(/^An Orchestration instance with the status (Pending|Running) already exists\.$/);

    expect((await fetch(`${first.body.terminatePostUri.replace('{text}', 'test')}`, { method: 'POST' })).status).toBe(202);
    const terminated = await host.waitForInstance(id, 10_000);
    expect(terminated).toMatchObject({ runtimeStatus: 'Terminated', output: 'test' });
    expect((await fetch(`${first.body.terminatePostUri.replace('{text}', 'again')}`, { method: 'POST' })).status).toBe(410);

    const again = await start('Sequence', ['again'], id);
    expect(again.status).toBe(202);
    expect((await host.waitForInstance(id, 10_000)).output).toEqual(['Hello again']);
  });

  it('purges finished instances only and lists with filters', async () => {
    const running = await host.startOrchestration('Forever', { instanceId: `purge-running-${Date.now()}` });
    const purgeRunning = await fetch(`${host.rpcBaseUrl}instances/${running}`, { method: 'DELETE' });
    expect(purgeRunning.status).toBe(412);
    const done = await host.startOrchestration('Sequence', { instanceId: `purge-done-${Date.now()}`, input: ['p'] });
    await host.waitForInstance(done, 10_000);
    const filtered = (await (await fetch(`${host.rpcBaseUrl}instances/?runtimeStatus=Running,Pending&instanceIdPrefix=purge-`)).json()) as { instanceId: string }[];
    expect(filtered.map((s) => s.instanceId)).toEqual([running]);
    const purged = (await (await fetch(`${host.baseUrl}/api/ops/purge/${done}`, { method: 'POST' })).json()) as { instancesDeleted: number };
    expect(purged.instancesDeleted).toBe(1);
    expect(host.getInstance(done)).toBeUndefined();
    expect((await fetch(`${host.rpcBaseUrl}instances/${done}`)).status).toBe(404);
    await host.startOrchestration('Sequence', { instanceId: `page-a-${Date.now()}`, input: [] });
    const page = await fetch(`${host.rpcBaseUrl}instances/?top=1`);
    expect(((await page.json()) as unknown[]).length).toBe(1);
    expect(page.headers.get('x-ms-continuation-token')).toBeTruthy();
    await fetch(`${host.baseUrl}/api/ops/terminate/${running}`, { method: 'POST' });
  });

  it('answers 400 for an unknown orchestrator and 404 for an unknown instance', async () => {
    expect((await fetch(`${host.rpcBaseUrl}orchestrators/NoSuchThing`, { method: 'POST', body: '' })).status).toBe(400);
    expect((await fetch(`${host.rpcBaseUrl}instances/no-such-instance`)).status).toBe(404);
    expect((await fetch(`${host.rpcBaseUrl}instances/no-such-instance/raiseEvent/x`, { method: 'POST', body: '1' })).status).toBe(404);
  });
});

describe('orchestration features', () => {
  it('fans out with bounded activity concurrency', async () => {
    observed.maxConcurrent = 0;
    const id = await host.startOrchestration('FanOut', { input: { count: 30, delayMs: 20 } });
    const done = await host.waitForInstance(id, 20_000);
    expect(done.output).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
    expect(observed.maxConcurrent).toBeLessThanOrEqual(3);
    expect(observed.maxConcurrent).toBeGreaterThan(1);
    // How many completions share an episode depends on timing (a loaded machine may replay once per completion), so
    // batching is measured by bench/host-fanout.ts, not asserted here.
  });

  it('gives way to requests being answered: while one is open, activities start one at a time and the fan-out still completes', async () => {
    observed.maxConcurrent = 0;
    let release = (): void => undefined;
    observed.holdUntil = new Promise<void>((resolve) => {
      release = resolve;
    });
    const answered = fetch(`${host.baseUrl}/api/hold`);
    await expect.poll(() => observed.holding, { timeout: 10_000 }).toBe(1);
    const id = await host.startOrchestration('FanOut', { input: { count: 6, delayMs: 5 } });
    const done = await host.waitForInstance(id, 20_000);
    expect(done.output).toEqual([0, 2, 4, 6, 8, 10]);
    expect(observed.maxConcurrent).toBe(1);
    release();
    const response = await answered;
    expect(await response.text()).toBe('released');
    observed.holdUntil = undefined;
  });

  it.runIf(process.platform === 'linux')('keeps no journal file open for a finished instance', async () => {
    const id = await host.startOrchestration('FanOut', { input: { count: 3 } });
    await host.waitForInstance(id, 20_000);
    const openJournals = (): string[] =>
      readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          const target = readlinkSync(`/proc/self/fd/${fd}`);
          return target.startsWith(path.join(dir, 'instances')) ? [target] : [];
        } catch {
          return [];
        }
      });
    const journal = path.join(dir, 'instances', `${Buffer.from(id, 'utf8').toString('base64url')}.jsonl`);
    await expect.poll(() => openJournals().includes(journal), { timeout: 10_000 }).toBe(false);
  });

  it('retries with backoff until success, honouring the coefficient', async () => {
    const id = await host.startOrchestration('Retrying', { input: { key: `ok-${Date.now()}`, failures: 2, attempts: 5, backoff: 2 } });
    const done = await host.waitForInstance(id, 20_000);
    const output = done.output as { result: string; elapsedMs: number };
    expect(output.result).toBe('ok after 3');
    // two back-off timers: 1 s then 2 s (virtual time)
    expect(output.elapsedMs).toBeGreaterThanOrEqual(3000);
    const timers = done.history.filter((e) => e.EventType === EventType.TimerCreated);
    expect(timers).toHaveLength(2);
    const delays = timers.map((t) => new Date(t.FireAt ?? '').getTime() - new Date(t.Timestamp).getTime());
    expect(delays).toEqual([1000, 2000]);
  });

  it('caps the back-off at maxRetryInterval and fails after maxNumberOfAttempts', async () => {
    const key = `exhaust-${Date.now()}`;
    const id = await host.startOrchestration('Retrying', { input: { key, failures: 99, attempts: 3, backoff: 10, maxIntervalMs: 1500 } });
    const done = await host.waitForInstance(id, 20_000);
    expect((done.output as { error: string }).error).toBe('Error: flaky failure 3');
    expect(observed.flakyCalls.get(key)).toBe(3);
    const delays = done.history
      .filter((e) => e.EventType === EventType.TimerCreated)
      .map((t) => new Date(t.FireAt ?? '').getTime() - new Date(t.Timestamp).getTime());
    expect(delays).toEqual([1000, 1500, 1500]);
  });

  it('stops retrying once retryTimeout has elapsed', async () => {
    const key = `timeout-${Date.now()}`;
    const id = await host.startOrchestration('Retrying', { input: { key, failures: 99, attempts: 10, timeoutMs: 2500 } });
    const done = await host.waitForInstance(id, 20_000);
    expect((done.output as { error: string }).error).toMatch(/flaky failure/);
    expect(observed.flakyCalls.get(key)).toBeLessThan(10);
  });

  it('surfaces activity failures as TaskFailedError with FailureDetails', async () => {
    const id = await host.startOrchestration('CatchFailure');
    const done = await host.waitForInstance(id, 10_000);
    expect(done.output).toEqual({ name: 'TaskFailedError', message: 'ValidationError: nope', errorType: 'ValidationError', errorMessage: 'nope' });
    const failed = done.history.find((e) => e.EventType === EventType.TaskFailed);
    expect(failed?.Reason).toBe("Activity function 'AlwaysFails' failed: nope");
    expect(failed?.FailureDetails).toMatchObject({ ErrorType: 'ValidationError', ErrorMessage: 'nope', IsNonRetriable: false });
  });

  it('marks an orchestrator that throws as Failed', async () => {
    const id = await host.startOrchestration('Throws');
    const done = await host.waitForInstance(id, 10_000);
    expect(done).toMatchObject({ runtimeStatus: 'Failed', output: "Orchestrator function 'Throws' failed: orchestrator gave up" });
    const status = await fetch(`${host.rpcBaseUrl}instances/${id}?returnInternalServerErrorOnFailure=true`);
    expect(status.status).toBe(500);
  });

  it('fires durable timers and advances currentUtcDateTime', async () => {
    const id = await host.startOrchestration('Timer');
    const done = await host.waitForInstance(id, 10_000);
    expect(done.output as number).toBeGreaterThanOrEqual(60_000);
  });

  it('delivers external events, Task.any with a cancelled timer, and custom status', async () => {
    const id = await host.startOrchestration('WaitForApproval', { input: { timeoutMs: 3_600_000 } });
    for (let i = 0; i < 100 && host.getInstance(id)?.customStatus === null; i++) await new Promise((r) => setTimeout(r, 10));
    const running = await fetch(`${host.rpcBaseUrl}instances/${id}`);
    expect(running.status).toBe(202);
    expect(running.headers.get('retry-after')).toBe('5');
    expect(((await running.json()) as { customStatus: unknown }).customStatus).toEqual({ stage: 'waiting' });
    expect((await fetch(`${host.baseUrl}/api/ops/raise/${id}?event=approval`, { method: 'POST', body: JSON.stringify({ by: 'ops' }) })).status).toBe(202);
    const done = await host.waitForInstance(id, 10_000);
    expect(done).toMatchObject({ output: { approved: { by: 'ops' } }, customStatus: { stage: 'approved' } });

    const timedOut = await host.startOrchestration('WaitForApproval', { input: { timeoutMs: 30_000 } });
    expect((await host.waitForInstance(timedOut, 10_000)).output).toEqual({ approved: false });
  });

  it('runs sub-orchestrations with and without an explicit instance id', async () => {
    const id = await host.startOrchestration('Parent');
    const done = await host.waitForInstance(id, 10_000);
    const output = done.output as Record<string, { greeting: string; parent: string; self: string }>;
    expect(output['implicit']).toMatchObject({ greeting: 'Hello implicit', parent: id });
    expect(output['explicit']).toEqual({ greeting: 'Hello explicit', parent: id, self: `${id}-child` });
    expect(output['registered']?.parent).toBe(id);
    expect(host.getInstance(`${id}-child`)?.parentInstanceId).toBe(id);
  });

  it('continues as new with the new input', async () => {
    const id = await host.startOrchestration('Counter', { input: 0 });
    const done = await host.waitForInstance(id, 10_000);
    expect(done.output).toBe(3);
    expect(done.input).toBe(3);
  });
});
