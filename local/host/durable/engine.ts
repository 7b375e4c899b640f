import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FunctionInfo } from '../catalog.js';
import { buildInputData } from '../catalog.js';
import type { Registration } from '../coreStub.js';
import { hostLog } from '../log.js';
import type { LogSink } from '../log.js';
import { invokeRegistration } from '../rpc.js';
import type { Clock } from './clock.js';
import { decideEpisode } from './episode.js';
import type { EpisodeOutcome, Work } from './episode.js';
import { failureDetailsFromError } from './failures.js';
import { EventType, completedTaskId, historyEvent, isSchedulingEvent } from './history.js';
import type { FailureDetailsDto, HistoryEvent } from './history.js';
import { Journal, ensureJournalDir, journalFileName, readJournals } from './journal.js';
import { StartLog, readStartLog, removeStartLogFiles } from './startLog.js';
import type { StartLogEntry } from './startLog.js';
import { Semaphore } from './semaphore.js';
import type { Foreground } from './semaphore.js';

/** Runtime statuses, as the status API names them. */
export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated';

/** Statuses in which an instance id may be started again (`overridableExistingInstanceStates: NonRunningStates`). */
export const NON_RUNNING_STATUSES: readonly RuntimeStatus[] = ['Completed', 'Failed', 'Terminated'];

/** Where a sub-orchestration reports back to. */
export interface ParentRef {
  instanceId: string;
  executionId: string;
  taskId: number;
}

/** A snapshot of one instance (what `getInstance` returns; `history` is the raw history the orchestrator replays). */
export interface InstanceSnapshot {
  instanceId: string;
  name: string;
  executionId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  failureDetails: FailureDetailsDto | undefined;
  createdTime: Date;
  lastUpdatedTime: Date;
  parentInstanceId: string | undefined;
  history: HistoryEvent[];
}

/** Thrown by `startNew` when the instance id is pending or running. */
export class InstanceAlreadyExistsError extends Error {
  readonly status: RuntimeStatus;
  constructor(status: RuntimeStatus) {
    // the exact message of DurableTask's OrchestrationAlreadyExistsException
    super(`An Orchestration instance with the status ${status} already exists.`);
    this.name = 'InstanceAlreadyExistsError';
    this.status = status;
  }
}

/** Thrown by `startNew` for a name that is not a registered orchestrator. */
export class UnknownOrchestratorError extends Error {
  constructor(name: string) {
    super(`The function '${name}' doesn't exist, is disabled, or is not an orchestrator function. Additional info: No orchestrator functions are currently registered!`);
    this.name = 'UnknownOrchestratorError';
  }
}

type JournalRecord =
  | {
      kind: 'start';
      instanceId: string;
      name: string;
      executionId: string;
      input?: string;
      createdTime: string;
      parent?: ParentRef;
      carried?: HistoryEvent[];
      /** Orders the starts of one id across the start log and the instance's journal (absent in older journals: 0). */
      startSeq?: number;
    }
  | { kind: 'message'; seq: number; event: HistoryEvent }
  | {
      kind: 'episode';
      consumed: number[];
      events: HistoryEvent[];
      status: RuntimeStatus;
      output?: unknown;
      customStatus?: unknown;
      failureDetails?: FailureDetailsDto;
      time: string;
    }
  | { kind: 'terminated'; reason: string; time: string };

/** Start log records: starts of new instances, and purges (a start before a purge must not come back). */
type StartLogRecord = Extract<JournalRecord, { kind: 'start' }> | { kind: 'purged'; instanceId: string; startSeq: number };

interface Instance {
  id: string;
  name: string;
  executionId: string;
  inputJson: string | undefined;
  createdTime: Date;
  lastUpdatedTime: Date;
  status: RuntimeStatus;
  output: unknown;
  customStatus: unknown;
  failureDetails: FailureDetailsDto | undefined;
  parent: ParentRef | undefined;
  history: HistoryEvent[];
  scheduledIds: Set<number>;
  completedIds: Set<number>;
  inbox: { seq: number; event: HistoryEvent }[];
  nextSeq: number;
  journal: Journal;
  startSeq: number;
  busy: boolean;
  dirty: boolean;
  timers: Map<number, () => void>;
}

/** What the engine needs from the host. */
export interface DurableEngineOptions {
  dir: string;
  log: LogSink;
  clock: Clock;
  activityConcurrency: number;
  /** Maximum orchestrator episodes running at once (host.json `maxConcurrentOrchestratorFunctions`). */
  orchestratorConcurrency?: number;
  /** The requests the host is answering: while there are any, durable work waits (see `Semaphore`). */
  foreground?: Foreground;
  lookup: (name: string) => { info: FunctionInfo; registration: Registration } | undefined;
  durableClientData: () => unknown;
}

/** Filters of `list` (the status query API). */
export interface InstanceFilter {
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: RuntimeStatus[];
  instanceIdPrefix?: string;
}

const TERMINAL: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The local durable engine: keeps orchestration instances in an append-only journal per instance, drives the
 * registered orchestrator handlers with real history (one episode per batch of new messages), runs activities with
 * bounded concurrency, timers on the engine clock, sub-orchestrations, external events, continue-as-new and
 * termination, and resumes every unfinished instance from its journal on start.
 */
export class DurableEngine {
  readonly #options: DurableEngineOptions;
  readonly #instances = new Map<string, Instance>();
  readonly #activities: Semaphore;
  readonly #orchestrators: Semaphore;
  readonly #events = new EventEmitter();
  #closed = false;
  readonly #inflight = new Set<Promise<unknown>>();
  /** Instance ids whose start is in progress (checked, not yet journaled). */
  readonly #starting = new Set<string>();
  /** The durable record of new instances' starts (group-committed; their own journals are written with their first episode). */
  #starts: StartLog | undefined;
  #nextStartSeq = 1;
  /** Resolves once `start` has recovered the journals and the start log (a start before that would race recovery). */
  readonly #recovered: Promise<void>;
  #markRecovered: () => void = () => undefined;

  constructor(options: DurableEngineOptions) {
    this.#options = options;
    const gate = options.foreground ? { foreground: options.foreground } : {};
    this.#activities = new Semaphore(options.activityConcurrency, gate);
    this.#orchestrators = new Semaphore(options.orchestratorConcurrency ?? options.activityConcurrency, gate);
    this.#events.setMaxListeners(0);
    this.#recovered = new Promise((resolve) => {
      this.#markRecovered = resolve;
    });
  }

  /** The activity concurrency limit. */
  get activityConcurrency(): number {
    return this.#activities.limit;
  }

  /** The orchestrator concurrency limit (episodes running at once). */
  get orchestratorConcurrency(): number {
    return this.#orchestrators.limit;
  }

  /** Loads every journal and resumes unfinished instances (re-running activities whose result was not recorded). */
  async start(): Promise<void> {
    await ensureJournalDir(this.#options.dir);
    for (const { file, records } of await readJournals(this.#options.dir)) {
      const instance = this.#rebuild(file, records as JournalRecord[]);
      if (instance) this.#instances.set(instance.id, instance);
    }
    await this.#recoverStarts();
    this.#markRecovered();
    for (const instance of this.#instances.values()) {
      if (TERMINAL.has(instance.status)) continue;
      hostLog(this.#options.log, 'information', `Resuming orchestration instance '${instance.id}' (${instance.status})`, instance.name);
      this.#resumeOutstanding(instance);
      if (instance.inbox.length > 0) this.#schedule(instance);
    }
  }

  /** Stops timers and waits for journal writes; in-flight activities finish but their results are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const instance of this.#instances.values()) {
      for (const cancel of instance.timers.values()) cancel();
      instance.timers.clear();
    }
    await Promise.allSettled([...this.#inflight]);
    await Promise.all([...this.#instances.values()].map((i) => i.journal.close()));
    await this.#starts?.close();
  }

  #startLog(): StartLog {
    if (!this.#starts) throw new Error('the durable engine has not started');
    return this.#starts;
  }

  /**
   * Brings the starts the start log holds into the instances' journals: per instance id the latest of its journal's
   * start, the log's starts and purges (by `startSeq`; the journal wins a tie) decides. Then the log files go.
   */
  async #recoverStarts(): Promise<void> {
    const log = await readStartLog(this.#options.dir);
    const latest = new Map<string, StartLogRecord>();
    let maxSeq = 0;
    for (const instance of this.#instances.values()) maxSeq = Math.max(maxSeq, instance.startSeq);
    for (const record of log.records as StartLogRecord[]) {
      if (record.kind !== 'start' && record.kind !== 'purged') continue;
      const seq = record.startSeq ?? 0;
      maxSeq = Math.max(maxSeq, seq);
      const known = latest.get(record.instanceId);
      if (!known || seq >= (known.startSeq ?? 0)) latest.set(record.instanceId, record);
    }
    for (const [instanceId, record] of latest) {
      const own = this.#instances.get(instanceId);
      if (own && own.startSeq >= (record.startSeq ?? 0)) continue;
      const file = path.join(this.#options.dir, journalFileName(instanceId));
      if (record.kind === 'purged') {
        // the purge was acknowledged, the journal's deletion did not happen
        this.#instances.delete(instanceId);
        await rm(file, { force: true });
        continue;
      }
      const journal = new Journal(file);
      await journal.create([record]);
      this.#instances.set(instanceId, this.#fresh(record, journal));
    }
    await removeStartLogFiles(log.files);
    this.#nextStartSeq = maxSeq + 1;
    this.#starts = new StartLog(this.#options.dir, { firstSegment: log.nextSegment });
  }

  /**
   * Starts an orchestration. A pending or running instance with the same id is refused with
   * `InstanceAlreadyExistsError`; a completed, failed or terminated one starts again (its history is replaced).
   */
  async startNew(name: string, options: { instanceId?: string; input?: unknown; parent?: ParentRef } = {}): Promise<string> {
    const target = this.#options.lookup(name);
    if (!target || target.info.triggerType !== 'orchestrationTrigger') throw new UnknownOrchestratorError(name);
    await this.#recovered;
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    const existing = this.#instances.get(instanceId);
    if (existing && !TERMINAL.has(existing.status)) throw new InstanceAlreadyExistsError(existing.status);
    // A start of this id is between its check and its journal write: this one is a duplicate of a pending start.
    if (this.#starting.has(instanceId)) throw new InstanceAlreadyExistsError('Pending');
    this.#starting.add(instanceId);
    try {
      return await this.#startChecked(name, instanceId, existing, options);
    } finally {
      this.#starting.delete(instanceId);
    }
  }

  async #startChecked(name: string, instanceId: string, existing: Instance | undefined, options: { input?: unknown; parent?: ParentRef }): Promise<string> {
    const now = this.#options.clock.now();
    const record: Extract<JournalRecord, { kind: 'start' }> = {
      kind: 'start',
      instanceId,
      name,
      executionId: randomUUID().replace(/-/g, ''),
      ...(options.input !== undefined ? { input: JSON.stringify(options.input) } : {}),
      createdTime: now.toISOString(),
      ...(options.parent ? { parent: options.parent } : {}),
      startSeq: this.#nextStartSeq++,
    };
    let journal: Journal;
    if (existing) {
      journal = existing.journal;
      for (const cancel of existing.timers.values()) cancel();
      journal.reopen();
      await journal.replace([record]);
    } else {
      // A new id's start is durable in the shared start log (one write + fdatasync for all the starts of a moment);
      // its own journal gets the record with its first episode or message, in the same write.
      const entry: StartLogEntry = await this.#startLog().appendStart(record);
      journal = new Journal(path.join(this.#options.dir, journalFileName(instanceId)), { firstRecords: [record], onFirstWritten: () => entry.written() });
    }
    const instance = this.#fresh(record, journal);
    this.#instances.set(instanceId, instance);
    // Sub-orchestrations (relay parts, repair relays) are their parent's detail: a wide fan-out stays a few lines.
    hostLog(this.#options.log, options.parent ? 'debug' : 'information', `Started orchestration instance '${instanceId}'`, name);
    this.#schedule(instance);
    return instanceId;
  }

  /** A snapshot of one instance, or undefined. */
  get(instanceId: string): InstanceSnapshot | undefined {
    const instance = this.#instances.get(instanceId);
    return instance ? this.#snapshot(instance) : undefined;
  }

  /** Snapshots of the instances matching the filter, oldest first. */
  list(filter: InstanceFilter = {}): InstanceSnapshot[] {
    return [...this.#instances.values()]
      .filter(
        (i) =>
          (!filter.createdTimeFrom || i.createdTime >= filter.createdTimeFrom) &&
          (!filter.createdTimeTo || i.createdTime <= filter.createdTimeTo) &&
          (!filter.runtimeStatus || filter.runtimeStatus.length === 0 || filter.runtimeStatus.includes(i.status)) &&
          (!filter.instanceIdPrefix || i.id.startsWith(filter.instanceIdPrefix)),
      )
      .sort((a, b) => a.createdTime.getTime() - b.createdTime.getTime())
      .map((i) => this.#snapshot(i));
  }

  /** Raises an external event; `notFound` for an unknown instance, `gone` for a finished one. */
  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<'accepted' | 'notFound' | 'gone'> {
    const instance = this.#instances.get(instanceId);
    if (!instance) return 'notFound';
    if (TERMINAL.has(instance.status)) return 'gone';
    const event = historyEvent(EventType.EventRaised, this.#options.clock.now(), {
      Name: eventName,
      ...(data !== undefined ? { Input: JSON.stringify(data) } : {}),
    });
    await this.#deliver(instance.id, instance.executionId, event);
    return 'accepted';
  }

  /** Terminates a running instance; `notFound` / `gone` as the HTTP API reports them. */
  async terminate(instanceId: string, reason: string): Promise<'accepted' | 'notFound' | 'gone'> {
    const instance = this.#instances.get(instanceId);
    if (!instance) return 'notFound';
    if (TERMINAL.has(instance.status)) return 'gone';
    const time = this.#options.clock.now();
    await instance.journal.append({ kind: 'terminated', reason, time: time.toISOString() } satisfies JournalRecord);
    this.#applyTerminated(instance, reason, time);
    hostLog(this.#options.log, 'information', `Terminated orchestration instance '${instanceId}'`, instance.name);
    this.#finished(instance);
    return 'accepted';
  }

  /** Deletes a finished instance's state; `notTerminal` while it is pending or running. */
  async purge(instanceId: string): Promise<'deleted' | 'notFound' | 'notTerminal'> {
    const instance = this.#instances.get(instanceId);
    if (!instance) return 'notFound';
    if (!TERMINAL.has(instance.status)) return 'notTerminal';
    this.#instances.delete(instanceId);
    // the start log may still hold a start of this id: recovery must not bring it back
    await this.#startLog().append({ kind: 'purged', instanceId, startSeq: this.#nextStartSeq++ } satisfies StartLogRecord);
    await instance.journal.remove();
    return 'deleted';
  }

  /** Waits until the instance reaches Completed, Failed or Terminated; rejects after `timeoutInMs`. */
  waitForInstance(instanceId: string, timeoutInMs: number): Promise<InstanceSnapshot> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const instance = this.#instances.get(instanceId);
        if (instance && TERMINAL.has(instance.status)) {
          cleanup();
          resolve(this.#snapshot(instance));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        const status = this.#instances.get(instanceId)?.status ?? 'not found';
        reject(new Error(`Instance '${instanceId}' did not finish within ${timeoutInMs} ms (status: ${status})`));
      }, timeoutInMs);
      const listener = (id: string): void => {
        if (id === instanceId) check();
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#events.off('finished', listener);
      };
      this.#events.on('finished', listener);
      check();
    });
  }

  #fresh(record: Extract<JournalRecord, { kind: 'start' }>, journal: Journal): Instance {
    const created = new Date(record.createdTime);
    const started = historyEvent(EventType.ExecutionStarted, created, {
      Name: record.name,
      Version: '',
      ...(record.input !== undefined ? { Input: record.input } : {}),
    });
    const carried = record.carried ?? [];
    return {
      id: record.instanceId,
      name: record.name,
      executionId: record.executionId,
      inputJson: record.input,
      createdTime: created,
      lastUpdatedTime: created,
      status: 'Pending',
      output: null,
      customStatus: null,
      failureDetails: undefined,
      parent: record.parent,
      history: [],
      scheduledIds: new Set(),
      completedIds: new Set(),
      inbox: [{ seq: 0, event: started }, ...carried.map((event, i) => ({ seq: i + 1, event }))],
      nextSeq: carried.length + 1,
      journal,
      startSeq: record.startSeq ?? 0,
      busy: false,
      dirty: false,
      timers: new Map(),
    };
  }

  #rebuild(file: string, records: JournalRecord[]): Instance | undefined {
    const journal = new Journal(file);
    let instance: Instance | undefined;
    for (const record of records) {
      if (record.kind === 'start') {
        instance = this.#fresh(record, journal);
      } else if (!instance) {
        continue;
      } else if (record.kind === 'message') {
        instance.inbox.push({ seq: record.seq, event: record.event });
        instance.nextSeq = Math.max(instance.nextSeq, record.seq + 1);
      } else if (record.kind === 'episode') {
        const consumed = new Set(record.consumed);
        instance.inbox = instance.inbox.filter((m) => !consumed.has(m.seq));
        this.#applyEpisode(instance, record);
      } else if (record.kind === 'terminated') {
        this.#applyTerminated(instance, record.reason, new Date(record.time));
      }
    }
    return instance;
  }

  #appendHistory(instance: Instance, events: HistoryEvent[]): void {
    for (const event of events) {
      instance.history.push(event);
      if (isSchedulingEvent(event)) instance.scheduledIds.add(event.EventId);
      const done = completedTaskId(event);
      if (done !== undefined) instance.completedIds.add(done);
    }
  }

  #applyEpisode(instance: Instance, record: Extract<JournalRecord, { kind: 'episode' }>): void {
    this.#appendHistory(instance, record.events);
    instance.status = record.status;
    instance.lastUpdatedTime = new Date(record.time);
    if (record.customStatus !== undefined) instance.customStatus = record.customStatus;
    if (record.output !== undefined) instance.output = record.output;
    instance.failureDetails = record.failureDetails;
  }

  #applyTerminated(instance: Instance, reason: string, time: Date): void {
    this.#appendHistory(instance, [historyEvent(EventType.ExecutionTerminated, time, { Input: JSON.stringify(reason) })]);
    instance.status = 'Terminated';
    instance.output = reason;
    instance.lastUpdatedTime = time;
    instance.inbox = [];
  }

  #snapshot(instance: Instance): InstanceSnapshot {
    return {
      instanceId: instance.id,
      name: instance.name,
      executionId: instance.executionId,
      runtimeStatus: instance.status,
      input: parseJson(instance.inputJson),
      output: instance.output ?? null,
      customStatus: instance.customStatus ?? null,
      failureDetails: instance.failureDetails,
      createdTime: instance.createdTime,
      lastUpdatedTime: instance.lastUpdatedTime,
      parentInstanceId: instance.parent?.instanceId,
      history: instance.history.map((e) => ({ ...e })),
    };
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    void promise.finally(() => this.#inflight.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** Records a message for an instance (durably) and schedules an episode; dropped when the execution is over. */
  async #deliver(instanceId: string, executionId: string, event: HistoryEvent): Promise<void> {
    if (this.#closed) return;
    const instance = this.#instances.get(instanceId);
    if (!instance || instance.executionId !== executionId || TERMINAL.has(instance.status)) return;
    const seq = instance.nextSeq++;
    await instance.journal.append({ kind: 'message', seq, event } satisfies JournalRecord);
    if (instance.executionId !== executionId || TERMINAL.has(instance.status)) return;
    instance.inbox.push({ seq, event });
    this.#schedule(instance);
  }

  #schedule(instance: Instance): void {
    if (this.#closed) return;
    if (instance.busy) {
      instance.dirty = true;
      return;
    }
    instance.busy = true;
    // setImmediate lets completions that arrive in the same turn join this episode
    setImmediate(() => {
      void this.#track(this.#runEpisodes(instance));
    });
  }

  async #runEpisodes(instance: Instance): Promise<void> {
    try {
      do {
        instance.dirty = false;
        if (this.#closed || TERMINAL.has(instance.status) || instance.inbox.length === 0) break;
        // Messages that arrive while the episode waits for a slot join it (its batch is taken when it runs).
        await this.#orchestrators.run(async () => {
          if (this.#closed || TERMINAL.has(instance.status) || instance.inbox.length === 0) return;
          await this.#runEpisode(instance);
        });
      } while (instance.dirty || instance.inbox.length > 0);
    } catch (error) {
      hostLog(this.#options.log, 'error', `Durable engine error for instance '${instance.id}': ${error instanceof Error ? error.stack : String(error)}`, instance.name);
    } finally {
      instance.busy = false;
      if (!this.#closed && instance.inbox.length > 0 && !TERMINAL.has(instance.status)) this.#schedule(instance);
    }
  }

  async #runEpisode(instance: Instance): Promise<void> {
    const batch = instance.inbox.splice(0, instance.inbox.length);
    const executionId = instance.executionId;
    const now = this.#options.clock.now();
    const newEvents = [historyEvent(EventType.OrchestratorStarted, now), ...batch.map((m) => m.event)];
    const target = this.#options.lookup(instance.name);
    let outcome: EpisodeOutcome;
    if (!target || target.info.triggerType !== 'orchestrationTrigger') {
      outcome = { kind: 'failed', message: `The function '${instance.name}' doesn't exist or is not an orchestrator function.`, failureDetails: undefined, customStatus: undefined };
    } else {
      outcome = await decideEpisode({
        target,
        instanceId: instance.id,
        parentInstanceId: instance.parent?.instanceId,
        input: parseJson(instance.inputJson),
        history: [...instance.history, ...newEvents],
        scheduledIds: instance.scheduledIds,
        now,
        log: this.#options.log,
        durableClientData: this.#options.durableClientData,
      });
    }
    if (instance.executionId !== executionId || TERMINAL.has(instance.status)) return;

    const closing = historyEvent(EventType.OrchestratorCompleted, now);
    const record: Extract<JournalRecord, { kind: 'episode' }> = {
      kind: 'episode',
      consumed: batch.map((m) => m.seq),
      events: [],
      status: 'Running',
      time: now.toISOString(),
      ...(outcome.customStatus !== undefined ? { customStatus: outcome.customStatus } : {}),
    };
    switch (outcome.kind) {
      case 'running':
        record.events = [...newEvents, ...outcome.work.map((w) => w.scheduled), closing];
        break;
      case 'completed':
        record.status = 'Completed';
        record.output = outcome.output ?? null;
        record.events = [
          ...newEvents,
          closing,
          historyEvent(EventType.ExecutionCompleted, now, { OrchestrationStatus: 'Completed', Result: JSON.stringify(outcome.output ?? null) }),
        ];
        break;
      case 'failed': {
        const message = `Orchestrator function '${instance.name}' failed: ${outcome.message}`;
        record.status = 'Failed';
        record.output = message;
        if (outcome.failureDetails) record.failureDetails = outcome.failureDetails;
        record.events = [
          ...newEvents,
          closing,
          historyEvent(EventType.ExecutionCompleted, now, {
            OrchestrationStatus: 'Failed',
            Result: JSON.stringify(message),
            ...(outcome.failureDetails ? { FailureDetails: outcome.failureDetails } : {}),
          }),
        ];
        break;
      }
      case 'continuedAsNew':
        record.status = 'ContinuedAsNew';
        record.events = [...newEvents, closing];
        break;
    }
    await instance.journal.append(record);
    if (instance.executionId !== executionId || TERMINAL.has(instance.status)) return;
    this.#applyEpisode(instance, record);

    if (outcome.kind === 'running') {
      for (const work of outcome.work) this.#dispatch(instance, work);
      for (const id of outcome.cancelledTimerIds) {
        instance.timers.get(id)?.();
        instance.timers.delete(id);
      }
    } else if (outcome.kind === 'continuedAsNew') {
      await this.#continueAsNew(instance, outcome.input, outcome.customStatus);
    } else {
      const level = outcome.kind === 'failed' ? 'error' : instance.parent ? 'debug' : 'information';
      hostLog(this.#options.log, level, `Orchestration instance '${instance.id}' ${record.status.toLowerCase()}`, instance.name);
      this.#finished(instance);
    }
  }

  async #continueAsNew(instance: Instance, input: unknown, customStatus: unknown): Promise<void> {
    const carried = instance.inbox.filter((m) => m.event.EventType === EventType.EventRaised).map((m) => m.event);
    const record: Extract<JournalRecord, { kind: 'start' }> = {
      kind: 'start',
      instanceId: instance.id,
      name: instance.name,
      executionId: randomUUID().replace(/-/g, ''),
      ...(input !== undefined ? { input: JSON.stringify(input) } : {}),
      createdTime: instance.createdTime.toISOString(),
      ...(instance.parent ? { parent: instance.parent } : {}),
      carried,
      startSeq: instance.startSeq,
    };
    for (const cancel of instance.timers.values()) cancel();
    await instance.journal.replace([record]);
    // reset in place: the episode loop running on this object continues with the new execution
    const next = this.#fresh(record, instance.journal);
    Object.assign(instance, {
      ...next,
      status: 'Running',
      lastUpdatedTime: this.#options.clock.now(),
      customStatus: customStatus ?? instance.customStatus,
      busy: instance.busy,
      dirty: true,
    });
    hostLog(this.#options.log, 'information', `Orchestration instance '${instance.id}' continued as new`, instance.name);
  }

  #finished(instance: Instance): void {
    for (const cancel of instance.timers.values()) cancel();
    instance.timers.clear();
    // A finished instance's journal is rarely written again (a restart replaces it): keep no file open per instance.
    void this.#track(instance.journal.release());
    this.#events.emit('finished', instance.id);
    const parent = instance.parent;
    if (!parent) return;
    const now = this.#options.clock.now();
    let event: HistoryEvent;
    if (instance.status === 'Completed') {
      event = historyEvent(EventType.SubOrchestrationInstanceCompleted, now, { TaskScheduledId: parent.taskId, Result: JSON.stringify(instance.output ?? null) });
    } else {
      const reason = instance.status === 'Terminated' ? `Orchestrator function '${instance.name}' was terminated: ${String(instance.output)}` : String(instance.output);
      event = historyEvent(EventType.SubOrchestrationInstanceFailed, now, {
        TaskScheduledId: parent.taskId,
        Reason: reason,
        Details: instance.failureDetails?.StackTrace ?? '',
        ...(instance.failureDetails ? { FailureDetails: instance.failureDetails } : {}),
      });
    }
    void this.#track(this.#deliver(parent.instanceId, parent.executionId, event));
  }

  #dispatch(instance: Instance, work: Work): void {
    const executionId = instance.executionId;
    switch (work.kind) {
      case 'activity':
        void this.#track(this.#runActivity(instance.id, executionId, work.taskId, work.name, work.inputJson));
        break;
      case 'timer':
        this.#armTimer(instance, work.taskId, new Date(work.fireAt));
        break;
      case 'subOrchestration':
        void this.#track(this.#startChild(instance, work.taskId, work.name, work.childInstanceId, work.inputJson));
        break;
      case 'immediate':
        void this.#track(this.#deliver(instance.id, executionId, work.completion));
        break;
    }
  }

  #armTimer(instance: Instance, taskId: number, fireAt: Date): void {
    if (instance.timers.has(taskId)) return;
    const executionId = instance.executionId;
    const cancel = this.#options.clock.setTimer(fireAt, () => {
      instance.timers.delete(taskId);
      const fired = historyEvent(EventType.TimerFired, this.#options.clock.now(), { TimerId: taskId, FireAt: fireAt.toISOString() });
      void this.#track(this.#deliver(instance.id, executionId, fired));
    });
    instance.timers.set(taskId, cancel);
  }

  async #runActivity(instanceId: string, executionId: string, taskId: number, name: string, inputJson: string | undefined): Promise<void> {
    await this.#activities.run(async () => {
      if (this.#closed) return;
      const current = this.#instances.get(instanceId);
      if (!current || current.executionId !== executionId || TERMINAL.has(current.status)) return;
      const now = (): Date => this.#options.clock.now();
      const target = this.#options.lookup(name);
      let completion: HistoryEvent;
      if (!target || target.info.triggerType !== 'activityTrigger') {
        const failure: FailureDetailsDto = { ErrorType: 'Error', ErrorMessage: `The function '${name}' doesn't exist or is not an activity function.`, IsNonRetriable: false };
        completion = historyEvent(EventType.TaskFailed, now(), { TaskScheduledId: taskId, Reason: `Activity function '${name}' failed: ${failure.ErrorMessage}`, Details: '', FailureDetails: failure });
      } else {
        try {
          const result = await invokeRegistration(
            target.registration,
            {
              inputData: buildInputData(target.info, inputJson === undefined ? {} : { string: inputJson }, this.#options.durableClientData),
              triggerMetadata: { instanceId: { string: instanceId } },
            },
            { log: this.#options.log },
          );
          completion = historyEvent(EventType.TaskCompleted, now(), { TaskScheduledId: taskId, Result: JSON.stringify(result.result ?? null) });
        } catch (error) {
          const failure = failureDetailsFromError(error);
          completion = historyEvent(EventType.TaskFailed, now(), {
            TaskScheduledId: taskId,
            Reason: `Activity function '${name}' failed: ${failure.ErrorMessage}`,
            Details: failure.StackTrace ?? '',
            FailureDetails: failure,
          });
        }
      }
      await this.#deliver(instanceId, executionId, completion);
    });
  }

  async #startChild(parent: Instance, taskId: number, name: string, childId: string, inputJson: string | undefined): Promise<void> {
    const parentRef: ParentRef = { instanceId: parent.id, executionId: parent.executionId, taskId };
    const existing = this.#instances.get(childId);
    if (existing && existing.parent && existing.parent.instanceId === parentRef.instanceId && existing.parent.executionId === parentRef.executionId && existing.parent.taskId === taskId) {
      // already started by this very task (resume after a restart)
      if (TERMINAL.has(existing.status)) this.#finished(existing);
      return;
    }
    try {
      await this.startNew(name, { instanceId: childId, input: parseJson(inputJson), parent: parentRef });
    } catch (error) {
      const failure = failureDetailsFromError(error);
      const event = historyEvent(EventType.SubOrchestrationInstanceFailed, this.#options.clock.now(), {
        TaskScheduledId: taskId,
        Reason: `Orchestrator function '${name}' failed: ${failure.ErrorMessage}`,
        Details: '',
        FailureDetails: failure,
      });
      await this.#deliver(parent.id, parent.executionId, event);
    }
  }

  /** After a restart: re-dispatches every scheduled task without a recorded completion. */
  #resumeOutstanding(instance: Instance): void {
    const pending = new Set(instance.inbox.map((m) => completedTaskId(m.event)).filter((id): id is number => id !== undefined));
    for (const event of instance.history) {
      if (!isSchedulingEvent(event) || instance.completedIds.has(event.EventId) || pending.has(event.EventId)) continue;
      if (event.EventType === EventType.TaskScheduled) {
        this.#dispatch(instance, { kind: 'activity', taskId: event.EventId, name: event.Name ?? '', inputJson: event.Input, scheduled: event });
      } else if (event.EventType === EventType.TimerCreated) {
        this.#dispatch(instance, { kind: 'timer', taskId: event.EventId, fireAt: event.FireAt ?? event.Timestamp, scheduled: event });
      } else {
        this.#dispatch(instance, { kind: 'subOrchestration', taskId: event.EventId, name: event.Name ?? '', childInstanceId: event.InstanceId ?? '', inputJson: event.Input, scheduled: event });
      }
    }
  }
}
