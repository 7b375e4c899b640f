/** The engine's time source: the real clock, optionally running faster (tests). */
export interface Clock {
  now(): Date;
  /** Calls `callback` once the clock reaches `at`; returns a cancel function. */
  setTimer(at: Date, callback: () => void): () => void;
}

const MAX_TIMEOUT_IN_MS = 2_147_483_647;

/**
 * Creates a clock. With `timeScale` > 1 time runs that many times faster than real time from the moment of creation
 * (a 60 s durable timer fires after 60 ms at scale 1000), and `currentUtcDateTime` follows the scaled clock.
 */
export function createClock(options: { timeScale?: number } = {}): Clock {
  const scale = options.timeScale ?? 1;
  if (!(scale > 0)) throw new RangeError('timeScale must be greater than 0');
  const origin = Date.now();
  const now = (): Date => new Date(scale === 1 ? Date.now() : origin + (Date.now() - origin) * scale);
  return {
    now,
    setTimer(at: Date, callback: () => void): () => void {
      let handle: NodeJS.Timeout | undefined;
      let cancelled = false;
      const arm = (): void => {
        if (cancelled) return;
        const remainingInMs = (at.getTime() - now().getTime()) / scale;
        if (remainingInMs <= 0) {
          handle = setTimeout(callback, 0);
          return;
        }
        handle = setTimeout(arm, Math.min(Math.ceil(remainingInMs), MAX_TIMEOUT_IN_MS));
      };
      arm();
      return () => {
        cancelled = true;
        if (handle) clearTimeout(handle);
      };
    },
  };
}
