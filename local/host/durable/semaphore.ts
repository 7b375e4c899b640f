/**
 * Counts the requests the host is answering right now (HTTP functions, Event Grid webhooks, the durable API), so
 * durable work can give way to them. `enter()` returns the matching `leave`. The host stays busy for `quietInMs`
 * (default 10 ms) after the last request was answered: a burst's callers send their next request right after each
 * answer, and that gap is not a pause in which to start all the durable work waiting.
 */
export class Foreground {
  readonly #quietInMs: number;
  #count = 0;
  #quietUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #idle = new Set<() => void>();

  constructor(options: { quietInMs?: number } = {}) {
    this.#quietInMs = options.quietInMs ?? 10;
  }

  /** Marks one request as being answered; call the returned function once it is answered. */
  enter(): () => void {
    this.#count += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#count -= 1;
      if (this.#count > 0) return;
      this.#quietUntil = performance.now() + this.#quietInMs;
      if (this.#timer) clearTimeout(this.#timer);
      if (this.#quietInMs <= 0) {
        this.#settled();
        return;
      }
      this.#timer = setTimeout(() => this.#settled(), this.#quietInMs);
      this.#timer.unref();
    };
  }

  /** Whether a request is being answered (or was, less than `quietInMs` ago). */
  get busy(): boolean {
    return this.#count > 0 || performance.now() < this.#quietUntil;
  }

  /** Calls `listener` each time the host stops being busy; returns the unsubscribe. */
  onIdle(listener: () => void): () => void {
    this.#idle.add(listener);
    return () => this.#idle.delete(listener);
  }

  #settled(): void {
    this.#timer = undefined;
    if (this.#count > 0) return; // the next leave arms the timer again
    const left = this.#quietUntil - performance.now();
    if (left > 0) {
      this.#timer = setTimeout(() => this.#settled(), Math.ceil(left));
      this.#timer.unref();
      return;
    }
    for (const listener of [...this.#idle]) listener();
  }
}

/**
 * Limits how many async jobs run at once (the host's `maxConcurrentActivityFunctions` /
 * `maxConcurrentOrchestratorFunctions`). With a `foreground`, durable work gives way to the requests the host is
 * answering: while it is busy, a waiting job starts only when no job of this kind runs and it has waited
 * `maxDeferralInMs` (default 50 ms), so a burst of webhook calls is answered before the relays it started take the
 * CPU, and durable work still makes progress however long the requests go on. Jobs already running are never
 * interrupted; waiting jobs start in arrival order.
 */
export class Semaphore {
  readonly limit: number;
  readonly #foreground: Foreground | undefined;
  readonly #maxDeferralInMs: number;
  #running = 0;
  #waiting: { since: number; start: () => void }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(limit: number, options: { foreground?: Foreground; maxDeferralInMs?: number } = {}) {
    if (!(limit >= 1)) throw new RangeError('concurrency limit must be at least 1');
    this.limit = limit;
    this.#foreground = options.foreground;
    this.#maxDeferralInMs = options.maxDeferralInMs ?? 50;
    this.#foreground?.onIdle(() => this.#pump());
  }

  /** Runs `job` when a slot is free. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#waiting.length > 0 || !this.#mayStart(performance.now())) {
      // the slot is handed over by #pump (counted there), so a job arriving meanwhile cannot take it
      await new Promise<void>((resolve) => {
        this.#waiting.push({ since: performance.now(), start: resolve });
        this.#pump();
      });
    } else {
      this.#running += 1;
    }
    try {
      return await job();
    } finally {
      this.#running -= 1;
      this.#pump();
    }
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Whether a job that has waited since `since` may start now. */
  #mayStart(since: number): boolean {
    if (!this.#foreground?.busy) return this.#running < this.limit;
    return this.#running === 0 && performance.now() - since >= this.#maxDeferralInMs;
  }

  #pump(): void {
    while (this.#waiting.length > 0 && this.#mayStart(this.#waiting[0]!.since)) {
      this.#running += 1;
      this.#waiting.shift()!.start();
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const head = this.#waiting[0];
    if (head && this.#running === 0 && this.#foreground?.busy) {
      // the host stays busy: start the head once it has waited long enough
      this.#timer = setTimeout(() => this.#pump(), Math.max(0, head.since + this.#maxDeferralInMs - performance.now()));
      this.#timer.unref();
    }
  }
}
