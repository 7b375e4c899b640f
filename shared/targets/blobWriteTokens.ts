import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { TransientTargetError } from './contract.js';
import type { WriteTokenStore } from './writeBudget.js';

export interface BlobWriteTokensOptions {
  /** Blob name prefix of the buckets. Default `write-budgets/`. */
  readonly prefix?: string;
  /** Milliseconds clock (each instance's own; skew only shifts refill a little). Default `Date.now`. */
  readonly clock?: () => number;
  /** Compare-and-swap attempts before a claim gives up with a retryable error. Default 20. */
  readonly attempts?: number;
}

interface BucketState {
  /** Tokens left at `at` (fractional while refilling). */
  readonly tokens: number;
  /** Milliseconds since the epoch of the last claim. */
  readonly at: number;
}

/**
 * The write buckets shared by every instance of the app: one small JSON block blob per key (name: a hash of the key)
 * holding `{ tokens, at }`, updated by compare-and-swap on its ETag (`If-Match`, or `If-None-Match: *` to create it).
 * Every instance refills from the stored time with the bucket's own rate, takes what it needs, and writes the rest
 * back; a lost race re-reads and tries again. So the sum of writes across instances stays within one bucket, however
 * many instances run. Permission: Storage Blob Data Contributor on the container (read, create, overwrite blobs).
 */
export function blobWriteTokens(container: ContainerClient, options: BlobWriteTokensOptions = {}): WriteTokenStore {
  const prefix = options.prefix ?? 'write-budgets/';
  const clock = options.clock ?? Date.now;
  const attempts = options.attempts ?? 20;
  let ensured: Promise<unknown> | undefined;

  return {
    async claim(key, request) {
      ensured ??= container.createIfNotExists().catch((error: unknown) => {
        ensured = undefined;
        throw error;
      });
      const blob = container.getBlockBlobClient(`${prefix}${createHash('sha256').update(key.toLowerCase()).digest('hex').slice(0, 40)}`);
      const ratePerMs = request.writes / (request.perSeconds * 1_000);
      try {
        await ensured;
        for (let attempt = 0; attempt < attempts; attempt++) {
          let stored: BucketState | undefined;
          let etag: string | undefined;
          try {
            // One GET: the body and the ETag it was read at.
            const response = await blob.download();
            etag = response.etag;
            stored = parseState(await readText(response.readableStreamBody));
          } catch (error) {
            if ((error as { statusCode?: number }).statusCode !== 404) throw error;
          }
          const now = clock();
          const available = stored
            ? Math.min(request.writes, stored.tokens + Math.max(0, now - stored.at) * ratePerMs)
            : request.writes;
          const granted = Math.min(Math.floor(available), Math.max(1, Math.floor(request.wanted)));
          if (granted < 1) return { granted: 0, retryInMs: Math.ceil((1 - available) / ratePerMs) };
          const next: BucketState = { tokens: available - granted, at: now };
          const text = JSON.stringify(next);
          try {
            await blob.upload(text, Buffer.byteLength(text), {
              conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
              blobHTTPHeaders: { blobContentType: 'application/json' },
            });
            return { granted, retryInMs: 0 };
          } catch (error) {
            const status = (error as { statusCode?: number }).statusCode;
            // 412: another instance claimed in between; 409: it created the bucket first. Read again.
            if (status !== 412 && status !== 409) throw error;
          }
        }
        throw new TransientTargetError(`write budget ${key}: ${attempts} instances claimed at once; retry`, 'FailedThrottled', 1_000);
      } catch (error) {
        if (error instanceof TransientTargetError) throw error;
        throw new TransientTargetError(`write budget ${key}: the shared bucket cannot be read or written (${describe(error)})`, 'FailedUnavailable', undefined, { cause: error });
      }
    },
  };
}

async function readText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function parseState(text: string): BucketState | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<BucketState>;
    return typeof parsed.tokens === 'number' && typeof parsed.at === 'number' && Number.isFinite(parsed.tokens) && Number.isFinite(parsed.at)
      ? { tokens: parsed.tokens, at: parsed.at }
      : undefined;
  } catch {
    // A damaged bucket starts full again: a budget is a pace, not a ledger.
    return undefined;
  }
}

function describe(error: unknown): string {
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: string }).code;
  return [status, code].filter((x) => x !== undefined).join(' ') || (error instanceof Error ? error.name : 'error');
}
