/**
 * The in-call backoff ladder for throttled or briefly busy services. Microsoft's recipe for Key Vault 429s is to wait
 * 1, 2, 4, 8, 16 s, retrying after each wait; a `Retry-After` hint from the service replaces the ladder step.
 * Past the ladder the caller gives up and lets the orchestration's slower retry policy take over.
 */

import { otelTelemetry } from '../telemetry/index.js';

/** Waits `delayInMs`; rejects with the abort reason when the signal fires first. Injectable so tests need not wait. */
export type Sleep = (delayInMs: number, abortSignal?: AbortSignal) => Promise<void>;

/** Real-time sleep (production). */
export const realSleep: Sleep = (delayInMs, abortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (abortSignal?.aborted) {
      reject(abortSignal.reason ?? new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      abortSignal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayInMs);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortSignal?.reason ?? new Error('aborted'));
    };
    abortSignal?.addEventListener('abort', onAbort, { once: true });
  });

/** Microsoft's Key Vault throttling ladder: 1, 2, 4, 8, 16 s (about 31 s in total). */
export const KEY_VAULT_BACKOFF_LADDER_IN_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000];

/**
 * A `Retry-After` longer than this is not waited out inside the call: the error goes to the orchestration, which can
 * wait without holding an activity.
 */
export const MAX_IN_CALL_RETRY_AFTER_IN_MS = 30_000;

/** What a retry classifier says about one failure: `undefined` means "do not retry". */
export interface RetryHint {
  /** The service's own hint, when it gave one. */
  readonly retryAfterInMs?: number;
}

export interface BackoffOptions {
  readonly sleep?: Sleep;
  readonly ladderInMs?: readonly number[];
  readonly maxRetryAfterInMs?: number;
  readonly abortSignal?: AbortSignal;
  /** Called before each wait; for counters and tests (never receives values). */
  readonly onRetry?: (attempt: number, delayInMs: number, error: unknown) => void;
  /**
   * The endpoint host for the `secret_relay.throttled` counter (each 429 waited out is counted); default: the host
   * of the failed request's URL when the error carries one.
   */
  readonly endpoint?: string;
}

/**
 * Runs `operation`, retrying it after each step of the ladder while `shouldRetry` returns a hint. A hint with
 * `retryAfterInMs` replaces that step's delay. When the ladder is exhausted (or the hint asks for a longer wait than
 * `maxRetryAfterInMs`), the last error is rethrown unchanged, so the caller's classification decides what it means.
 */
export async function withBackoff<T>(
  operation: () => Promise<T>,
  shouldRetry: (error: unknown) => RetryHint | undefined,
  options: BackoffOptions = {},
): Promise<T> {
  const sleep = options.sleep ?? realSleep;
  const ladder = options.ladderInMs ?? KEY_VAULT_BACKOFF_LADDER_IN_MS;
  const maxRetryAfterInMs = options.maxRetryAfterInMs ?? MAX_IN_CALL_RETRY_AFTER_IN_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const hint = shouldRetry(error);
      const step = ladder[attempt];
      if (hint === undefined || step === undefined) throw error;
      if (hint.retryAfterInMs !== undefined && hint.retryAfterInMs > maxRetryAfterInMs) throw error;
      const delayInMs = hint.retryAfterInMs ?? step;
      if (statusCodeOf(error) === 429) otelTelemetry.throttled(options.endpoint ?? endpointOf(error));
      options.onRetry?.(attempt + 1, delayInMs, error);
      await sleep(delayInMs, options.abortSignal);
    }
  }
}

/**
 * Reads a retry hint from response headers: `retry-after-ms`, `x-ms-retry-after-ms` (milliseconds) or `Retry-After`
 * (seconds or an HTTP date). Undefined when none is present or parseable.
 */
export function retryAfterInMsFrom(getHeader: (name: string) => string | undefined, nowInMs = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const raw = getHeader(name);
    if (raw !== undefined && raw.trim() !== '') {
      const ms = Number(raw);
      if (Number.isFinite(ms) && ms >= 0) return ms;
    }
  }
  const raw = getHeader('retry-after');
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowInMs);
}

/** The HTTP status of an SDK error: `statusCode` (Azure SDK RestError) or `code` (Kubernetes ApiException). */
function statusCodeOf(error: unknown): number | undefined {
  const e = error as { statusCode?: unknown; code?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return typeof e?.code === 'number' ? e.code : undefined;
}

/** The host a failed request went to, when the error says (Azure SDK errors carry their request). */
function endpointOf(error: unknown): string {
  const url = (error as { request?: { url?: unknown } } | null)?.request?.url;
  if (typeof url !== 'string') return 'unknown';
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return 'unknown';
  }
}
