import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerClient } from '@azure/storage-blob';
import type { LockGroup, LockPort } from '../runtime.js';

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

/** The lock port of `blobLeaseLocks`, plus a way to wait for releases still in flight. */
export interface BlobLeaseLocks extends LockPort {
  /** Resolves once every release started so far has been answered (or failed, told to `onLeaseError`). */
  settle(): Promise<void>;
}

/** A lock this process holds: `release` ends it (and its renewals); its promise settles with the answer. */
interface HeldLock {
  release(): Promise<void>;
}

/** Lock blobs this process has taken or created, remembered so their lock is taken in one call (bounded). */
const MAX_REMEMBERED_BLOBS = 10_000;

/**
 * Locks over Azure Blob leases: one empty block blob per key (name: a hash of the key, so no key text is stored),
 * locked by acquiring its lease. A lease is exclusive across every process using the same container, so it orders
 * writers on different hosts too; a holder that dies stops renewing and loses the lease after its period.
 *
 * Calls per lock: acquire + release (2) once the blob exists. A key's first lock creates its blob: when the last
 * key this process had not seen before turned out new, the blob is created first (create, acquire, release: 3),
 * else the acquire comes first and a 404 leads to the create (4; a create answered "already there" costs one call).
 * The release is not waited for: `withLock` answers with `fn`'s result at once, a later holder of the key in this
 * process waits for that release instead of polling, and holders elsewhere see the lease end with the release.
 * A `group` pays these calls once per key for all its holders.
 * Permission: Storage Blob Data Contributor on the container (create blob, lease).
 */
export function blobLeaseLocks(container: ContainerClient, options: BlobLeaseLocksOptions = {}): BlobLeaseLocks {
  const prefix = options.prefix ?? 'locks/';
  const leaseInSeconds = Math.min(60, Math.max(15, options.leaseInSeconds ?? 30));
  const waitInMs = options.waitInMs ?? 120_000;
  const known = new Set<string>();
  const releasing = new Map<string, Promise<void>>();
  let lastUnknownWasNew = false;

  const remember = (name: string): void => {
    if (known.size >= MAX_REMEMBERED_BLOBS) known.clear();
    known.add(name);
  };

  /** Creates the empty lock blob; false when it was already there. Creates the container only when it is missing. */
  async function createBlob(name: string): Promise<boolean> {
    const blob = container.getBlockBlobClient(name);
    for (let attempt = 0; ; attempt++) {
      try {
        await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
        return true;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        // Already there (409 BlobAlreadyExists, or 412 for the condition; leased blobs answer 412/409 too): fine.
        if (status === 409 || status === 412) return false;
        if (status !== 404 || attempt > 0) throw deniedOr(error);
        await container.createIfNotExists().catch((createError: unknown) => {
          throw deniedOr(createError);
        });
      }
    }
  }

  /** Takes the lock `key` (waiting while another holder has it) and keeps its lease renewed until `release`. */
  async function take(key: string, abortSignal: AbortSignal | undefined): Promise<HeldLock> {
    const name = `${prefix}${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
    const lease = container.getBlockBlobClient(name).getBlobLeaseClient(randomUUID());
    const deadline = Date.now() + waitInMs;
    // A holder in this process is still releasing: its release ends the lease, no need to poll for it.
    await releasing.get(name);
    const unknown = !known.has(name);
    // Whether this lock created its blob (true), found it there (false), or has not tried (undefined).
    let created: boolean | undefined;
    if (unknown && lastUnknownWasNew) {
      created = await createBlob(name);
      lastUnknownWasNew = created;
    }
    let pause = 25;
    for (;;) {
      try {
        await lease.acquireLease(leaseInSeconds, { abortSignal });
        break;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 404 && created !== true) {
          created = await createBlob(name);
          if (unknown) lastUnknownWasNew = created;
          // Created, or someone else created it meanwhile: either way the acquire can succeed now. Once only.
          created = true;
          continue;
        }
        if (status === 401 || status === 403) throw deniedOr(error);
        if (status !== 409) throw new Error(`FailedUnavailable: cannot take the delivery lock: ${describe(error)}`);
        if (Date.now() >= deadline) {
          throw new Error(`FailedUnavailable: another delivery to the same place held its lock for more than ${waitInMs} ms`);
        }
        // Jittered, growing pause: waiting writers of one placement do not poll in step.
        await sleep(pause + Math.floor(Math.random() * pause), undefined, { signal: abortSignal });
        pause = Math.min(pause * 2, 1_000);
      }
    }
    if (unknown && created === undefined) lastUnknownWasNew = false;
    remember(name);
    const renewal = setInterval(() => {
      lease.renewLease().catch((error: unknown) => options.onLeaseError?.(`delivery lock ${name}: lease renewal failed (${describe(error)}); another delivery may take it when it lapses`));
    }, (leaseInSeconds * 1_000) / 3);
    renewal.unref();
    return {
      release() {
        clearInterval(renewal);
        const release = lease.releaseLease().then(
          () => undefined,
          (error: unknown) => options.onLeaseError?.(`delivery lock ${name}: lease release failed (${describe(error)}); it lapses by itself`),
        );
        releasing.set(name, release);
        void release.then(() => {
          if (releasing.get(name) === release) releasing.delete(name);
        });
        return release;
      },
    };
  }

  const locks: BlobLeaseLocks = {
    async withLock(key, fn, callOptions = {}) {
      const held = await take(key, callOptions.abortSignal);
      try {
        return await fn();
      } finally {
        held.release();
      }
    },
    group() {
      return lockGroup(take);
    },
    async settle() {
      while (releasing.size > 0) await Promise.all([...releasing.values()]);
    },
  };
  return locks;
}

/**
 * One lock per key for the holders of a group: the first holder takes it, later ones wait for that and share it;
 * it is released when the group is done with the key and no holder runs, or when the group closes. A failed take
 * fails its waiting holders (each reports it) and the next holder tries again.
 */
function lockGroup(take: (key: string, abortSignal: AbortSignal | undefined) => Promise<HeldLock>): LockGroup {
  interface Held {
    readonly taken: Promise<HeldLock>;
    running: number;
    done: boolean;
  }
  const held = new Map<string, Held>();
  const releases: Promise<void>[] = [];
  const releaseIfIdle = (key: string, entry: Held): void => {
    if (entry.running > 0 || !entry.done || held.get(key) !== entry) return;
    held.delete(key);
    releases.push(entry.taken.then((lock) => lock.release(), () => undefined));
  };
  return {
    async withLock(key, fn) {
      let entry = held.get(key);
      if (!entry) {
        const created: Held = { taken: take(key, undefined), running: 0, done: false };
        created.taken.catch(() => {
          if (held.get(key) === created) held.delete(key);
        });
        held.set(key, created);
        entry = created;
      }
      entry.running += 1;
      try {
        await entry.taken;
        return await fn();
      } finally {
        entry.running -= 1;
        releaseIfIdle(key, entry);
      }
    },
    done(key) {
      const entry = held.get(key);
      if (!entry) return;
      entry.done = true;
      releaseIfIdle(key, entry);
    },
    async close() {
      for (const [key, entry] of [...held]) {
        entry.done = true;
        releaseIfIdle(key, entry);
      }
      // Holders still running (none when the batch awaited them) release theirs when they finish.
      await Promise.all(releases);
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
