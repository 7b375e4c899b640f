import type { ConcurrencyLimits } from './types.js';

/**
 * Splits deliveries into waves that respect the concurrency limits: at most `maxConcurrent` per wave, and at most
 * `maxPerEndpoint` per endpoint (vault or cluster) per wave. Deterministic (input order is kept within an endpoint),
 * so an orchestrator may call it on every replay.
 */
export function planWaves<T extends { readonly endpoint: string }>(items: readonly T[], limits: ConcurrencyLimits): T[][] {
  const maxConcurrent = Math.max(1, Math.floor(limits.maxConcurrent));
  const maxPerEndpoint = Math.max(1, Math.floor(limits.maxPerEndpoint));
  const queues = new Map<string, T[]>();
  for (const item of items) {
    const queue = queues.get(item.endpoint);
    if (queue) queue.push(item);
    else queues.set(item.endpoint, [item]);
  }
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
 * Limits for each of `parts` sub-orchestrations that run at the same time, so that together they stay within the
 * relay's limits (each part enforces its share on its own). Never below one delivery in flight.
 */
export function limitsPerPart(limits: ConcurrencyLimits, parts: number): ConcurrencyLimits {
  const n = Math.max(1, Math.floor(parts));
  return {
    maxConcurrent: Math.max(1, Math.floor(limits.maxConcurrent / n)),
    maxPerEndpoint: Math.max(1, Math.floor(limits.maxPerEndpoint / n)),
  };
}

/** Splits a list into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
