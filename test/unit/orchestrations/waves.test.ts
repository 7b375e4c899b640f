import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chunk, planLanes, planWaves } from '../../../shared/orchestrations/waves.js';

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

describe('planLanes', () => {
  /** What the lanes allow at any moment: each lane has one delivery in flight, at an endpoint it holds. */
  function worstCase(lanes: readonly { endpoint: string }[][]): { total: number; perEndpoint: Map<string, number> } {
    const perEndpoint = new Map<string, number>();
    for (const lane of lanes) for (const endpoint of new Set(lane.map((x) => x.endpoint))) perEndpoint.set(endpoint, (perEndpoint.get(endpoint) ?? 0) + 1);
    return { total: lanes.length, perEndpoint };
  }

  it('never lets the lanes together exceed either limit, keeping every item exactly once and each endpoint order within a lane', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), { maxLength: 300 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6 }),
        (endpoints, maxConcurrent, maxPerEndpoint) => {
          const items = endpoints.map((endpoint, n) => item(endpoint, n));
          const lanes = planLanes(items, { maxConcurrent, maxPerEndpoint });
          expect(lanes.flat().map((x) => x.n).sort((p, q) => p - q)).toEqual(items.map((x) => x.n));
          const { total, perEndpoint } = worstCase(lanes);
          expect(total).toBeLessThanOrEqual(maxConcurrent);
          for (const count of perEndpoint.values()) expect(count).toBeLessThanOrEqual(maxPerEndpoint);
          for (const lane of lanes) {
            expect(lane.length).toBeGreaterThan(0);
            for (const endpoint of new Set(lane.map((x) => x.endpoint))) {
              const ns = lane.filter((x) => x.endpoint === endpoint).map((x) => x.n);
              expect(ns).toEqual([...ns].sort((p, q) => p - q));
            }
          }
        },
      ),
    );
  });

  it('gives every endpoint its full share when the overall limit allows, so no endpoint waits on another', () => {
    // 1,000 deliveries over 5 vaults and one cluster, 4 per endpoint, 50 overall: 4 lanes each, one endpoint per lane.
    const items = Array.from({ length: 1000 }, (_, n) => item(n % 5 === 4 ? 'cluster' : `v${n % 4}`, n));
    const lanes = planLanes(items, { maxConcurrent: 50, maxPerEndpoint: 4 });
    expect(lanes).toHaveLength(20);
    expect(lanes.every((lane) => new Set(lane.map((x) => x.endpoint)).size === 1)).toBe(true);
    expect(Math.max(...lanes.map((lane) => lane.length))).toBe(50);
  });

  it('gives the spare overall slots to the endpoints with the most deliveries per lane', () => {
    const items = [...Array.from({ length: 30 }, (_, n) => item('big', n)), ...Array.from({ length: 3 }, (_, n) => item('small', 30 + n))];
    const lanes = planLanes(items, { maxConcurrent: 4, maxPerEndpoint: 4 });
    expect(lanes.map((lane) => [lane[0]!.endpoint, lane.length])).toEqual([
      ['big', 10],
      ['big', 10],
      ['big', 10],
      ['small', 3],
    ]);
  });

  it('with more endpoints than the overall limit, a lane takes whole endpoints one after another', () => {
    const items = Array.from({ length: 12 }, (_, n) => item(`v${n % 6}`, n));
    const lanes = planLanes(items, { maxConcurrent: 4, maxPerEndpoint: 3 });
    expect(lanes).toHaveLength(4);
    const { perEndpoint } = worstCase(lanes);
    expect([...perEndpoint.values()].every((count) => count === 1)).toBe(true);
  });
});
