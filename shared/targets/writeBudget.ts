import { realSleep, type Sleep } from './backoff.js';

/** Default write budget per target: 30 writes per 10 s (a tenth of Key Vault's 300 creates per 10 s per vault). */
export const DEFAULT_WRITE_BUDGET = { writes: 30, perSeconds: 10 } as const;

export interface WriteBudgetOptions {
  /** Bucket size: how many writes may go out back to back. Default 30. */
  readonly writes?: number;
  /** Time in which a full bucket refills. Default 10. */
  readonly perSeconds?: number;
  /** Milliseconds clock; injectable for tests. Default `Date.now`. */
  readonly clock?: () => number;
  /** Sleep used while waiting for a token; injectable for tests. */
  readonly sleep?: Sleep;
}

/**
 * A token bucket that paces writes to one target. `take()` resolves when a write may go out; callers queue in order.
 * Reads are never budgeted. One budget is shared by every client of the same vault in the process (see
 * `sharedWriteBudget`), because the service limit is per vault, not per client.
 */
export class WriteBudget {
  readonly writes: number;
  readonly perSeconds: number;
  private readonly clock: () => number;
  private readonly sleep: Sleep;
  private tokens: number;
  private lastRefillInMs: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: WriteBudgetOptions = {}) {
    this.writes = options.writes ?? DEFAULT_WRITE_BUDGET.writes;
    this.perSeconds = options.perSeconds ?? DEFAULT_WRITE_BUDGET.perSeconds;
    if (!(this.writes >= 1) || !Number.isFinite(this.writes)) throw new RangeError(`writes must be ≥ 1; got ${this.writes}`);
    if (!(this.perSeconds > 0) || !Number.isFinite(this.perSeconds)) {
      throw new RangeError(`perSeconds must be > 0; got ${this.perSeconds}`);
    }
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.tokens = this.writes;
    this.lastRefillInMs = this.clock();
  }

  /** Tokens available right now (fractional while refilling). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Waits for one write token and consumes it. Callers are served first come, first served. An aborted caller leaves
   * the queue without consuming a token.
   */
  take(options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    const turn = this.queue.then(() => this.takeOne(options.abortSignal));
    // The next caller waits for this one to finish, whether it got a token or was aborted.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async takeOne(abortSignal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      if (abortSignal?.aborted) throw abortSignal.reason ?? new Error('aborted');
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const msPerToken = (this.perSeconds * 1_000) / this.writes;
      await this.sleep(Math.ceil((1 - this.tokens) * msPerToken), abortSignal);
    }
  }

  private refill(): void {
    const now = this.clock();
    const elapsedInMs = Math.max(0, now - this.lastRefillInMs);
    this.lastRefillInMs = now;
    this.tokens = Math.min(this.writes, this.tokens + (elapsedInMs * this.writes) / (this.perSeconds * 1_000));
  }
}

const sharedBudgets = new Map<string, WriteBudget>();

/**
 * The process-wide budget for one key (a vault host, lower-cased). The first caller's settings create it; later
 * callers with the same key share it whatever settings they pass, so all clients of one vault draw from one bucket.
 */
export function sharedWriteBudget(key: string, options: Pick<WriteBudgetOptions, 'writes' | 'perSeconds'> = {}): WriteBudget {
  const normalized = key.toLowerCase();
  let budget = sharedBudgets.get(normalized);
  if (!budget) {
    budget = new WriteBudget(options);
    sharedBudgets.set(normalized, budget);
  }
  return budget;
}
