import { describe as describeFunction } from '../../local/host/catalog.js';
import { installFunctionsCoreStub } from '../../local/host/coreStub.js';
import { decideEpisode, type EpisodeOutcome, type Work } from '../../local/host/durable/episode.js';
import { EventType, historyEvent, type HistoryEvent } from '../../local/host/durable/history.js';
import { verifyDurableInternals } from '../../local/host/durable/internals.js';
import type { LogEntry } from '../../local/host/log.js';

/**
 * Orchestrator tests in the style of durable-functions' own `test/integration/orchestrator-spec.ts`: the real
 * registered orchestrator handler (through `@azure/functions` and durable-functions' replay code) is given a
 * hand-built history, and the test asserts exactly what that episode schedules; then it feeds results back as the
 * host would (TaskCompleted / TaskFailed / TimerFired) and looks at the next episode. No activity runs, no I/O.
 */

const registry = installFunctionsCoreStub();
verifyDurableInternals();

/** What one scheduled activity looks like to a test: name, parsed input, retry options. */
export interface ScheduledActivity {
  readonly taskId: number;
  readonly name: string;
  readonly input: unknown;
  readonly retryOptions?: {
    firstRetryIntervalInMilliseconds: number;
    maxNumberOfAttempts: number;
    backoffCoefficient?: number;
    maxRetryIntervalInMilliseconds?: number;
  };
}

export class OrchestrationSpec {
  readonly history: HistoryEvent[] = [];
  readonly logs: LogEntry[] = [];
  #pending: HistoryEvent[] = [];
  #scheduled = new Set<number>();
  #now: Date;
  #work: Work[] = [];

  constructor(
    readonly name: string,
    readonly input: unknown,
    readonly instanceId = `spec:${name}`,
    start = new Date('2026-12-01T10:00:00Z'),
  ) {
    this.#now = start;
    this.#pending.push(historyEvent(EventType.ExecutionStarted, start, { Name: name, Input: JSON.stringify(input) }));
  }

  /** Runs one episode over the history so far plus the queued completions; returns what it decided. */
  async episode(): Promise<EpisodeOutcome> {
    const found = registry.functions.get(this.name);
    if (!found) throw new Error(`orchestration ${this.name} is not registered (import its functions/ module)`);
    this.history.push(historyEvent(EventType.OrchestratorStarted, this.#now), ...this.#pending);
    this.#pending = [];
    const outcome = await decideEpisode({
      target: { info: describeFunction(found), registration: found },
      instanceId: this.instanceId,
      parentInstanceId: undefined,
      input: this.input,
      history: structuredClone(this.history),
      scheduledIds: this.#scheduled,
      now: this.#now,
      log: (entry) => this.logs.push(entry),
      durableClientData: () => ({}),
    });
    this.#work = [];
    if (outcome.kind === 'running') {
      this.#work = outcome.work;
      for (const work of outcome.work) {
        this.history.push(work.scheduled);
        this.#scheduled.add(work.taskId);
        if (work.kind === 'immediate') this.#pending.push(work.completion);
      }
    }
    this.history.push(historyEvent(EventType.OrchestratorCompleted, this.#now));
    return outcome;
  }

  /** The activities the last episode scheduled (including re-attempts of retried ones). */
  activities(): ScheduledActivity[] {
    return this.#work.flatMap((work) =>
      work.kind === 'activity'
        ? [
            {
              taskId: work.taskId,
              name: work.name,
              input: work.inputJson === undefined ? undefined : JSON.parse(work.inputJson),
              ...(work.retryOptions ? { retryOptions: { ...work.retryOptions } } : {}),
            },
          ]
        : [],
    );
  }

  /** The timers the last episode created (retry back-off timers included): task id and delay in ms. */
  timers(): { taskId: number; delayInMs: number }[] {
    return this.#work.flatMap((work) =>
      work.kind === 'timer' ? [{ taskId: work.taskId, delayInMs: new Date(work.fireAt).getTime() - this.#now.getTime() }] : [],
    );
  }

  /** The sub-orchestrations the last episode started. */
  subOrchestrations(): { taskId: number; name: string; instanceId: string; input: unknown }[] {
    return this.#work.flatMap((work) =>
      work.kind === 'subOrchestration'
        ? [{ taskId: work.taskId, name: work.name, instanceId: work.childInstanceId, input: work.inputJson === undefined ? undefined : JSON.parse(work.inputJson) }]
        : [],
    );
  }

  complete(taskId: number, result: unknown): this {
    this.#pending.push(historyEvent(EventType.TaskCompleted, this.#now, { TaskScheduledId: taskId, Result: JSON.stringify(result ?? null) }));
    return this;
  }

  /** An activity attempt that threw, as the worker reports it. */
  fail(taskId: number, name: string, message: string): this {
    this.#pending.push(
      historyEvent(EventType.TaskFailed, this.#now, {
        TaskScheduledId: taskId,
        Reason: `Activity function '${name}' failed: ${message}`,
        Details: `Error: ${message}\n    at activity`,
        FailureDetails: { ErrorType: 'Error', ErrorMessage: message, IsNonRetriable: false },
      }),
    );
    return this;
  }

  completeSubOrchestration(taskId: number, result: unknown): this {
    this.#pending.push(
      historyEvent(EventType.SubOrchestrationInstanceCompleted, this.#now, { TaskScheduledId: taskId, Result: JSON.stringify(result ?? null) }),
    );
    return this;
  }

  failSubOrchestration(taskId: number, message: string): this {
    this.#pending.push(
      historyEvent(EventType.SubOrchestrationInstanceFailed, this.#now, {
        TaskScheduledId: taskId,
        Reason: message,
        Details: '',
        FailureDetails: { ErrorType: 'Error', ErrorMessage: message, IsNonRetriable: false },
      }),
    );
    return this;
  }

  /** Fires a timer the last episode created, after moving the clock to its due time. */
  fireTimer(taskId: number): this {
    const timer = this.#work.find((work) => work.kind === 'timer' && work.taskId === taskId);
    if (!timer || timer.kind !== 'timer') throw new Error(`no timer ${taskId} in the last episode`);
    this.#now = new Date(Math.max(this.#now.getTime(), new Date(timer.fireAt).getTime()));
    this.#pending.push(historyEvent(EventType.TimerFired, this.#now, { TimerId: taskId, FireAt: timer.fireAt }));
    return this;
  }
}
