import type { ConcurrencyLimits } from './types.js';

/**
 * One lane of a relay: the deliveries of the endpoints it wholly owns, delivered in batches one after another, each
 * batch with at most `window` deliveries in flight (and `maxPerEndpoint` per endpoint).
 */
export interface Lane<T> {
  /** Deliveries this lane may have in flight at once (its share of `maxConcurrent`). */
  readonly window: number;
  readonly items: readonly T[];
}

/**
 * Splits deliveries into lanes that own whole endpoints, so every endpoint's deliveries are in exactly one lane, and
 * gives each lane a window (deliveries in flight at once) such that the windows together never exceed
 * `maxConcurrent` and no endpoint gets more than `maxPerEndpoint`:
 * - with at most `maxConcurrent` endpoints, one lane per endpoint; every lane starts with a window of 1 and the spare
 *   overall slots go, one at a time, to the endpoint with the most deliveries per slot (so the endpoints finish close
 *   together), up to `maxPerEndpoint` (and never more than its deliveries);
 * - with more endpoints than `maxConcurrent`, `maxConcurrent` lanes of window 1, each taking whole endpoints, largest
 *   first, to the lane with the fewest deliveries so far.
 * Input order is kept within an endpoint. Deterministic, so an orchestrator may call it on every replay.
 */
export function planLanes<T extends { readonly endpoint: string }>(items: readonly T[], limits: ConcurrencyLimits): Lane<T>[] {
  const { maxConcurrent, maxPerEndpoint } = wholeLimits(limits);
  const endpoints = [...byEndpoint(items).values()];
  if (endpoints.length > maxConcurrent) {
    const lanes: T[][] = Array.from({ length: maxConcurrent }, () => []);
    const bySize = endpoints.map((queue, order) => ({ queue, order })).sort((a, b) => b.queue.length - a.queue.length || a.order - b.order);
    for (const { queue } of bySize) {
      let lightest = lanes[0]!;
      for (const lane of lanes) if (lane.length < lightest.length) lightest = lane;
      lightest.push(...queue);
    }
    return lanes.filter((lane) => lane.length > 0).map((lane) => ({ window: 1, items: lane }));
  }
  const windows = endpoints.map(() => 1);
  let total = endpoints.length;
  while (total < maxConcurrent) {
    let widest = -1;
    for (const [index, queue] of endpoints.entries()) {
      if (windows[index]! >= Math.min(maxPerEndpoint, queue.length)) continue;
      if (widest < 0 || Math.ceil(queue.length / windows[index]!) > Math.ceil(endpoints[widest]!.length / windows[widest]!)) widest = index;
    }
    if (widest < 0) break;
    windows[widest]! += 1;
    total += 1;
  }
  return endpoints.map((queue, index) => ({ window: windows[index]!, items: queue }));
}

/**
 * The next batch of a lane: the retries that are due first, then the lane's queue in order, at most `size` in all.
 * Returns the batch and what is left of the queue.
 */
export function nextBatch<T>(due: readonly T[], queue: readonly T[], size: number): { batch: T[]; rest: T[] } {
  const limit = Math.max(1, Math.floor(size));
  const batch = due.slice(0, limit);
  const room = limit - batch.length;
  return { batch: [...batch, ...queue.slice(0, room)], rest: queue.slice(room) };
}

/**
 * Runs `run` over the items with at most `window` in flight and at most `maxPerEndpoint` in flight per endpoint,
 * starting the next item the moment one finishes (a sliding window, no waves). Endpoints take turns, so one big
 * endpoint does not starve the others; input order is kept within an endpoint. `shouldStart` is asked before each
 * start: once it says no, nothing more starts and the items never started are returned (`notStarted`, input order).
 * `run` must not throw (it reports failures as values).
 */
export async function runInWindow<T extends { readonly endpoint: string }>(
  items: readonly T[],
  limits: { readonly window: number; readonly maxPerEndpoint: number },
  run: (item: T) => Promise<void>,
  options: { readonly shouldStart?: () => boolean } = {},
): Promise<{ notStarted: T[] }> {
  const window = Math.max(1, Math.floor(limits.window));
  const perEndpoint = Math.max(1, Math.floor(limits.maxPerEndpoint));
  const queues = [...byEndpoint(items).entries()].map(([endpoint, queue]) => ({ endpoint, queue, running: 0 }));
  let running = 0;
  let turn = 0;
  let stopped = false;
  return new Promise((resolve) => {
    const finish = () => {
      if (running > 0) return;
      const left = new Set(queues.flatMap((q) => q.queue));
      resolve({ notStarted: items.filter((item) => left.has(item)) });
    };
    const fill = () => {
      while (!stopped && running < window) {
        let picked: (typeof queues)[number] | undefined;
        for (let k = 0; k < queues.length; k++) {
          const candidate = queues[(turn + k) % queues.length]!;
          if (candidate.queue.length > 0 && candidate.running < perEndpoint) {
            picked = candidate;
            turn = (turn + k + 1) % queues.length;
            break;
          }
        }
        if (!picked) break;
        if (options.shouldStart && !options.shouldStart()) {
          stopped = true;
          break;
        }
        const item = picked.queue.shift()!;
        const lane = picked;
        lane.running += 1;
        running += 1;
        void run(item)
          .catch(() => undefined)
          .finally(() => {
            lane.running -= 1;
            running -= 1;
            fill();
            finish();
          });
      }
    };
    fill();
    finish();
  });
}

/** Splits a list into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The limits as whole numbers of at least 1. */
function wholeLimits(limits: ConcurrencyLimits): { maxConcurrent: number; maxPerEndpoint: number } {
  return { maxConcurrent: Math.max(1, Math.floor(limits.maxConcurrent)), maxPerEndpoint: Math.max(1, Math.floor(limits.maxPerEndpoint)) };
}

/** Items by endpoint, in first-seen order of the endpoints and input order within each. */
function byEndpoint<T extends { readonly endpoint: string }>(items: readonly T[]): Map<string, T[]> {
  const queues = new Map<string, T[]>();
  for (const item of items) {
    const queue = queues.get(item.endpoint);
    if (queue) queue.push(item);
    else queues.set(item.endpoint, [item]);
  }
  return queues;
}
