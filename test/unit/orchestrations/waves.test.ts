import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chunk, nextBatch, planLanes, runInWindow, type Lane } from '../../../shared/orchestrations/waves.js';

const item = (endpoint: string, n: number) => ({ endpoint, n });

describe('planLanes', () => {
  /** What the lanes allow at any moment: each lane has its window in flight, spread over the endpoints it owns. */
  function worstCase(lanes: readonly Lane<{ endpoint: string }>[], maxPerEndpoint: number): { total: number; perEndpoint: Map<string, number> } {
    const perEndpoint = new Map<string, number>();
    for (const lane of lanes) {
      for (const endpoint of new Set(lane.items.map((x) => x.endpoint))) {
        perEndpoint.set(endpoint, (perEndpoint.get(endpoint) ?? 0) + Math.min(lane.window, maxPerEndpoint));
      }
    }
    return { total: lanes.reduce((sum, lane) => sum + lane.window, 0), perEndpoint };
  }

  it('never lets the lanes together exceed either limit, gives each endpoint to one lane, keeps every item once and each endpoint\'s order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), { maxLength: 150 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6 }),
        (endpoints, maxConcurrent, maxPerEndpoint) => {
          const items = endpoints.map((endpoint, n) => item(endpoint, n));
          const lanes = planLanes(items, { maxConcurrent, maxPerEndpoint });
          expect(lanes.flatMap((lane) => lane.items).map((x) => x.n).sort((p, q) => p - q)).toEqual(items.map((x) => x.n));
          const owner = new Map<string, number>();
          for (const [index, lane] of lanes.entries()) {
            expect(lane.items.length).toBeGreaterThan(0);
            expect(lane.window).toBeGreaterThanOrEqual(1);
            expect(lane.window).toBeLessThanOrEqual(Math.min(maxPerEndpoint, lane.items.length));
            for (const x of lane.items) {
              expect(owner.get(x.endpoint) ?? index).toBe(index);
              owner.set(x.endpoint, index);
            }
            for (const endpoint of new Set(lane.items.map((x) => x.endpoint))) {
              const ns = lane.items.filter((x) => x.endpoint === endpoint).map((x) => x.n);
              expect(ns).toEqual([...ns].sort((p, q) => p - q));
            }
          }
          const { total, perEndpoint } = worstCase(lanes, maxPerEndpoint);
          expect(total).toBeLessThanOrEqual(maxConcurrent);
          for (const count of perEndpoint.values()) expect(count).toBeLessThanOrEqual(maxPerEndpoint);
        },
      ),
    );
  });

  it('gives every endpoint its full window when the overall limit allows: one lane per endpoint', () => {
    // 1,000 deliveries over 4 vaults and one cluster, 4 per endpoint, 50 overall.
    const items = Array.from({ length: 1000 }, (_, n) => item(n % 5 === 4 ? 'cluster' : `v${n % 5}`, n));
    const lanes = planLanes(items, { maxConcurrent: 50, maxPerEndpoint: 4 });
    expect(lanes.map((lane) => [lane.items[0]!.endpoint, lane.window, lane.items.length])).toEqual([
      ['v0', 4, 200],
      ['v1', 4, 200],
      ['v2', 4, 200],
      ['v3', 4, 200],
      ['cluster', 4, 200],
    ]);
  });

  it('gives the spare overall slots to the endpoints with the most deliveries per slot', () => {
    const items = [...Array.from({ length: 30 }, (_, n) => item('big', n)), ...Array.from({ length: 3 }, (_, n) => item('small', 30 + n))];
    expect(planLanes(items, { maxConcurrent: 4, maxPerEndpoint: 4 }).map((lane) => [lane.items[0]!.endpoint, lane.window])).toEqual([
      ['big', 3],
      ['small', 1],
    ]);
    // Never a window wider than the endpoint's deliveries.
    expect(planLanes([item('one', 0)], { maxConcurrent: 50, maxPerEndpoint: 4 })).toEqual([{ window: 1, items: [item('one', 0)] }]);
  });

  it('with more endpoints than the overall limit, lanes of window 1 take whole endpoints', () => {
    const items = Array.from({ length: 12 }, (_, n) => item(`v${n % 6}`, n));
    const lanes = planLanes(items, { maxConcurrent: 4, maxPerEndpoint: 3 });
    expect(lanes).toHaveLength(4);
    expect(lanes.every((lane) => lane.window === 1)).toBe(true);
    expect(lanes.map((lane) => lane.items.length).sort()).toEqual([2, 2, 4, 4]);
  });
});

describe('nextBatch', () => {
  it('takes the due retries first, then the queue in order, at most the size', () => {
    expect(nextBatch(['r1'], ['a', 'b', 'c'], 3)).toEqual({ batch: ['r1', 'a', 'b'], rest: ['c'] });
    expect(nextBatch(['r1', 'r2', 'r3'], ['a'], 2)).toEqual({ batch: ['r1', 'r2'], rest: ['a'] });
    expect(nextBatch([], [], 5)).toEqual({ batch: [], rest: [] });
  });
});

describe('runInWindow', () => {
  /** Runs items that each take a few microtask turns, recording how many run at once, overall and per endpoint. */
  async function observe(items: readonly { endpoint: string; n: number; turns: number }[], window: number, maxPerEndpoint: number, stopAfter?: number) {
    let running = 0;
    let peak = 0;
    const perEndpoint = new Map<string, number>();
    const peakPerEndpoint = new Map<string, number>();
    const order: number[] = [];
    let started = 0;
    const result = await runInWindow(
      items,
      { window, maxPerEndpoint },
      async (x) => {
        started += 1;
        running += 1;
        peak = Math.max(peak, running);
        perEndpoint.set(x.endpoint, (perEndpoint.get(x.endpoint) ?? 0) + 1);
        peakPerEndpoint.set(x.endpoint, Math.max(peakPerEndpoint.get(x.endpoint) ?? 0, perEndpoint.get(x.endpoint)!));
        for (let t = 0; t < x.turns; t++) await new Promise((resolve) => setImmediate(resolve));
        order.push(x.n);
        running -= 1;
        perEndpoint.set(x.endpoint, perEndpoint.get(x.endpoint)! - 1);
      },
      stopAfter === undefined ? {} : { shouldStart: () => started < stopAfter },
    );
    return { peak, peakPerEndpoint, order, notStarted: result.notStarted.map((x) => x.n) };
  }

  it('never has more than the window in flight, nor more than the bound per endpoint, and runs every item once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 3 })), { maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        async (specs, window, maxPerEndpoint) => {
          const items = specs.map(([endpoint, turns], n) => ({ endpoint, n, turns }));
          const seen = await observe(items, window, maxPerEndpoint);
          expect(seen.order.sort((p, q) => p - q)).toEqual(items.map((x) => x.n));
          expect(seen.notStarted).toEqual([]);
          expect(seen.peak).toBeLessThanOrEqual(window);
          for (const n of seen.peakPerEndpoint.values()) expect(n).toBeLessThanOrEqual(maxPerEndpoint);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('starts the next item the moment one finishes (a slow item does not hold the others back)', async () => {
    const items = [{ endpoint: 'a', n: 0, turns: 30 }, ...Array.from({ length: 6 }, (_, k) => ({ endpoint: 'a', n: k + 1, turns: 1 }))];
    const seen = await observe(items, 2, 2);
    // Every short item finished while the slow one was still running.
    expect(seen.order.at(-1)).toBe(0);
  });

  it('once told to stop, starts nothing more and returns the items it never started, in input order', async () => {
    const items = Array.from({ length: 10 }, (_, n) => ({ endpoint: n % 2 === 0 ? 'a' : 'b', n, turns: 1 }));
    const seen = await observe(items, 2, 2, 4);
    expect(seen.order.sort((p, q) => p - q)).toEqual([0, 1, 2, 3]);
    expect(seen.notStarted).toEqual([4, 5, 6, 7, 8, 9]);
  });
});

describe('chunk', () => {
  it('splits into chunks of at most the size', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
  });
});
