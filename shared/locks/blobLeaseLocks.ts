import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerClient } from '@azure/storage-blob';
import type { LockPort } from '../runtime.js';

/**
 * The relay's identity may not use the lock container (401/403): not retryable, the operator must grant the role.
 * Carries no key text (lock blobs are named by a hash).
 */
export class LockAccessDeniedError extends Error {
  override readonly name = 'LockAccessDeniedError';
}

export interface BlobLeaseLocksOptions {
  /** Blob name prefix of the lock blobs. Default `locks/`. */
  readonly prefix?: string;
  /** Told when a lease renewal or release fails (the lease may lapse while its delivery still runs). */
  readonly onLeaseError?: (message: string) => void;
  /** Lease period (15–60 s); the holder renews it at a third of that. Default 30 s. */
  readonly leaseInSeconds?: number;
  /** How long to wait for a busy lock before giving up with a retryable error. Default 120 s. */
  readonly waitInMs?: number;
}

/**
 * Locks over Azure Blob leases: one empty block blob per key (name: a hash of the key, so no key text is stored),
 * locked by acquiring its lease. A lease is exclusive across every process using the same container, so it orders
 * writers on different hosts too; a holder that dies stops renewing and loses the lease after its period.
 * Permission: Storage Blob Data Contributor on the container (create blob, lease).
 */
export function blobLeaseLocks(container: ContainerClient, options: BlobLeaseLocksOptions = {}): LockPort {
  const prefix = options.prefix ?? 'locks/';
  const leaseInSeconds = Math.min(60, Math.max(15, options.leaseInSeconds ?? 30));
  const waitInMs = options.waitInMs ?? 120_000;
  let ensured: Promise<unknown> | undefined;

  async function ensureBlob(name: string): Promise<void> {
    ensured ??= container.createIfNotExists().catch((error: unknown) => {
      ensured = undefined;
      throw error;
    });
    await ensured;
    try {
      await container.getBlockBlobClient(name).upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (error) {
      // Already there (409 BlobAlreadyExists, or 412 for the condition; leased blobs answer 412/409 too): fine.
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 409 && status !== 412) throw error;
    }
  }

  return {
    async withLock(key, fn, callOptions = {}) {
      const name = `${prefix}${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
      const lease = container.getBlockBlobClient(name).getBlobLeaseClient(randomUUID());
      const deadline = Date.now() + waitInMs;
      let pause = 25;
      for (let created = false; ; ) {
        try {
          await lease.acquireLease(leaseInSeconds, { abortSignal: callOptions.abortSignal });
          break;
        } catch (error) {
          const status = (error as { statusCode?: number }).statusCode;
          if (status === 404 && !created) {
            await ensureBlob(name).catch((ensureError: unknown) => {
              throw deniedOr(ensureError);
            });
            created = true;
            continue;
          }
          if (status === 401 || status === 403) throw deniedOr(error);
          if (status !== 409) throw new Error(`FailedUnavailable: cannot take the delivery lock: ${describe(error)}`);
          if (Date.now() >= deadline) {
            throw new Error(`FailedUnavailable: another delivery to the same place held its lock for more than ${waitInMs} ms`);
          }
          // Jittered, growing pause: waiting writers of one placement do not poll in step.
          await sleep(pause + Math.floor(Math.random() * pause), undefined, { signal: callOptions.abortSignal });
          pause = Math.min(pause * 2, 1_000);
        }
      }
      const renewal = setInterval(() => {
        lease.renewLease().catch((error: unknown) => options.onLeaseError?.(`delivery lock ${name}: lease renewal failed (${describe(error)}); another delivery may take it when it lapses`));
      }, (leaseInSeconds * 1_000) / 3);
      renewal.unref();
      try {
        return await fn();
      } finally {
        clearInterval(renewal);
        await lease.releaseLease().catch((error: unknown) => options.onLeaseError?.(`delivery lock ${name}: lease release failed (${describe(error)}); it lapses by itself`));
      }
    },
  };
}

/** A 401/403 as {@link LockAccessDeniedError}; anything else unchanged. */
function deniedOr(error: unknown): unknown {
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== 401 && status !== 403) return error;
  const code = (error as { code?: string }).code;
  return new LockAccessDeniedError(
    `the relay may not take delivery locks (${status}${code ? ` ${code}` : ''}): grant its identity Storage Blob Data Contributor on the reports container`,
  );
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
