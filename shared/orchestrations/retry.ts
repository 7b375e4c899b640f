import * as df from 'durable-functions';

/**
 * Retry policies of the orchestrations' activities. Every activity that does I/O can fail transiently (a 503 from
 * a vault, a storage blip, a host restart) and is called with one of these; only what is still failing when the
 * policy is spent ends as a named failure (audited by the orchestration).
 */

/**
 * Transient delivery failures (5xx, network, throttling beyond the in-activity ladder): the activity has already
 * backed off for ~31 s on 429s, so the orchestration waits longer between attempts.
 */
export function deliveryRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 3;
  options.maxRetryIntervalInMilliseconds = 120_000;
  return options;
}

/**
 * Every other activity (plan, audit, source write, reconcile listing and report): short calls whose transient
 * failures (503 bursts, storage contention) usually clear within a minute. 6 attempts over about 2.5 minutes.
 */
export function activityRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(2_000, 6);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
}

/** The first line of an activity failure as the orchestration sees it, capped (never more than the activity said). */
export function failureMessage(error: unknown, max = 500): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n')[0] ?? text;
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/**
 * The wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed, as the host computes it for an
 * activity with these options: `firstRetryInterval × backoffCoefficient^(attempt − 1)`, capped by `maxRetryInterval`.
 * Undefined once `maxNumberOfAttempts` are spent. Used where the relay retries single deliveries of a batch itself.
 */
export function retryDelayInMs(options: df.RetryOptions, attempt: number): number | undefined {
  if (attempt >= options.maxNumberOfAttempts) return undefined;
  const delay = options.firstRetryIntervalInMilliseconds * (options.backoffCoefficient ?? 1) ** (attempt - 1);
  return options.maxRetryIntervalInMilliseconds ? Math.min(delay, options.maxRetryIntervalInMilliseconds) : delay;
}
