import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobWriteTokens } from '../../../shared/targets/blobWriteTokens.js';
import { TransientTargetError } from '../../../shared/targets/contract.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';

// The write budget shared across instances over a real blob (Azurite): budgets in separate "instances" (separate
// WriteBudget and store objects, as in separate processes) draw from one bucket per key, so together they never
// write more than the bucket allows; another key has its own bucket. The clock is fake: no timing in the asserts.

let azurite: AzuriteBlob;
let container: ContainerClient;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('reports');
});

afterAll(async () => {
  await azurite?.stop();
});

/** One app instance: its own store and budget over the shared container, on the shared fake clock. */
function instance(key: string, clock: { now: number }, slept: number[]): WriteBudget {
  const store = blobWriteTokens(container, { clock: () => clock.now });
  return new WriteBudget({
    writes: 6,
    perSeconds: 60,
    store,
    key,
    clock: () => clock.now,
    // Waiting for a token moves the fake clock on, as time would.
    sleep: async (ms) => {
      slept.push(ms);
      clock.now += ms;
    },
  });
}

describe('blobWriteTokens', () => {
  it('lets three instances together take no more than one bucket, then paces them all at its refill rate', async () => {
    const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
    const slept: number[] = [];
    const instances = [0, 1, 2].map(() => instance('contoso.vault.azure.net', clock, slept));
    // Six tokens in the bucket: six writes spread over the instances go out without waiting.
    for (let i = 0; i < 6; i++) await instances[i % 3]!.take();
    expect(slept).toEqual([]);
    // The seventh, from any instance, waits for the refill (one token per 10 s), not for its own bucket.
    await instances[2]!.take();
    expect(slept.length).toBeGreaterThan(0);
    expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(9_000);
  });

  it('keeps one bucket per key', async () => {
    const clock = { now: Date.parse('2026-12-01T11:00:00Z') };
    const slept: number[] = [];
    const a = instance('fabrikam.vault.azure.net', clock, slept);
    const b = instance('kubernetes:edge-1', clock, slept);
    for (let i = 0; i < 6; i++) await a.take();
    for (let i = 0; i < 6; i++) await b.take();
    expect(slept).toEqual([]);
  });

  it('concurrent claims from many instances never grant more than the bucket holds', async () => {
    const clock = { now: Date.parse('2026-12-01T12:00:00Z') };
    const store = () => blobWriteTokens(container, { clock: () => clock.now });
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => store().claim('northwind.vault.azure.net', { wanted: 2, writes: 6, perSeconds: 60 })),
    );
    expect(claims.reduce((sum, c) => sum + c.granted, 0)).toBe(6);
    expect(claims.filter((c) => c.granted === 0).every((c) => c.retryInMs > 0)).toBe(true);
  });

  it('a steady stream of writes claims in growing chunks, never more than a tenth of the bucket, and starts small again after a pause', async () => {
    const clock = { now: Date.parse('2026-12-01T13:00:00Z') };
    const inner = blobWriteTokens(container, { clock: () => clock.now });
    const wanted: number[] = [];
    const budget = new WriteBudget({
      writes: 1_000,
      perSeconds: 10,
      key: 'wide.vault.azure.net',
      clock: () => clock.now,
      sleep: async (ms) => void (clock.now += ms),
      store: {
        claim: (key, request) => {
          wanted.push(request.wanted);
          return inner.claim(key, request);
        },
      },
    });
    // 200 writes one after another (one writer waiting at a time), within a second.
    for (let i = 0; i < 200; i++) await budget.take();
    expect(wanted.length).toBeLessThanOrEqual(10);
    expect(Math.max(...wanted)).toBe(100);
    // Held tokens lapse after a second: the next write claims for the one writer waiting, not a big chunk.
    clock.now += 5_000;
    await budget.take();
    expect(wanted.at(-1)).toBe(1);
  });

  it('a store that cannot be reached fails the claim as a retryable FailedUnavailable', async () => {
    const unreachable = BlobServiceClient.fromConnectionString(
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;',
      { retryOptions: { maxTries: 1 } },
    ).getContainerClient('reports');
    const error = await blobWriteTokens(unreachable).claim('x.vault.azure.net', { wanted: 1, writes: 6, perSeconds: 60 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientTargetError);
    expect(error).toMatchObject({ status: 'FailedUnavailable' });
  });
});
