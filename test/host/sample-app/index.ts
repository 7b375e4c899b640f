import { appendFileSync } from 'node:fs';
import { app } from '@azure/functions';
import type { HttpRequest, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';

/** Observations of the sample app, read by the host's self-tests (in-process only). */
export const observed = {
  events: [] as unknown[],
  timers: [] as Timer[],
  activityInstanceIds: [] as unknown[],
  concurrent: 0,
  maxConcurrent: 0,
  flakyCalls: new Map<string, number>(),
  /** While set, `GET /api/hold` is answered only once this promise settles; `holding` counts requests held. */
  holdUntil: undefined as Promise<void> | undefined,
  holding: 0,
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- HTTP
app.http('hello', {
  route: 'hello/{name?}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest, context: InvocationContext) => {
    context.log(`hello called for ${request.params['name'] ?? 'nobody'}`);
    return { jsonBody: { greeting: `Hello ${request.params['name'] ?? 'world'}`, query: request.query.get('q') } };
  },
});

app.http('items', {
  route: 'items/{id:int}',
  methods: ['GET', 'PUT'],
  authLevel: 'function',
  handler: async (request: HttpRequest) => {
    const body = request.method === 'PUT' ? await request.json() : undefined;
    return { status: request.method === 'PUT' ? 201 : 200, jsonBody: { id: request.params['id'], method: request.method, body }, headers: { 'x-item': String(request.params['id']) } };
  },
});

app.http('adminOnly', { route: 'admin-only', authLevel: 'admin', handler: async () => ({ body: 'admin ok' }) });

app.http('whoami', {
  route: 'whoami',
  authLevel: 'anonymous',
  handler: async (request: HttpRequest) => ({
    jsonBody: {
      name: request.headers.get('x-ms-client-principal-name'),
      id: request.headers.get('x-ms-client-principal-id'),
      principal: request.headers.get('x-ms-client-principal'),
      user: request.user,
    },
  }),
});

// Logs what a careless handler would: its URL (with the key) and the whole body.
app.http('echoLog', {
  route: 'echo-log',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const body = await request.text();
    context.log(`echo-log ${request.url} key=${request.headers.get('x-functions-key') ?? ''} body=${body}`);
    context.log(`echo-log again body=${body}`);
    return { status: 202 };
  },
});

app.http('boom', { route: 'boom', authLevel: 'anonymous', handler: async () => { throw new Error('handler exploded'); } });

app.http('noContent', { route: 'nothing', authLevel: 'anonymous', handler: async () => undefined as unknown as { status: number } });

app.http('hold', {
  route: 'hold',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => {
    observed.holding += 1;
    await observed.holdUntil;
    observed.holding -= 1;
    return { body: 'released' };
  },
});
app.http('observations', { route: 'observations', authLevel: 'anonymous', handler: async () => ({ jsonBody: { events: observed.events, timers: observed.timers } }) });

// Starts any orchestration; a duplicate id answers 409 with the client's error message.
app.http('start', {
  route: 'start/{orchestrator}/{instanceId?}',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: async (request: HttpRequest, context: InvocationContext) => {
    const client = df.getClient(context);
    const text = await request.text();
    const instanceId = request.params['instanceId'];
    try {
      const id = await client.startNew(request.params['orchestrator'] ?? '', {
        ...(text ? { input: JSON.parse(text) as unknown } : {}),
        ...(instanceId ? { instanceId } : {}),
      });
      return client.createCheckStatusResponse(request, id);
    } catch (error) {
      return { status: 409, jsonBody: { message: error instanceof Error ? error.message : String(error) } };
    }
  },
});

df.app.client.http('clientOps', {
  route: 'ops/{op}/{instanceId}',
  methods: ['POST', 'GET'],
  authLevel: 'anonymous',
  handler: async (request: HttpRequest, client: df.DurableClient) => {
    const id = request.params['instanceId'] ?? '';
    switch (request.params['op']) {
      case 'status': {
        const status = await client.getStatus(id, { showHistory: true, showHistoryOutput: true });
        return { jsonBody: status };
      }
      case 'raise':
        await client.raiseEvent(id, request.query.get('event') ?? 'go', await request.json());
        return { status: 202 };
      case 'terminate':
        await client.terminate(id, 'stopped by test');
        return { status: 202 };
      case 'purge':
        return { jsonBody: await client.purgeInstanceHistory(id) };
      case 'list':
        return { jsonBody: await client.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Completed] }) };
      case 'payload':
        return { jsonBody: client.createHttpManagementPayload(id) };
      default:
        return { status: 400 };
    }
  },
});

// ---------------------------------------------------------------- Event Grid
app.eventGrid('onEvent', {
  handler: async (event: unknown, context: InvocationContext) => {
    const data = (event as { data?: { fail?: boolean } }).data;
    if (data?.fail) throw new Error('event handler failed');
    context.info('event received');
    observed.events.push(event);
  },
});

df.app.client.eventGrid('startFromEvent', {
  handler: async (event, client) => {
    await client.startNew('Sequence', { instanceId: `event-${event.id}`, input: ['x'] });
  },
});

// ---------------------------------------------------------------- Timers
app.timer('tick', {
  schedule: '%TICK_SCHEDULE%',
  runOnStartup: true,
  handler: async (timer: Timer, context: InvocationContext) => {
    context.log('tick');
    observed.timers.push(timer);
  },
});

// ---------------------------------------------------------------- Activities
df.app.activity('Hello', {
  handler: async (name: string, context: InvocationContext) => {
    observed.activityInstanceIds.push(context.triggerMetadata?.['instanceId']);
    context.log(`saying hello to ${name}`);
    return `Hello ${name}`;
  },
});

df.app.activity('Record', {
  handler: async (input: { index: number; delayMs?: number }, context: InvocationContext) => {
    observed.concurrent += 1;
    observed.maxConcurrent = Math.max(observed.maxConcurrent, observed.concurrent);
    try {
      if (input.delayMs) await sleep(input.delayMs);
      const file = process.env['FANOUT_LOG'];
      if (file) appendFileSync(file, `${context.triggerMetadata?.['instanceId'] as string}:${input.index}\n`);
      return input.index * 2;
    } finally {
      observed.concurrent -= 1;
    }
  },
});

df.app.activity('Flaky', {
  handler: async (input: { key: string; failures: number }) => {
    const calls = (observed.flakyCalls.get(input.key) ?? 0) + 1;
    observed.flakyCalls.set(input.key, calls);
    if (calls <= input.failures) throw new Error(`flaky failure ${calls}`);
    return `ok after ${calls}`;
  },
});

class ValidationError extends Error {
  override name = 'ValidationError';
}

df.app.activity('AlwaysFails', {
  handler: async () => {
    throw new ValidationError('nope');
  },
});

// ---------------------------------------------------------------- Orchestrations
const sequence: OrchestrationHandler = function* (context: OrchestrationContext) {
  const names = (context.df.getInput() as string[] | null) ?? ['a', 'b', 'c'];
  const results: string[] = [];
  for (const name of names) results.push((yield context.df.callActivity('Hello', name)) as string);
  return results;
};
df.app.orchestration('Sequence', sequence);

df.app.orchestration('FanOut', function* (context: OrchestrationContext) {
  const input = context.df.getInput() as { count: number; delayMs?: number };
  const tasks = Array.from({ length: input.count }, (_, index) => context.df.callActivity('Record', { index, delayMs: input.delayMs }));
  const results = (yield context.df.Task.all(tasks)) as number[];
  return results;
});

df.app.orchestration('Retrying', function* (context: OrchestrationContext) {
  const input = context.df.getInput() as { key: string; failures: number; attempts: number; backoff?: number; maxIntervalMs?: number; timeoutMs?: number };
  const options = new df.RetryOptions(1000, input.attempts);
  if (input.backoff) options.backoffCoefficient = input.backoff;
  if (input.maxIntervalMs) options.maxRetryIntervalInMilliseconds = input.maxIntervalMs;
  if (input.timeoutMs) options.retryTimeoutInMilliseconds = input.timeoutMs;
  const started = context.df.currentUtcDateTime.getTime();
  try {
    const result = (yield context.df.callActivityWithRetry('Flaky', options, { key: input.key, failures: input.failures })) as string;
    return { result, elapsedMs: context.df.currentUtcDateTime.getTime() - started };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error), elapsedMs: context.df.currentUtcDateTime.getTime() - started };
  }
});

df.app.orchestration('CatchFailure', function* (context: OrchestrationContext) {
  try {
    yield context.df.callActivity('AlwaysFails', null);
    return 'unreachable';
  } catch (error) {
    const details = (error as { failureDetails?: { errorType: string; errorMessage: string } }).failureDetails;
    return { name: (error as Error).name, message: (error as Error).message, errorType: details?.errorType, errorMessage: details?.errorMessage };
  }
});

df.app.orchestration('Throws', function* (context: OrchestrationContext) {
  yield context.df.callActivity('Hello', 'before');
  throw new Error('orchestrator gave up');
});

df.app.orchestration('Timer', function* (context: OrchestrationContext) {
  const start = context.df.currentUtcDateTime;
  yield context.df.createTimer(new Date(start.getTime() + 60_000));
  return context.df.currentUtcDateTime.getTime() - start.getTime();
});

df.app.orchestration('WaitForApproval', function* (context: OrchestrationContext) {
  context.df.setCustomStatus({ stage: 'waiting' });
  const deadline = new Date(context.df.currentUtcDateTime.getTime() + ((context.df.getInput() as { timeoutMs?: number } | null)?.timeoutMs ?? 3_600_000));
  const timeout = context.df.createTimer(deadline);
  const approval = context.df.waitForExternalEvent('approval');
  const winner = (yield context.df.Task.any([approval, timeout])) as unknown;
  if (winner === approval) {
    timeout.cancel();
    context.df.setCustomStatus({ stage: 'approved' });
    return { approved: approval.result };
  }
  context.df.setCustomStatus({ stage: 'timed out' });
  return { approved: false };
});

const child = df.app.orchestration('Child', function* (context: OrchestrationContext) {
  const name = context.df.getInput() as string;
  const greeting = (yield context.df.callActivity('Hello', name)) as string;
  return { greeting, parent: context.df.parentInstanceId, self: context.df.instanceId };
});

df.app.orchestration('Parent', function* (context: OrchestrationContext) {
  const implicit = (yield context.df.callSubOrchestrator('Child', 'implicit')) as unknown;
  const explicit = (yield context.df.callSubOrchestrator('Child', 'explicit', `${context.df.instanceId}-child`)) as unknown;
  const registered = (yield child('registered')) as unknown;
  return { implicit, explicit, registered };
});

df.app.orchestration('Counter', function* (context: OrchestrationContext) {
  const n = (context.df.getInput() as number | null) ?? 0;
  if (n < 3) {
    context.df.continueAsNew(n + 1);
    return undefined;
  }
  return n;
});

df.app.orchestration('Forever', function* (context: OrchestrationContext) {
  yield context.df.waitForExternalEvent('never');
  return 'done';
});
