/** Limits how many async jobs run at once (the activity concurrency of the host). */
export class Semaphore {
  readonly limit: number;
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError('concurrency limit must be at least 1');
    this.limit = limit;
  }

  /** Runs `job` when a slot is free. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#running += 1;
    try {
      return await job();
    } finally {
      this.#running -= 1;
      this.#waiting.shift()?.();
    }
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }
}
