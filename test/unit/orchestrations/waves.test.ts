import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chunk, limitsPerPart, planWaves } from '../../../shared/orchestrations/waves.js';

const item = (endpoint: string, n: number) => ({ endpoint, n });

describe('planWaves', () => {
  it('bounds each wave overall and per endpoint, keeping every item exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { maxLength: 120 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6 }),
        (endpoints, maxConcurrent, maxPerEndpoint) => {
          const items = endpoints.map((endpoint, n) => item(endpoint, n));
          const waves = planWaves(items, { maxConcurrent, maxPerEndpoint });
          const flat = waves.flat();
          expect(flat.map((x) => x.n).sort((p, q) => p - q)).toEqual(items.map((x) => x.n));
          for (const wave of waves) {
            expect(wave.length).toBeGreaterThan(0);
            expect(wave.length).toBeLessThanOrEqual(maxConcurrent);
            const perEndpoint = new Map<string, number>();
            for (const x of wave) perEndpoint.set(x.endpoint, (perEndpoint.get(x.endpoint) ?? 0) + 1);
            for (const count of perEndpoint.values()) expect(count).toBeLessThanOrEqual(maxPerEndpoint);
          }
        },
      ),
    );
  });

  it('keeps the order of items within one endpoint', () => {
    const items = [item('a', 0), item('b', 1), item('a', 2), item('a', 3), item('b', 4)];
    const waves = planWaves(items, { maxConcurrent: 2, maxPerEndpoint: 1 });
    expect(waves.map((wave) => wave.map((x) => x.n))).toEqual([[0, 1], [2, 4], [3]]);
  });

  it('fills a wave across endpoints before starting the next', () => {
    const items = Array.from({ length: 10 }, (_, n) => item(`v${n % 5}`, n));
    expect(planWaves(items, { maxConcurrent: 50, maxPerEndpoint: 2 })).toHaveLength(1);
    expect(planWaves(items, { maxConcurrent: 50, maxPerEndpoint: 1 })).toHaveLength(2);
  });
});

describe('chunk', () => {
  it('splits into chunks of at most the size', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
  });
});

describe('limitsPerPart', () => {
  it('shares the limits among parts that run at once, never below one', () => {
    expect(limitsPerPart({ maxConcurrent: 50, maxPerEndpoint: 4 }, 1)).toEqual({ maxConcurrent: 50, maxPerEndpoint: 4 });
    expect(limitsPerPart({ maxConcurrent: 50, maxPerEndpoint: 4 }, 3)).toEqual({ maxConcurrent: 16, maxPerEndpoint: 1 });
    expect(limitsPerPart({ maxConcurrent: 2, maxPerEndpoint: 1 }, 5)).toEqual({ maxConcurrent: 1, maxPerEndpoint: 1 });
  });

  it('keeps the sum over parts within the relay limits whenever the limits allow one per part', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 10 }), (maxConcurrent, maxPerEndpoint, parts) => {
        const share = limitsPerPart({ maxConcurrent, maxPerEndpoint }, parts);
        if (maxPerEndpoint >= parts) expect(share.maxPerEndpoint * parts).toBeLessThanOrEqual(maxPerEndpoint);
        if (maxConcurrent >= parts) expect(share.maxConcurrent * parts).toBeLessThanOrEqual(maxConcurrent);
      }),
    );
  });
});
