import { createRequire } from 'node:module';

/**
 * The exact durable-functions version whose internals the engine reads. The engine refuses to start with any other
 * version: `TaskOrchestrationExecutor.openTasks/openEvents`, `NoOpTask.parent`, `RetryableTask.isWaitingOnTimer /
 * attemptNumber / retryOptions / children`, `CreateTimerAction.isCanceled` are not public API.
 */
export const PINNED_DURABLE_FUNCTIONS_VERSION = '3.5.0';

/** Action types (`lib/src/actions/ActionType.js`). */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
} as const;

/** Retry options as carried by `*WithRetry` actions. */
export interface RetryOptionsShape {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** The action object of an open task (a subset of the action classes' fields). */
export interface ActionShape {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  version?: string;
  fireAt?: Date | string;
  isCanceled?: boolean;
  retryOptions?: RetryOptionsShape;
}

/** An open task as `TaskOrchestrationExecutor.openTasks` holds it. */
export interface OpenTaskShape {
  id: number | string | false;
  actionObj: ActionShape | 'noOp';
  parent?: RetryableTaskShape;
}

/** The `RetryableTask` fields the engine reads. */
export interface RetryableTaskShape {
  actionObj: ActionShape;
  retryOptions: RetryOptionsShape;
  attemptNumber: number;
  isWaitingOnTimer: boolean;
  children: OpenTaskShape[];
}

/** The executor fields the engine reads. */
export interface ExecutorShape {
  openTasks: Record<string, OpenTaskShape>;
  openEvents: Record<string, unknown[]>;
}

const require = createRequire(import.meta.url);

/** Thrown when the installed durable-functions differs from what the engine was written against. */
export class DurableInternalsMismatchError extends Error {
  constructor(detail: string) {
    super(`local host durable engine: durable-functions internals changed (${detail}); pin durable-functions to ${PINNED_DURABLE_FUNCTIONS_VERSION} or update local/host/durable`);
    this.name = 'DurableInternalsMismatchError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Checks the installed durable-functions: exact version, and the presence and shape of every internal field the
 * engine reads, by constructing the internal classes. Throws `DurableInternalsMismatchError` on any difference.
 */
export function verifyDurableInternals(): void {
  const pkg = require('durable-functions/package.json') as { version?: string };
  if (pkg.version !== PINNED_DURABLE_FUNCTIONS_VERSION) throw new DurableInternalsMismatchError(`version ${pkg.version ?? 'unknown'}`);

  const { TaskOrchestrationExecutor } = require('durable-functions/lib/src/orchestrations/TaskOrchestrationExecutor') as {
    TaskOrchestrationExecutor: new () => unknown;
  };
  const executor = new TaskOrchestrationExecutor();
  if (!isObject(executor) || !isObject(executor['openTasks']) || !isObject(executor['openEvents']) || typeof executor['trackOpenTask'] !== 'function') {
    throw new DurableInternalsMismatchError('TaskOrchestrationExecutor.openTasks/openEvents/trackOpenTask');
  }

  const tasks = require('durable-functions/lib/src/task') as Record<string, new (...args: unknown[]) => unknown>;
  const { NoOpTask, RetryableTask, AtomicTask, DFTimerTask } = tasks;
  if (!NoOpTask || !RetryableTask || !AtomicTask || !DFTimerTask) throw new DurableInternalsMismatchError('task classes');
  const noOp = new NoOpTask();
  if (!isObject(noOp) || noOp['actionObj'] !== 'noOp' || noOp['id'] !== false) throw new DurableInternalsMismatchError('NoOpTask.actionObj/id');

  const { CallActivityWithRetryAction } = require('durable-functions/lib/src/actions/CallActivityWithRetryAction') as {
    CallActivityWithRetryAction: new (name: string, options: unknown, input?: unknown) => unknown;
  };
  const { RetryOptions } = require('durable-functions') as { RetryOptions: new (first: number, max: number) => unknown };
  const action = new CallActivityWithRetryAction('probe', new RetryOptions(1000, 2), 'x');
  const inner = new AtomicTask(false, action);
  const retryable = new RetryableTask(inner, new RetryOptions(1000, 2));
  if (
    !isObject(retryable) ||
    retryable['attemptNumber'] !== 1 ||
    retryable['isWaitingOnTimer'] !== false ||
    !isObject(retryable['retryOptions']) ||
    !Array.isArray(retryable['children']) ||
    (retryable['children'] as unknown[])[0] !== inner ||
    !isObject(action) ||
    action['actionType'] !== ActionType.CallActivityWithRetry ||
    action['input'] !== '"x"'
  ) {
    throw new DurableInternalsMismatchError('RetryableTask.attemptNumber/isWaitingOnTimer/retryOptions/children or action input encoding');
  }

  const { CreateTimerAction } = require('durable-functions/lib/src/actions/CreateTimerAction') as {
    CreateTimerAction: new (fireAt: Date) => unknown;
  };
  const timer = new CreateTimerAction(new Date(0));
  if (!isObject(timer) || timer['isCanceled'] !== false || timer['actionType'] !== ActionType.CreateTimer) {
    throw new DurableInternalsMismatchError('CreateTimerAction.isCanceled/actionType');
  }
}

/** Reads the executor of an orchestrator invocation context (`context.df.taskOrchestratorExecutor`). */
export function executorOf(context: unknown): ExecutorShape {
  const df = isObject(context) ? context['df'] : undefined;
  const executor = isObject(df) ? df['taskOrchestratorExecutor'] : undefined;
  if (!isObject(executor) || !isObject(executor['openTasks']) || !isObject(executor['openEvents'])) {
    throw new DurableInternalsMismatchError('context.df.taskOrchestratorExecutor.openTasks/openEvents');
  }
  return executor as unknown as ExecutorShape;
}
