/**
 * Counts the requests the host is answering right now (HTTP functions, Event Grid webhooks, the durable API), so
 * durable work can give way to them. `enter()` returns the matching `leave`.
 */
export class Foreground {
  #count = 0;
  readonly #idle = new Set<() => void>();

  /** Marks one request as being answered; call the returned function once it is answered. */
  enter(): () => void {
    this.#count += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#count -= 1;
      if (this.#count === 0) for (const listener of [...this.#idle]) listener();
    };
  }

  /** Whether a request is being answered. */
  get busy(): boolean {
    return this.#count > 0;
  }

  /** Calls `listener` each time the last request in progress is answered; returns the unsubscribe. */
  onIdle(listener: () => void): () => void {
    this.#idle.add(listener);
    return () => this.#idle.delete(listener);
  }
}

/**
 * Limits how many async jobs run at once (the host's `maxConcurrentActivityFunctions` /
 * `maxConcurrentOrchestratorFunctions`). With a `foreground`, jobs start only one at a time while it is busy: the
 * host answers its requests first (an Event Grid burst is answered before the relays it started take the CPU) and
 * durable work still makes progress. Jobs already running are never interrupted; waiting jobs start in arrival order.
 */
export class Semaphore {
  readonly limit: number;
  readonly #foreground: Foreground | undefined;
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(limit: number, options: { foreground?: Foreground } = {}) {
    if (!(limit >= 1)) throw new RangeError('concurrency limit must be at least 1');
    this.limit = limit;
    this.#foreground = options.foreground;
    this.#foreground?.onIdle(() => this.#pump());
  }

  /** Runs `job` when a slot is free. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#current() || this.#waiting.length > 0) {
      // the slot is handed over by #pump (counted there), so a job arriving meanwhile cannot take it
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
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

  #current(): number {
    return this.#foreground?.busy ? 1 : this.limit;
  }

  #pump(): void {
    while (this.#waiting.length > 0 && this.#running < this.#current()) {
      this.#running += 1;
      this.#waiting.shift()?.();
    }
  }
}
