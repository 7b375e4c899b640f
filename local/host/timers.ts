import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FunctionInfo } from './catalog.js';
import { buildInputData } from './catalog.js';
import type { Registration } from './coreStub.js';
import { hostLog } from './log.js';
import type { LogSink } from './log.js';
import { parseNcrontab, resolveSettingExpression } from './ncrontab.js';
import type { NcrontabSchedule } from './ncrontab.js';
import { invokeRegistration } from './rpc.js';

interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

interface TimerEntry {
  info: FunctionInfo;
  registration: Registration;
  schedule: NcrontabSchedule;
  useMonitor: boolean;
  runOnStartup: boolean;
  handle: NodeJS.Timeout | undefined;
  chain: Promise<void>;
  status: ScheduleStatus | undefined;
}

/** What the scheduler needs from the host. */
export interface TimerSchedulerOptions {
  log: LogSink;
  settings: Record<string, string | undefined>;
  /** Folder for schedule status (the monitor's last/next occurrence), used to detect past-due runs across restarts. */
  statusDir: string;
  durableClientData: () => unknown;
}

const MAX_TIMEOUT_IN_MS = 2_147_483_647;

/**
 * Runs `timerTrigger` functions on their NCRONTAB schedules (UTC), resolving `%SETTING%` schedules. With the schedule
 * monitor on (`useMonitor`, default true) the last/next occurrence is kept in `statusDir`; a host that starts after a
 * recorded next occurrence runs the function at once with `isPastDue: true`. `runOnStartup` runs it once at start.
 * Invocations of one function never overlap.
 */
export class TimerScheduler {
  readonly #options: TimerSchedulerOptions;
  readonly #timers = new Map<string, TimerEntry>();
  #closed = false;

  constructor(options: TimerSchedulerOptions) {
    this.#options = options;
  }

  /** Parses every timer's schedule (throws on an invalid one) and arms them. */
  async start(functions: { info: FunctionInfo; registration: Registration }[]): Promise<void> {
    await mkdir(this.#options.statusDir, { recursive: true });
    for (const { info, registration } of functions) {
      if (info.triggerType.toLowerCase() !== 'timertrigger') continue;
      const raw = String(info.trigger['schedule'] ?? '');
      const schedule = parseNcrontab(resolveSettingExpression(raw, this.#options.settings));
      const entry: TimerEntry = {
        info,
        registration,
        schedule,
        useMonitor: info.trigger['useMonitor'] !== false,
        runOnStartup: info.trigger['runOnStartup'] === true,
        handle: undefined,
        chain: Promise.resolve(),
        status: undefined,
      };
      this.#timers.set(info.name, entry);
      if (entry.useMonitor) {
        entry.status = await this.#readStatus(info.name);
        if (!entry.status) {
          const now = new Date();
          await this.#writeStatus(info.name, { Last: now.toISOString(), Next: schedule.next(now).toISOString(), LastUpdated: now.toISOString() });
        }
      }
    }
    for (const entry of this.#timers.values()) {
      const now = new Date();
      const pastDue = entry.status !== undefined && new Date(entry.status.Next) < now;
      if (pastDue || entry.runOnStartup) void this.#run(entry, pastDue);
      this.#arm(entry);
    }
  }

  /** Runs a timer function now (as the admin API does); resolves when the invocation ends; rejects on handler error. */
  async invoke(name: string): Promise<void> {
    const entry = this.#timers.get(name);
    if (!entry) throw new Error(`No timer function named '${name}'`);
    await this.#run(entry, false, true);
  }

  /** Names of the scheduled functions with their next occurrence. */
  nextOccurrences(): Record<string, Date> {
    const now = new Date();
    return Object.fromEntries([...this.#timers.values()].map((e) => [e.info.name, e.schedule.next(now)]));
  }

  /** Disarms all timers and waits for running invocations. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#timers.values()) if (entry.handle) clearTimeout(entry.handle);
    await Promise.allSettled([...this.#timers.values()].map((e) => e.chain));
  }

  #arm(entry: TimerEntry): void {
    if (this.#closed) return;
    const next = entry.schedule.next(new Date());
    const fire = (): void => {
      const remainingInMs = next.getTime() - Date.now();
      if (remainingInMs > 0) {
        entry.handle = setTimeout(fire, Math.min(remainingInMs, MAX_TIMEOUT_IN_MS));
        return;
      }
      void this.#run(entry, false).catch(() => undefined);
      this.#arm(entry);
    };
    entry.handle = setTimeout(fire, Math.min(Math.max(0, next.getTime() - Date.now()), MAX_TIMEOUT_IN_MS));
    entry.handle.unref?.();
  }

  #run(entry: TimerEntry, isPastDue: boolean, rethrow = false): Promise<void> {
    const run = entry.chain.then(async () => {
      if (this.#closed) return;
      const now = new Date();
      const status: ScheduleStatus = {
        Last: (entry.status ? new Date(entry.status.Next) : now).toISOString(),
        Next: entry.schedule.next(now).toISOString(),
        LastUpdated: now.toISOString(),
      };
      const input = {
        Schedule: { AdjustForDST: true },
        ...(entry.useMonitor ? { ScheduleStatus: entry.status ?? status } : {}),
        IsPastDue: isPastDue,
      };
      try {
        await invokeRegistration(entry.registration, { inputData: buildInputData(entry.info, { string: JSON.stringify(input) }, this.#options.durableClientData) }, { log: this.#options.log });
      } catch (error) {
        hostLog(this.#options.log, 'error', `Executed with an error: ${error instanceof Error ? error.message : String(error)}`, entry.info.name);
        if (rethrow) throw error;
      } finally {
        if (entry.useMonitor) {
          entry.status = status;
          await this.#writeStatus(entry.info.name, status);
        }
      }
    });
    entry.chain = run.catch(() => undefined);
    return run;
  }

  #statusFile(name: string): string {
    return path.join(this.#options.statusDir, `${encodeURIComponent(name)}.json`);
  }

  async #readStatus(name: string): Promise<ScheduleStatus | undefined> {
    try {
      return JSON.parse(await readFile(this.#statusFile(name), 'utf8')) as ScheduleStatus;
    } catch {
      return undefined;
    }
  }

  async #writeStatus(name: string, status: ScheduleStatus): Promise<void> {
    const file = this.#statusFile(name);
    await writeFile(`${file}.tmp`, JSON.stringify(status));
    await rename(`${file}.tmp`, file);
  }
}
