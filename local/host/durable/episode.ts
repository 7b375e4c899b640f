import type { FunctionInfo } from '../catalog.js';
import { buildInputData } from '../catalog.js';
import type { Registration } from '../coreStub.js';
import type { LogSink } from '../log.js';
import { invokeRegistration } from '../rpc.js';
import { failureDetailsFromError, failureDetailsFromState } from './failures.js';
import { EventType, historyEvent } from './history.js';
import type { FailureDetailsDto, HistoryEvent } from './history.js';
import { ActionType, executorOf } from './internals.js';
import type { ActionShape, OpenTaskShape, RetryOptionsShape, RetryableTaskShape } from './internals.js';

/** New work an episode scheduled; `scheduled` is the history event recording it. */
export type Work =
  | {
      kind: 'activity';
      taskId: number;
      name: string;
      inputJson: string | undefined;
      scheduled: HistoryEvent;
      /** The retry options of a `*WithRetry` call (the host retries it), for inspection; undefined for a plain call. */
      retryOptions?: RetryOptionsShape;
    }
  | { kind: 'timer'; taskId: number; fireAt: string; scheduled: HistoryEvent }
  | { kind: 'subOrchestration'; taskId: number; name: string; childInstanceId: string; inputJson: string | undefined; scheduled: HistoryEvent }
  | { kind: 'immediate'; taskId: number; scheduled: HistoryEvent; completion: HistoryEvent };

/** What one orchestrator episode decided. */
export type EpisodeOutcome =
  | { kind: 'running'; work: Work[]; cancelledTimerIds: number[]; customStatus: unknown }
  | { kind: 'completed'; output: unknown; customStatus: unknown }
  | { kind: 'failed'; message: string; failureDetails: FailureDetailsDto | undefined; customStatus: unknown }
  | { kind: 'continuedAsNew'; input: unknown; customStatus: unknown };

/** Input of one episode. */
export interface EpisodeInput {
  target: { info: FunctionInfo; registration: Registration };
  instanceId: string;
  parentInstanceId: string | undefined;
  input: unknown;
  /** The full history including this episode's OrchestratorStarted and new messages. */
  history: HistoryEvent[];
  /** Sequence ids already recorded as scheduled (TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated). */
  scheduledIds: ReadonlySet<number>;
  now: Date;
  log: LogSink;
  durableClientData: () => unknown;
}

interface OrchestratorStateShape {
  isDone: boolean;
  actions: unknown[];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  failureDetails?: unknown;
}

const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function flattenActions(actions: unknown): ActionShape[] {
  if (!Array.isArray(actions)) return [];
  return actions.flatMap((a: unknown) => (Array.isArray(a) ? flattenActions(a) : [a as ActionShape]));
}

/** The activity input as the extension forwards it: the action's input is already JSON for strings, raw otherwise. */
function actionInputJson(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

/** Delay before retry attempt `failedAttempts + 1` (DurableTask RetryInterceptor: first × coefficient^(n-1), capped). */
export function retryDelayInMs(options: RetryOptionsShape, failedAttempts: number): number {
  const delay = options.firstRetryIntervalInMilliseconds * Math.pow(options.backoffCoefficient ?? 1, Math.max(0, failedAttempts - 1));
  return options.maxRetryIntervalInMilliseconds && options.maxRetryIntervalInMilliseconds > 0
    ? Math.min(delay, options.maxRetryIntervalInMilliseconds)
    : delay;
}

class EpisodeHistoryIndex {
  #scheduledAt: Map<number, HistoryEvent> | undefined;
  #failures: Map<number, HistoryEvent> | undefined;
  readonly #history: HistoryEvent[];
  constructor(history: HistoryEvent[]) {
    this.#history = history;
  }
  #build(): void {
    this.#scheduledAt = new Map();
    this.#failures = new Map();
    for (const event of this.#history) {
      if (event.EventType === EventType.TaskScheduled || event.EventType === EventType.SubOrchestrationInstanceCreated) this.#scheduledAt.set(event.EventId, event);
      if ((event.EventType === EventType.TaskFailed || event.EventType === EventType.SubOrchestrationInstanceFailed) && event.TaskScheduledId !== undefined) {
        this.#failures.set(event.TaskScheduledId, event);
      }
    }
  }
  scheduledEvent(id: number): HistoryEvent | undefined {
    if (!this.#scheduledAt) this.#build();
    return this.#scheduledAt?.get(id);
  }
  failure(id: number): HistoryEvent | undefined {
    if (!this.#failures) this.#build();
    return this.#failures?.get(id);
  }
}

function retryExpired(retry: RetryableTaskShape, index: EpisodeHistoryIndex, now: Date): boolean {
  const timeout = retry.retryOptions.retryTimeoutInMilliseconds;
  if (!timeout || timeout <= 0) return false;
  const first = retry.children[0];
  const firstEvent = typeof first?.id === 'number' ? index.scheduledEvent(first.id) : undefined;
  if (!firstEvent) return false;
  return now.getTime() >= new Date(firstEvent.Timestamp).getTime() + timeout;
}

function scheduleAction(input: EpisodeInput, id: number, action: ActionShape, now: Date): Work {
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const inputJson = actionInputJson(action.input);
      const scheduled = historyEvent(EventType.TaskScheduled, now, { EventId: id, Name: action.functionName ?? '', ...(inputJson !== undefined ? { Input: inputJson } : {}) });
      return {
        kind: 'activity',
        taskId: id,
        name: action.functionName ?? '',
        inputJson,
        scheduled,
        ...(action.actionType === ActionType.CallActivityWithRetry && action.retryOptions ? { retryOptions: action.retryOptions } : {}),
      };
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const childInstanceId = action.instanceId || `${input.instanceId}:${id.toString(16).padStart(4, '0')}`;
      const inputJson = action.input === undefined ? undefined : JSON.stringify(action.input);
      const scheduled = historyEvent(EventType.SubOrchestrationInstanceCreated, now, {
        EventId: id,
        Name: action.functionName ?? '',
        InstanceId: childInstanceId,
        ...(inputJson !== undefined ? { Input: inputJson } : {}),
      });
      return { kind: 'subOrchestration', taskId: id, name: action.functionName ?? '', childInstanceId, inputJson, scheduled };
    }
    case ActionType.CreateTimer: {
      const fireAt = action.fireAt instanceof Date ? action.fireAt.toISOString() : new Date(action.fireAt ?? now).toISOString();
      return { kind: 'timer', taskId: id, fireAt, scheduled: historyEvent(EventType.TimerCreated, now, { EventId: id, FireAt: fireAt }) };
    }
    default:
      throw new Error(`The local host does not support this durable action (actionType ${action.actionType}): entities and callHttp are not implemented`);
  }
}

function decideOpenTask(input: EpisodeInput, id: number, task: OpenTaskShape, index: EpisodeHistoryIndex): Work | undefined {
  const now = input.now;
  if (task.actionObj !== 'noOp') {
    if (task.actionObj.actionType === ActionType.CreateTimer && task.actionObj.isCanceled) return undefined;
    return scheduleAction(input, id, task.actionObj, now);
  }
  const retry = task.parent;
  if (!retry) throw new Error('durable-functions internals: a NoOpTask without a RetryableTask parent');
  if (retry.isWaitingOnTimer) {
    // the timer the SDK expects after every failed attempt, including the last one
    const delayInMs = retryExpired(retry, index, now) ? 0 : retryDelayInMs(retry.retryOptions, retry.attemptNumber - 1);
    const fireAt = new Date(now.getTime() + delayInMs).toISOString();
    return { kind: 'timer', taskId: id, fireAt, scheduled: historyEvent(EventType.TimerCreated, now, { EventId: id, FireAt: fireAt }) };
  }
  const attempt = scheduleAction(input, id, retry.actionObj, now);
  if (!retryExpired(retry, index, now)) return attempt;
  // retry timeout elapsed: the attempt fails at once with the previous failure, without running again
  const previous = retry.children[retry.children.length - 3];
  const failed = typeof previous?.id === 'number' ? index.failure(previous.id) : undefined;
  const completionType = attempt.kind === 'subOrchestration' ? EventType.SubOrchestrationInstanceFailed : EventType.TaskFailed;
  const completion = historyEvent(completionType, now, {
    TaskScheduledId: id,
    Reason: failed?.Reason ?? 'Retry timeout elapsed',
    Details: failed?.Details ?? '',
    ...(failed?.FailureDetails ? { FailureDetails: failed.FailureDetails } : {}),
  });
  return { kind: 'immediate', taskId: id, scheduled: attempt.scheduled, completion };
}

/**
 * Runs one orchestrator episode through the worker's invocation path with a fresh context, then reads the executor's
 * open tasks (durable-functions internals, see `internals.ts`) to decide which new work the episode scheduled:
 * activities, timers (including retry back-off timers), sub-orchestrations. Completed, failed and continue-as-new
 * episodes are read from the returned (or thrown) orchestrator state.
 */
export async function decideEpisode(input: EpisodeInput): Promise<EpisodeOutcome> {
  const binding = {
    history: input.history,
    input: input.input,
    instanceId: input.instanceId,
    isReplaying: false,
    parentInstanceId: input.parentInstanceId ?? null,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '6.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
  let state: OrchestratorStateShape;
  let context: unknown;
  try {
    const result = await invokeRegistration(
      input.target.registration,
      { inputData: buildInputData(input.target.info, { string: JSON.stringify(binding) }, input.durableClientData) },
      { log: input.log },
    );
    state = result.result as OrchestratorStateShape;
    context = result.context;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = message.indexOf(OUT_OF_PROC_LABEL);
    if (at < 0) return { kind: 'failed', message, failureDetails: failureDetailsFromError(error), customStatus: undefined };
    const thrown = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorStateShape;
    return {
      kind: 'failed',
      message: thrown.error ?? message.slice(0, at),
      failureDetails: failureDetailsFromState(thrown.failureDetails),
      customStatus: thrown.customStatus,
    };
  }
  if (state.isDone) {
    const continueAsNew = flattenActions(state.actions).find((a) => a.actionType === ActionType.ContinueAsNew);
    if (continueAsNew) {
      const next = typeof continueAsNew.input === 'string' ? parseJson(continueAsNew.input) : continueAsNew.input;
      return { kind: 'continuedAsNew', input: next, customStatus: state.customStatus };
    }
    return { kind: 'completed', output: state.output, customStatus: state.customStatus };
  }
  const executor = executorOf(context);
  const index = new EpisodeHistoryIndex(input.history);
  const work: Work[] = [];
  const cancelledTimerIds: number[] = [];
  try {
    for (const [key, task] of Object.entries(executor.openTasks)) {
      const id = Number(key);
      if (!Number.isInteger(id)) continue;
      if (input.scheduledIds.has(id)) {
        if (task.actionObj !== 'noOp' && task.actionObj.actionType === ActionType.CreateTimer && task.actionObj.isCanceled) cancelledTimerIds.push(id);
        continue;
      }
      const decided = decideOpenTask(input, id, task, index);
      if (decided) work.push(decided);
    }
  } catch (error) {
    return { kind: 'failed', message: error instanceof Error ? error.message : String(error), failureDetails: failureDetailsFromError(error), customStatus: state.customStatus };
  }
  return { kind: 'running', work, cancelledTimerIds, customStatus: state.customStatus };
}
