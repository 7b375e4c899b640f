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
  /**
   * A bucket shared with the app's other instances (see `blobWriteTokens`): tokens are claimed from it, a few at a
   * time, instead of refilled locally, so the budget holds across instances. Needs `key`.
   */
  readonly store?: WriteTokenStore;
  /** The shared bucket's key (a vault host, `kubernetes:<cluster>`). */
  readonly key?: string;
}

/** A token bucket kept outside the process, shared by every instance that uses the same key. */
export interface WriteTokenStore {
  /**
   * Takes between one and `wanted` tokens from bucket `key` (size `writes`, refilled in `perSeconds`) if any is
   * there; else grants none and says when one will be. Throws `TransientTargetError` when the store cannot be used.
   */
  claim(key: string, request: { readonly wanted: number; readonly writes: number; readonly perSeconds: number }): Promise<{ granted: number; retryInMs: number }>;
}

/** Claimed tokens a process may hold unused before they lapse (so held tokens cannot add up to a burst later). */
const HOLD_IN_MS = 1_000;

let defaultStore: WriteTokenStore | undefined;

/**
 * Makes every budget `sharedWriteBudget` creates from now on claim its tokens from `store` (shared by every instance
 * of the app), or, with `undefined`, refill in this process only. Called once by the composition root.
 */
export function useSharedWriteTokens(store: WriteTokenStore | undefined): void {
  if (store === defaultStore) return;
  defaultStore = store;
  sharedBudgets.clear();
}

/**
 * A token bucket that paces writes to one target. `take()` resolves when a write may go out; callers queue in order.
 * Reads are never budgeted. One budget is shared by every client of the same vault in the process (see
 * `sharedWriteBudget`), because the service limit is per vault, not per client. With a `store`, the bucket itself is
 * shared by every instance of the app: the process claims tokens from it (as many as it has writers waiting, or
 * twice its last claim when that was used up within its hold time; up to a tenth of the bucket, held at most a
 * second) instead of refilling its own.
 */
export class WriteBudget {
  readonly writes: number;
  readonly perSeconds: number;
  private readonly clock: () => number;
  private readonly sleep: Sleep;
  private tokens: number;
  private lastRefillInMs: number;
  private queue: Promise<void> = Promise.resolve();
  private readonly store: WriteTokenStore | undefined;
  private readonly key: string;
  private waiting = 0;
  private heldAtInMs = 0;
  private lastGranted = 0;

  constructor(options: WriteBudgetOptions = {}) {
    this.writes = options.writes ?? DEFAULT_WRITE_BUDGET.writes;
    this.perSeconds = options.perSeconds ?? DEFAULT_WRITE_BUDGET.perSeconds;
    if (!(this.writes >= 1) || !Number.isFinite(this.writes)) throw new RangeError(`writes must be ≥ 1; got ${this.writes}`);
    if (!(this.perSeconds > 0) || !Number.isFinite(this.perSeconds)) {
      throw new RangeError(`perSeconds must be > 0; got ${this.perSeconds}`);
    }
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.store = options.store;
    this.key = options.key ?? '';
    if (this.store && !this.key) throw new RangeError('a shared write budget needs a key');
    this.tokens = this.store ? 0 : this.writes;
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
    this.waiting += 1;
    const turn = this.queue.then(() => (this.store ? this.claimOne(this.store, options.abortSignal) : this.takeOne(options.abortSignal))).finally(() => {
      this.waiting -= 1;
    });
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

  private async claimOne(store: WriteTokenStore, abortSignal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      if (abortSignal?.aborted) throw abortSignal.reason ?? new Error('aborted');
      const fresh = this.clock() - this.heldAtInMs < HOLD_IN_MS;
      if (this.tokens >= 1 && fresh) {
        this.tokens -= 1;
        return;
      }
      // A claim used up within its hold time asks for twice as much next time (a steady stream of writes then costs
      // a claim per many writes); one whose tokens lapsed starts again from the writers waiting now.
      this.lastGranted = fresh ? this.lastGranted * 2 : 0;
      const wanted = Math.min(Math.max(this.waiting, this.lastGranted), Math.max(1, Math.floor(this.writes / 10)));
      const { granted, retryInMs } = await store.claim(this.key, { wanted, writes: this.writes, perSeconds: this.perSeconds });
      if (granted >= 1) {
        this.tokens = granted - 1;
        this.lastGranted = granted;
        this.heldAtInMs = this.clock();
        return;
      }
      this.tokens = 0;
      this.lastGranted = 0;
      // Jitter: instances waiting on one bucket do not claim in step.
      await this.sleep(Math.max(1, retryInMs) + Math.floor(Math.random() * 25), abortSignal);
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
 * After `useSharedWriteTokens(store)` that bucket is the one in the store, shared by every instance.
 */
export function sharedWriteBudget(key: string, options: Pick<WriteBudgetOptions, 'writes' | 'perSeconds'> = {}): WriteBudget {
  const normalized = key.toLowerCase();
  let budget = sharedBudgets.get(normalized);
  if (!budget) {
    budget = new WriteBudget({ ...options, ...(defaultStore ? { store: defaultStore, key: normalized } : {}) });
    sharedBudgets.set(normalized, budget);
  }
  return budget;
}
