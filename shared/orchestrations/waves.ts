import type { ConcurrencyLimits } from './types.js';

/**
 * Splits deliveries into waves that respect the concurrency limits: at most `maxConcurrent` per wave, and at most
 * `maxPerEndpoint` per endpoint (vault or cluster) per wave. Deterministic (input order is kept within an endpoint),
 * so an orchestrator may call it on every replay.
 */
export function planWaves<T extends { readonly endpoint: string }>(items: readonly T[], limits: ConcurrencyLimits): T[][] {
  const { maxConcurrent, maxPerEndpoint } = wholeLimits(limits);
  const queues = byEndpoint(items);
  const waves: T[][] = [];
  while (queues.size > 0) {
    const wave: T[] = [];
    // Round-robin over endpoints so one big vault does not starve the others.
    for (let taken = 0; wave.length < maxConcurrent && taken < maxPerEndpoint; taken++) {
      for (const [endpoint, queue] of queues) {
        if (wave.length >= maxConcurrent) break;
        const next = queue.shift();
        if (next !== undefined) wave.push(next);
        if (queue.length === 0) queues.delete(endpoint);
      }
      if (queues.size === 0) break;
    }
    waves.push(wave);
  }
  return waves;
}

/**
 * Splits deliveries into lanes for a relay that needs more than one wave. Each lane is a sub-orchestration that
 * delivers its items one at a time, each item as soon as the previous one is done (a sliding window, no barrier
 * between endpoints), so the deliveries in flight against an endpoint are at most the lanes that hold its items:
 * - every endpoint's items are in at most `maxPerEndpoint` lanes, and there are at most `maxConcurrent` lanes;
 * - with more endpoints than `maxConcurrent`, a lane takes whole endpoints, one after another (one lane each);
 * - lanes go first to the endpoint with the most items per lane, so the endpoints finish close together; an
 *   endpoint's items are dealt round robin over its lanes (input order kept within a lane).
 * Together the lanes never exceed either limit at any moment, however many there are. Deterministic.
 */
export function planLanes<T extends { readonly endpoint: string }>(items: readonly T[], limits: ConcurrencyLimits): T[][] {
  const { maxConcurrent, maxPerEndpoint } = wholeLimits(limits);
  const queues = byEndpoint(items);
  const endpoints = [...queues.values()];
  if (endpoints.length > maxConcurrent) {
    // Fewer lanes than endpoints: whole endpoints, largest first, each to the lane with the fewest items so far.
    const lanes: T[][] = Array.from({ length: maxConcurrent }, () => []);
    const bySize = endpoints.map((queue, order) => ({ queue, order })).sort((a, b) => b.queue.length - a.queue.length || a.order - b.order);
    for (const { queue } of bySize) {
      let lightest = lanes[0]!;
      for (const lane of lanes) if (lane.length < lightest.length) lightest = lane;
      lightest.push(...queue);
    }
    return lanes.filter((lane) => lane.length > 0);
  }
  const laneCounts = endpoints.map(() => 1);
  let total = endpoints.length;
  while (total < maxConcurrent) {
    let widest = -1;
    for (const [index, queue] of endpoints.entries()) {
      const count = laneCounts[index]!;
      if (count >= Math.min(maxPerEndpoint, queue.length)) continue;
      if (widest < 0 || Math.ceil(queue.length / count) > Math.ceil(endpoints[widest]!.length / laneCounts[widest]!)) widest = index;
    }
    if (widest < 0) break;
    laneCounts[widest]! += 1;
    total += 1;
  }
  return endpoints.flatMap((queue, index) => {
    const lanes: T[][] = Array.from({ length: laneCounts[index]! }, () => []);
    for (const [position, item] of queue.entries()) lanes[position % lanes.length]!.push(item);
    return lanes;
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
