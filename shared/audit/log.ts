import { createHash, randomUUID } from 'node:crypto';
import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';
import type { FingerprintKey } from '../domain/fingerprint.js';
import { genesisOf, sealLine, tailLinkOf } from './chain.js';
import {
  blobNameOf,
  hourOf,
  hourOverlaps,
  listingPrefixOf,
  MAX_SEGMENTS,
  MAX_SHARDS,
  parseBlobName,
  shardPrefixOf,
} from './layout.js';
import { buildRecordContent, type AuditAction, type AuditRecord, type AuditRecordContent, type AuditRecordInput, type AuditStatus } from './schema.js';
import { createSealWriter, sealDayOf, type SealedHead, type SealRecord } from './seal.js';
import { splitLines, walkBlob, type VerifyProblem } from './verify.js';

/** Options of {@link createAuditLog}. */
export interface CreateAuditLogOptions {
  /** The audit container (see `auditContainerFromSettings`). Created on first append if missing. */
  readonly containerClient: ContainerClient;
  /**
   * Shards per hour (1–100, default 100): the blobs writers may append to. Each instance sticks to one (chosen by its
   * writer id, changed after it loses a race to another writer), so an hour has about as many blobs as instances
   * appended in it; keep it above the number of processes that append at once.
   */
  readonly shards?: number;
  /** Records per blob before moving to the next segment (default 40,000; the service limit is 50,000 blocks). */
  readonly maxBlocksPerBlob?: number;
  /** Attempts of one append under contention before it fails (default 100). */
  readonly maxAttempts?: number;
  /** Key for a keyed (HMAC-SHA256) chain instead of plain SHA-256; see docs/audit.md. */
  readonly chainKey?: FingerprintKey;
  /** Keys `verify` may use for keyed chains (the `chainKey` is always included). */
  readonly verifyKeys?: readonly FingerprintKey[];
  /** Identifies this writer; decides its preferred shard (default: random). */
  readonly writerId?: string;
  /** Clock for records without a `time` (default: `new Date()`). */
  readonly now?: () => Date;
  /** Blobs downloaded in parallel by query and verify (default 8). */
  readonly readConcurrency?: number;
  /**
   * Anchors the chains outside the audit container (needs `chainKey`): the heads of the blobs this writer appended to
   * are sealed into `containerClient` every `intervalInMs` (default 60 s), at the first append of each new hour and
   * on `seal()`; `verify` checks every head against the seals. A failed seal never fails an append: it goes to
   * `onError` and its heads are sealed with the next one.
   */
  readonly seal?: {
    readonly containerClient: ContainerClient;
    readonly intervalInMs?: number;
    readonly onError?: (error: unknown) => void;
  };
}

export interface AuditCallOptions {
  readonly abortSignal?: AbortSignal;
}

/** Filter of {@link AuditLog.query}; every given field must match. */
export interface AuditQueryFilter {
  /** Source secret name (case-insensitive). */
  readonly secret?: string;
  /** Source vault URL or host (case-insensitive). */
  readonly sourceVault?: string;
  /** Target id. */
  readonly target?: string;
  readonly status?: AuditStatus;
  readonly action?: AuditAction;
  /** Inclusive bounds on the record time. */
  readonly from?: Date;
  readonly to?: Date;
}

export interface AuditQueryResult {
  /** Matching records, oldest first, each id once (the first one written). */
  readonly records: AuditRecord[];
  /** Records dropped because an earlier record had the same id (a retried append). */
  readonly duplicates: number;
  readonly blobsRead: number;
  /** Lines that were not readable JSON records (run `verify`). */
  readonly unreadableLines: number;
}

export interface VerifyOptions extends AuditCallOptions {
  /** Only blobs whose hour partition overlaps [from, to]. */
  readonly from?: Date;
  readonly to?: Date;
  /**
   * Accept plain SHA-256 records although the log has a chain key (a trail begun before keyed chains were
   * configured). Default false: with a chain key, a plain record is a problem (`unkeyed-record`).
   */
  readonly allowUnkeyed?: boolean;
}

/** Outcome of {@link AuditLog.verify}. `ok` is false when any problem was found. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly blobsChecked: number;
  readonly recordsChecked: number;
  /** Records whose id already appeared (retried appends); not a problem. */
  readonly duplicateRecords: number;
  /** The first broken link of each broken blob, plus missing segments and foreign blobs, in name order. */
  readonly problems: VerifyProblem[];
  readonly firstProblem?: VerifyProblem;
  /** Whether the chains were checked against seals (a seal container was given). */
  readonly sealed: boolean;
  /** Seal lines read (each seals one or more heads). */
  readonly sealsChecked: number;
  /** Time of the newest seal read, or null. */
  readonly lastSealTime: string | null;
  /**
   * Records after the last seal of their blob (all records of an unsealed blob). Until a seal covers them, cutting
   * them off at a record boundary is not detectable (in Azure, the WORM policy of the audit container prevents it).
   */
  readonly unsealedRecords: number;
}

/** The audit trail: append-only JSON Lines in append blobs, hash-chained per blob. */
export interface AuditLog {
  /**
   * Validates the input (unknown fields and foreign statuses are refused), then appends it and resolves only once the
   * service has committed the block holding it (appends in flight together share one block: see `appendMany`). Needs `Storage Blob Data Contributor` (create, append, read, list) on the
   * container. Repeating the same input appends a second line with the same id, which query and verify collapse.
   * Throws {@link AuditRecordRejectedError} or {@link AuditAppendError}; never a partial success.
   */
  append(input: AuditRecordInput, options?: AuditCallOptions): Promise<AuditRecord>;
  /**
   * Validates every input (one refused: {@link AuditRecordRejectedError}, nothing appended), then appends them in
   * order and resolves once all are committed. Appends in flight at the same time, from this call and others, are
   * group-committed: one Append Block holds several records, chained in queue order, and lands whole or not at all.
   * Inputs of one hour that fit one block (500 records, 1 MiB) go into consecutive positions of one blob. Rejects
   * when any of them did not land ({@link AuditAppendError}); those that did are collapsed by id when retried.
   * `abortSignal` stops appends still queued; a block already being written finishes. Needs what `append` needs.
   */
  appendMany(inputs: readonly AuditRecordInput[], options?: AuditCallOptions): Promise<AuditRecord[]>;
  /** Reads the blobs of the time range and returns matching records. Needs `Storage Blob Data Reader`. */
  query(filter?: AuditQueryFilter, options?: AuditCallOptions): Promise<AuditQueryResult>;
  /**
   * Walks every chain of the time range and reports the first broken link of each blob, then checks every sealed
   * head (when a seal container is configured). Needs `Storage Blob Data Reader` on both containers.
   */
  verify(options?: VerifyOptions): Promise<VerifyReport>;
  /**
   * Seals the heads this writer appended since its last seal now (nothing to seal: resolves undefined). Throws when
   * the seal cannot be written (the heads stay pending). Needs `Storage Blob Data Contributor` on the seal container.
   */
  seal(options?: AuditCallOptions): Promise<SealRecord | undefined>;
}

/** Constant reasons an append fails with. */
export type AuditAppendFailure = 'Contention' | 'AccessDenied' | 'StorageUnavailable' | 'StorageError';

/** An append that did not land. `retryable` says whether trying again later may succeed. */
export class AuditAppendError extends Error {
  override readonly name = 'AuditAppendError';
  constructor(
    readonly reason: AuditAppendFailure,
    readonly retryable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface BlobState {
  readonly exists: boolean;
  readonly offset: number;
  readonly seq: number;
  readonly lastHash: string;
  readonly blockCount: number;
  /** The blob cannot take more records from us (full, foreign type, unreadable tail). */
  readonly closed: boolean;
  readonly lastLine?: string;
}

/** An append waiting in a slot's queue for the next group commit. */
interface Pending {
  readonly content: AuditRecordContent;
  readonly abortSignal: AbortSignal | undefined;
  readonly resolve: (record: AuditRecord) => void;
  readonly reject: (error: unknown) => void;
  /** Group commits this append lost to another writer so far. */
  attempts: number;
}

interface Slot {
  segment?: number;
  state?: BlobState;
  /** Appends waiting for the next group commit of this blob, in order. */
  queue: Pending[];
  /** Appends in the group commit now being written. */
  writing: number;
  /** Whether a drain loop runs (one per slot: it alone writes the blob). */
  draining: boolean;
  /** The last block written here lost a race: re-read the tail right before the next one (it is likely stale). */
  contended: boolean;
}

type Attempt = { done: true; records: AuditRecord[]; blob: string } | { done: false };

const TAIL_WINDOW = 16 * 1024;
const CATCH_UP_WINDOW = 256 * 1024;
const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 250;
/** Default shards per hour: the whole layout, so separate processes find a blob of their own (see `pickShard`). */
const DEFAULT_SHARDS = MAX_SHARDS;
/** Most records of one group commit (one Append Block). */
const MAX_BATCH_RECORDS = 10_000;
/** Most bytes of one group commit (the service takes Append Blocks of up to 4 MiB at every API version). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Idle slots (blob tails of other hours) kept before they are dropped. */
const IDLE_SLOTS_KEPT = 16;

/**
 * Creates an audit log over one container. Keep one instance per process: it caches the tail of the blobs it writes,
 * so an uncontended append is a single request.
 */
export function createAuditLog(options: CreateAuditLogOptions): AuditLog {
  const container = options.containerClient;
  const shards = options.shards ?? DEFAULT_SHARDS;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new RangeError(`shards must be 1-${MAX_SHARDS}`);
  const maxBlocks = options.maxBlocksPerBlob ?? 40_000;
  if (!Number.isInteger(maxBlocks) || maxBlocks < 1 || maxBlocks > 50_000) throw new RangeError('maxBlocksPerBlob must be 1-50000');
  const maxAttempts = options.maxAttempts ?? 100;
  const readConcurrency = options.readConcurrency ?? 8;
  const now = options.now ?? (() => new Date());
  const key = options.chainKey;
  const keys = new Map<string, FingerprintKey>();
  for (const candidate of [...(options.verifyKeys ?? []), ...(key ? [key] : [])]) keys.set(candidate.id, candidate);
  const writerId = options.writerId ?? randomUUID();
  let preferredShard = createHash('sha256').update(writerId).digest().readUInt32BE(0) % shards;
  const slots = new Map<string, Slot>();
  let containerReady = false;

  if (options.seal && !key) throw new RangeError('seal needs a chainKey: seals are HMACs under the chain key');
  const sealWriter = options.seal && key ? createSealWriter({ containerClient: options.seal.containerClient, key, writerId, now }) : undefined;
  const sealIntervalInMs = options.seal?.intervalInMs ?? 60_000;
  /** Heads appended to since the last seal, by blob name. */
  const pendingHeads = new Map<string, SealedHead>();
  let lastSealAt = Number.NEGATIVE_INFINITY;
  let sealedHour: string | undefined;
  let sealTimer: NodeJS.Timeout | undefined;

  function notePending(head: SealedHead): void {
    const known = pendingHeads.get(head.blob);
    if (!known || known.count < head.count) pendingHeads.set(head.blob, head);
  }

  async function seal(call: AuditCallOptions = {}): Promise<SealRecord | undefined> {
    if (!sealWriter || pendingHeads.size === 0) return undefined;
    const heads = [...pendingHeads.values()].sort((a, b) => compare(a.blob, b.blob));
    pendingHeads.clear();
    if (sealTimer) clearTimeout(sealTimer);
    sealTimer = undefined;
    lastSealAt = now().getTime();
    try {
      return await sealWriter.write(heads, call);
    } catch (error) {
      for (const head of heads) notePending(head);
      armSealTimer();
      throw error;
    }
  }

  function sealQuietly(): Promise<void> {
    return seal().then(
      () => undefined,
      (error: unknown) => options.seal?.onError?.(error),
    );
  }

  function armSealTimer(): void {
    if (!sealWriter || sealTimer || pendingHeads.size === 0) return;
    sealTimer = setTimeout(() => {
      sealTimer = undefined;
      void sealQuietly();
    }, sealIntervalInMs);
    // A pending seal must not keep a process alive; what it would have sealed is reported as unsealed by verify.
    sealTimer.unref();
  }

  async function afterAppend(blob: string, record: AuditRecord): Promise<void> {
    if (!sealWriter) return;
    const hour = hourOf(new Date(record.time));
    const rollover = sealedHour !== undefined && hour !== sealedHour;
    sealedHour = hour;
    notePending({ blob, count: record.seq + 1, hash: record.hash });
    if (rollover || now().getTime() - lastSealAt >= sealIntervalInMs) await sealQuietly();
    else armSealTimer();
  }

  function slotOf(hour: string, shard: number): Slot {
    const id = `${hour}#${shard}`;
    let slot = slots.get(id);
    if (!slot) {
      if (slots.size > IDLE_SLOTS_KEPT) {
        for (const [other, candidate] of slots) if (!other.startsWith(hour) && !candidate.draining && candidate.queue.length === 0) slots.delete(other);
      }
      slot = { queue: [], writing: 0, draining: false, contended: false };
      slots.set(id, slot);
    }
    return slot;
  }

  /**
   * The writer's preferred shard, so that every append waiting in this process joins the next block of one blob (the
   * bigger the group, the fewer requests) and other processes, preferring other shards, never race it. Only when that
   * blob's queue already holds a full block does the append go to the least busy other shard, written in parallel.
   */
  function pickShard(hour: string): number {
    const preferred = slots.get(`${hour}#${preferredShard}`);
    if (!preferred || preferred.queue.length < MAX_BATCH_RECORDS) return preferredShard;
    let best = preferredShard;
    let bestWaiting = Number.POSITIVE_INFINITY;
    for (let step = 0; step < shards; step += 1) {
      const shard = (preferredShard + step) % shards;
      const slot = slots.get(`${hour}#${shard}`);
      const waiting = slot ? slot.queue.length + slot.writing : 0;
      if (waiting < bestWaiting) {
        best = shard;
        bestWaiting = waiting;
      }
    }
    return best;
  }

  /** Queues appends (kept together and in order) on the least busy shard of their hour and starts its drain. */
  function dispatch(hour: string, entries: Pending[]): void {
    const live = entries.filter((entry) => {
      if (!entry.abortSignal?.aborted) return true;
      entry.reject(entry.abortSignal.reason);
      return false;
    });
    if (live.length === 0) return;
    const shard = pickShard(hour);
    const slot = slotOf(hour, shard);
    slot.queue.push(...live);
    if (!slot.draining) void drain(hour, shard, slot);
  }

  /**
   * Writes a slot's queue as group commits, one at a time: every append queued while a commit is in flight goes into
   * the next one (one Append Block, records chained in queue order). Each append resolves only once its block is
   * committed; a block that fails fails every append in it, and one that loses a race to another writer is retried
   * after a backoff, on the shard the writer prefers from then on.
   */
  async function drain(hour: string, shard: number, slot: Slot): Promise<void> {
    slot.draining = true;
    try {
      while (slot.queue.length > 0) {
        // Let every append that is ready join this block: callers woken by the block before re-append in microtasks.
        await yieldToQueued();
        let attempt: Attempt;
        let batch: Pending[] = [];
        try {
          attempt = await tryAppend(hour, shard, slot, (taken) => {
            batch = taken;
          });
        } catch (error) {
          slot.writing = 0;
          // Nothing was taken when the tail could not be read: fail the commit that would have been written next.
          if (batch.length === 0) batch = slot.queue.splice(0, Math.min(slot.queue.length, MAX_BATCH_RECORDS));
          for (const entry of batch) entry.reject(error);
          continue;
        }
        slot.writing = 0;
        if (attempt.done) {
          await afterAppend(attempt.blob, attempt.records[attempt.records.length - 1]!);
          batch.forEach((entry, index) => entry.resolve(attempt.records[index]!));
          continue;
        }
        // Another writer appended first: move this writer to another shard for good, so writers spread out; the blob's
        // tail is re-read right before the next block written here.
        slot.contended = true;
        if (shards > 1 && shard === preferredShard) preferredShard = (shard + 1 + Math.floor(Math.random() * (shards - 1))) % shards;
        const retry: Pending[] = [];
        for (const entry of batch) {
          entry.attempts += 1;
          if (entry.attempts >= maxAttempts) {
            entry.reject(new AuditAppendError('Contention', true, `audit append gave up after ${maxAttempts} attempts under contention`));
          } else retry.push(entry);
        }
        if (retry.length === 0) continue;
        // Retried together (in order) after a backoff, on the shard this writer now prefers: writers spread out.
        const round = Math.min(...retry.map((entry) => entry.attempts));
        void sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(round, 10))).then(() => dispatch(hour, retry));
      }
    } finally {
      slot.draining = false;
    }
  }


  async function ensureContainer(): Promise<void> {
    if (containerReady) return;
    await container.createIfNotExists();
    containerReady = true;
  }

  async function latestSegment(hour: string, shard: number): Promise<number> {
    let latest = 0;
    try {
      for await (const item of container.listBlobsFlat({ prefix: shardPrefixOf(hour, shard) })) {
        const location = parseBlobName(item.name);
        if (location && location.shard === shard) latest = Math.max(latest, location.segment);
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return latest;
  }

  async function readState(blob: AppendBlobClient, name: string): Promise<BlobState> {
    const fresh: BlobState = { exists: false, offset: 0, seq: 0, lastHash: genesisOf(name), blockCount: 0, closed: false };
    let length: number;
    let blockCount: number;
    try {
      const properties = await blob.getProperties();
      if (properties.blobType !== 'AppendBlob') return { ...fresh, exists: true, closed: true };
      length = properties.contentLength ?? 0;
      blockCount = properties.blobCommittedBlockCount ?? 0;
    } catch (error) {
      if (statusOf(error) === 404) return fresh;
      throw error;
    }
    if (length === 0) return { ...fresh, exists: true, blockCount };
    const lastLine = await readLastLine(blob, length);
    const link = lastLine === undefined ? undefined : tailLinkOf(lastLine.slice(0, -1));
    if (!link) return { ...fresh, exists: true, offset: length, blockCount, closed: true };
    return { exists: true, offset: length, seq: link.seq + 1, lastHash: link.hash, blockCount, closed: false, lastLine };
  }

  /**
   * After losing a race at `state.offset`, reads what others appended since (one request) and returns the new tail;
   * `landed` is true when the bytes at our offset are exactly our line (an earlier attempt did land).
   */
  async function catchUp(blob: AppendBlobClient, name: string, state: BlobState, line: string): Promise<{ landed: boolean; state: BlobState }> {
    let delta: Buffer;
    let total: number | undefined;
    let blockCount: number | undefined;
    try {
      // At least our whole block, to tell whether it landed.
      const response = await blob.download(state.offset, Math.max(CATCH_UP_WINDOW, Buffer.byteLength(line)));
      delta = await bufferOf(response.readableStreamBody);
      total = Number(/\/(\d+)$/.exec(response.contentRange ?? '')?.[1] ?? Number.NaN);
      blockCount = response.blobCommittedBlockCount;
    } catch (error) {
      if (statusOf(error) !== 416 && statusOf(error) !== 404) throw error;
      return { landed: false, state: await readState(blob, name) };
    }
    const landed = line.length > 0 && delta.subarray(0, Buffer.byteLength(line)).toString('utf8') === line;
    const end = state.offset + delta.length;
    if (delta.length === 0 || total !== end || blockCount === undefined || delta[delta.length - 1] !== 0x0a) {
      return { landed, state: await readState(blob, name) };
    }
    const lastLine = delta.toString('utf8', delta.lastIndexOf(0x0a, delta.length - 2) + 1);
    const link = tailLinkOf(lastLine.slice(0, -1));
    if (!link) return { landed, state: await readState(blob, name) };
    return { landed, state: { exists: true, offset: end, seq: link.seq + 1, lastHash: link.hash, blockCount, closed: false, lastLine } };
  }

  /**
   * Writes the head of the slot's queue as one Append Block at the cached tail (read first when unknown), taking as
   * many queued appends as fit the blob and the block (`take` hears which). Resolves `done: false` after losing the
   * race to another writer (the tail is then caught up); throws {@link AuditAppendError} for other failures.
   */
  async function tryAppend(hour: string, shard: number, slot: Slot, take: (batch: Pending[]) => void): Promise<Attempt> {
    let batch: Pending[] | undefined;
    for (let step = 0; step < 8; step += 1) {
      slot.segment ??= await latestSegment(hour, shard);
      if (slot.segment >= MAX_SEGMENTS) throw new AuditAppendError('StorageError', false, `shard ${shard} of hour ${hour} has no segment left`);
      const name = blobNameOf({ hour, shard, segment: slot.segment });
      const blob = container.getAppendBlobClient(name);
      slot.state ??= await readState(blob, name);
      if (slot.contended && slot.state.exists && !slot.state.closed) {
        // Others append here too: read what they appended since (one request), so this block is not stale already.
        slot.state = (await catchUp(blob, name, slot.state, '')).state;
      }
      slot.contended = false;
      const state = slot.state;
      if (state.closed || state.blockCount >= maxBlocks || state.seq >= maxBlocks) {
        slot.segment += 1;
        slot.state = undefined;
        continue;
      }
      if (!batch) {
        batch = slot.queue.splice(0, Math.min(slot.queue.length, MAX_BATCH_RECORDS, maxBlocks - state.seq));
        slot.writing = batch.length;
        take(batch);
      } else if (batch.length > maxBlocks - state.seq) {
        // A new segment after the batch was taken (rollover, a foreign blob): give back what does not fit.
        slot.queue.unshift(...batch.splice(maxBlocks - state.seq));
        slot.writing = batch.length;
        take(batch);
      }
      const lines: string[] = [];
      const records: AuditRecord[] = [];
      let prev = state.lastHash;
      let bytes = 0;
      for (const [index, entry] of batch.entries()) {
        const sealed = sealLine(entry.content, { seq: state.seq + index, prev, key, block: state.blockCount });
        const length = Buffer.byteLength(sealed.line);
        if (index > 0 && bytes + length > MAX_BATCH_BYTES) {
          slot.queue.unshift(...batch.splice(index));
          slot.writing = batch.length;
          take(batch);
          break;
        }
        lines.push(sealed.line);
        records.push(sealed.record);
        prev = sealed.record.hash;
        bytes += length;
      }
      const text = lines.join('');
      // One caller's signal may stop only a block that holds nothing else.
      const abortSignal = batch.length === 1 ? batch[0]!.abortSignal : undefined;
      try {
        if (!state.exists) {
          await ensureContainer();
          await blob.createIfNotExists({ abortSignal });
        }
        await blob.appendBlock(text, bytes, { conditions: { appendPosition: state.offset }, abortSignal });
        slot.state = {
          exists: true,
          offset: state.offset + bytes,
          seq: state.seq + records.length,
          lastHash: prev,
          blockCount: state.blockCount + 1,
          closed: false,
          lastLine: lines[lines.length - 1]!,
        };
        return { done: true, records, blob: name };
      } catch (error) {
        slot.state = undefined;
        const code = errorCodeOf(error);
        if (code === 'AppendPositionConditionNotMet') {
          const caughtUp = await catchUp(blob, name, state, text);
          slot.state = caughtUp.state;
          // A lost response to an append that did land: our exact block sits where we appended it.
          return caughtUp.landed ? { done: true, records, blob: name } : { done: false };
        }
        if (code === 'BlockCountExceedsLimit' || code === 'MaxBlobSizeConditionNotMet') {
          slot.segment += 1;
          continue;
        }
        if (code === 'ContainerNotFound') {
          containerReady = false;
          continue;
        }
        if (code === 'BlobNotFound') continue;
        throw toAppendError(error);
      }
    }
    return { done: false };
  }

  function enqueue(contents: readonly AuditRecordContent[], call: AuditCallOptions): Promise<AuditRecord[]> {
    call.abortSignal?.throwIfAborted();
    const byHour = new Map<string, Pending[]>();
    const results = contents.map(
      (content) =>
        new Promise<AuditRecord>((resolve, reject) => {
          const hour = hourOf(new Date(content.time));
          const group = byHour.get(hour) ?? [];
          group.push({ content, abortSignal: call.abortSignal, resolve, reject, attempts: 0 });
          byHour.set(hour, group);
        }),
    );
    for (const [hour, group] of byHour) dispatch(hour, group);
    return Promise.all(results);
  }

  async function append(input: AuditRecordInput, call: AuditCallOptions = {}): Promise<AuditRecord> {
    const [record] = await enqueue([buildRecordContent(input, now)], call);
    return record!;
  }

  async function appendMany(inputs: readonly AuditRecordInput[], call: AuditCallOptions = {}): Promise<AuditRecord[]> {
    // Every record is checked before any is queued: a refused one fails the call with nothing appended.
    const contents = inputs.map((input) => buildRecordContent(input, now));
    return contents.length === 0 ? [] : enqueue(contents, call);
  }


  async function listBlobs(from?: Date, to?: Date): Promise<{ name: string; blobType?: string }[]> {
    const found: { name: string; blobType?: string }[] = [];
    try {
      for await (const item of container.listBlobsFlat({ prefix: listingPrefixOf(from, to) })) {
        const location = parseBlobName(item.name);
        if (location && !hourOverlaps(location.hour, from, to)) continue;
        found.push({ name: item.name, blobType: item.properties.blobType });
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async function query(filter: AuditQueryFilter = {}, call: AuditCallOptions = {}): Promise<AuditQueryResult> {
    const blobs = (await listBlobs(filter.from, filter.to)).filter((blob) => parseBlobName(blob.name));
    const matches: { record: AuditRecord; blob: string; offset: number }[] = [];
    let unreadableLines = 0;
    const accept = matcherOf(filter);
    await forEachLimited(blobs, readConcurrency, async (item) => {
      const bytes = await container.getBlobClient(item.name).downloadToBuffer(0, undefined, { abortSignal: call.abortSignal });
      const { lines, rest } = splitLines(bytes);
      if (rest) unreadableLines += 1;
      for (const line of lines) {
        const record = parseRecord(line.text);
        if (!record) unreadableLines += 1;
        else if (accept(record)) matches.push({ record, blob: item.name, offset: line.offset });
      }
    });
    matches.sort((a, b) => compare(a.record.time, b.record.time) || compare(a.blob, b.blob) || a.offset - b.offset);
    const seen = new Set<string>();
    const records: AuditRecord[] = [];
    for (const match of matches) {
      if (seen.has(match.record.id)) continue;
      seen.add(match.record.id);
      records.push(match.record);
    }
    return { records, duplicates: matches.length - records.length, blobsRead: blobs.length, unreadableLines };
  }

  async function verify(verifyOptions: VerifyOptions = {}): Promise<VerifyReport> {
    const { from, to, abortSignal } = verifyOptions;
    // Seals first: every blob a seal names existed, with at least the sealed records, before the listing and the
    // downloads that follow, so a writer appending and sealing during the verify cannot look like a cut or a deletion.
    const seals = options.seal ? await checkSeals(options.seal.containerClient, { from, to, abortSignal }) : undefined;
    const blobs = await listBlobs(from, to);
    const problems: VerifyProblem[] = [];
    const segments = new Map<string, number[]>();
    const walkable: string[] = [];
    for (const blob of blobs) {
      const location = parseBlobName(blob.name);
      if (!location) {
        problems.push({ blob: blob.name, kind: 'foreign-blob', message: `${blob.name}: not an audit blob name (yyyy/mm/dd/hh/ss-nnnn.jsonl)` });
      } else if (blob.blobType !== 'AppendBlob') {
        problems.push({ blob: blob.name, kind: 'not-append-blob', message: `${blob.name}: is a ${blob.blobType ?? 'unknown'} blob, not an append blob (it was replaced)` });
      } else {
        walkable.push(blob.name);
        const group = `${location.hour}/${String(location.shard).padStart(2, '0')}`;
        segments.set(group, [...(segments.get(group) ?? []), location.segment]);
      }
    }
    for (const [group, present] of segments) {
      const [hour, shardText] = [group.slice(0, 13), group.slice(14)];
      const have = new Set(present);
      for (let segment = 0; segment < Math.max(...present); segment += 1) {
        if (have.has(segment)) continue;
        const name = blobNameOf({ hour, shard: Number(shardText), segment });
        problems.push({ blob: name, kind: 'missing-segment', message: `${name}: missing, but later segments of shard ${shardText} exist (a blob was deleted)` });
      }
    }
    const ids = new Set<string>();
    let recordsChecked = 0;
    let duplicateRecords = 0;
    const requireKeyed = keys.size > 0 && verifyOptions.allowUnkeyed !== true;
    /**
     * Per walkable blob: how many lines it has, the highest seq on them, and the hashes found at the seqs the seals
     * name (a seal names the hash of record `count - 1`).
     */
    const lineHashes = new Map<string, { length: number; bySeq: Map<number, string[]>; maxSeq: number }>();
    const blobProblems = new Map<string, VerifyProblem>();
    await forEachLimited(walkable, readConcurrency, async (name) => {
      const { bytes, blockCount } = await downloadWithBlockCount(container.getAppendBlobClient(name), abortSignal);
      const wanted = new Set((seals?.heads.get(name) ?? []).map((head) => head.count - 1));
      const bySeq = new Map<number, string[]>();
      let maxSeq = -1;
      let length = 0;
      // Records are counted and dropped as they are checked: a trail of 100,000 records is never held parsed.
      const walk = walkBlob(name, bytes, {
        keys,
        blockCount,
        requireKeyed,
        onRecord: (record) => {
          recordsChecked += 1;
          if (ids.has(record.id)) duplicateRecords += 1;
          else ids.add(record.id);
          if (wanted.has(record.seq)) bySeq.set(record.seq, [record.hash]);
          maxSeq = record.seq;
          length += 1;
        },
      });
      if (walk.problem) {
        blobProblems.set(name, walk.problem);
        // A broken chain: read the links of every line (not only the intact prefix) for the seal checks.
        bySeq.clear();
        maxSeq = -1;
        const { lines } = splitLines(bytes);
        length = lines.length;
        for (const line of lines) {
          const link = tailLinkOf(line.text);
          if (!link) continue;
          if (wanted.has(link.seq)) bySeq.set(link.seq, [...(bySeq.get(link.seq) ?? []), link.hash]);
          maxSeq = Math.max(maxSeq, link.seq);
        }
      }
      lineHashes.set(name, { length, bySeq, maxSeq });
    });
    for (const name of walkable) {
      const problem = blobProblems.get(name);
      if (problem) problems.push(problem);
    }
    let unsealedRecords = 0;
    if (seals) {
      problems.push(...seals.problems);
      const listed = new Set(blobs.map((blob) => blob.name));
      for (const [blob, heads] of seals.heads) {
        const hashes = lineHashes.get(blob);
        if (!hashes) {
          if (!listed.has(blob)) {
            const top = heads.reduce((a, b) => (b.count > a.count ? b : a));
            problems.push({ blob, kind: 'missing-blob', message: `${blob}: missing, but sealed with ${top.count} record(s) at ${top.time} (${top.where}): the blob was deleted` });
          }
          continue;
        }
        for (const head of [...heads].sort((a, b) => b.count - a.count)) {
          if (hashes.maxSeq + 1 < head.count) {
            const held = hashes.maxSeq + 1;
            problems.push({ blob, kind: 'truncated', message: `${blob}: holds ${held} record(s), but was sealed with ${head.count} at ${head.time} (${head.where}): ${head.count - held} record(s) were cut off` });
            break;
          }
          if (!(hashes.bySeq.get(head.count - 1) ?? []).includes(head.hash)) {
            problems.push({
              blob,
              offset: undefined,
              seq: head.count - 1,
              kind: 'seal-mismatch',
              message: `${blob}: record seq ${head.count - 1} is not the one sealed at ${head.time} (${head.where}): the records up to it were rewritten or the blob was replaced`,
            });
            break;
          }
        }
      }
      for (const name of walkable) {
        const sealedCount = Math.max(0, ...(seals.heads.get(name) ?? []).map((head) => head.count));
        unsealedRecords += Math.max(0, (lineHashes.get(name)?.length ?? 0) - sealedCount);
      }
    } else {
      for (const name of walkable) unsealedRecords += lineHashes.get(name)?.length ?? 0;
    }
    problems.sort((a, b) => compare(a.blob, b.blob) || (a.offset ?? 0) - (b.offset ?? 0));
    return {
      ok: problems.length === 0,
      blobsChecked: walkable.length,
      recordsChecked,
      duplicateRecords,
      problems,
      firstProblem: problems[0],
      sealed: seals !== undefined,
      sealsChecked: seals?.count ?? 0,
      lastSealTime: seals?.lastTime ?? null,
      unsealedRecords,
    };
  }

  /** Reads and walks the seal blobs that may seal blobs of [from, to]; returns the sealed heads by audit blob. */
  async function checkSeals(
    sealContainer: ContainerClient,
    range: { from?: Date | undefined; to?: Date | undefined; abortSignal?: AbortSignal | undefined },
  ): Promise<{ heads: Map<string, { count: number; hash: string; time: string; where: string }[]>; problems: VerifyProblem[]; count: number; lastTime: string | null }> {
    const prefix = sealContainer.containerName;
    const problems: VerifyProblem[] = [];
    const firstDay = range.from ? hourOf(range.from).slice(0, 10) : undefined;
    // A seal written at the first append after midnight seals the last hour of the day before.
    const lastDay = range.to ? hourOf(new Date(range.to.getTime() + 3_600_000)).slice(0, 10) : undefined;
    const names: string[] = [];
    const segments = new Map<string, number[]>();
    try {
      for await (const item of sealContainer.listBlobsFlat()) {
        const day = sealDayOf(item.name);
        if (!day) {
          problems.push({ blob: `${prefix}/${item.name}`, kind: 'foreign-blob', message: `${prefix}/${item.name}: not a seal blob name (yyyy/mm/dd/<writer>-nnnn.jsonl)` });
          continue;
        }
        if ((firstDay && day < firstDay) || (lastDay && day > lastDay)) continue;
        if (item.properties.blobType !== 'AppendBlob') {
          problems.push({ blob: `${prefix}/${item.name}`, kind: 'not-append-blob', message: `${prefix}/${item.name}: is a ${item.properties.blobType ?? 'unknown'} blob, not an append blob (it was replaced)` });
          continue;
        }
        names.push(item.name);
        const group = item.name.slice(0, item.name.length - '-0000.jsonl'.length);
        segments.set(group, [...(segments.get(group) ?? []), Number(item.name.slice(-10, -6))]);
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    for (const [group, present] of segments) {
      const have = new Set(present);
      for (let segment = 0; segment < Math.max(...present); segment += 1) {
        if (have.has(segment)) continue;
        const name = `${prefix}/${group}-${String(segment).padStart(4, '0')}.jsonl`;
        problems.push({ blob: name, kind: 'missing-segment', message: `${name}: missing, but later seal segments of this writer exist (a seal blob was deleted)` });
      }
    }
    const heads = new Map<string, { count: number; hash: string; time: string; where: string }[]>();
    let count = 0;
    let lastTime: string | null = null;
    const walked = new Map<string, ReturnType<typeof walkBlob>>();
    await forEachLimited(names, readConcurrency, async (name) => {
      const { bytes, blockCount } = await downloadWithBlockCount(sealContainer.getAppendBlobClient(name), range.abortSignal);
      walked.set(name, walkBlob(name, bytes, { keys, blockCount, requireKeyed: true, checkIds: false }));
    });
    for (const name of names) {
      const walk = walked.get(name)!;
      if (walk.problem) {
        problems.push({ ...walk.problem, blob: `${prefix}/${walk.problem.blob}`, message: `seal ${prefix}/${walk.problem.message}` });
      }
      for (const { record, offset } of walk.records) {
        const seal = record as unknown as SealRecord;
        if (seal.kind !== 'seal' || !Array.isArray(seal.heads)) continue;
        count += 1;
        if (lastTime === null || seal.time > lastTime) lastTime = seal.time;
        for (const head of seal.heads) {
          const location = parseBlobName(head.blob);
          if (!location || !hourOverlaps(location.hour, range.from, range.to)) continue;
          const list = heads.get(head.blob) ?? [];
          list.push({ count: head.count, hash: head.hash, time: seal.time, where: `seal ${prefix}/${name} at offset ${offset}` });
          heads.set(head.blob, list);
        }
      }
    }
    return { heads, problems, count, lastTime };
  }

  return { append, appendMany, query, verify, seal };
}

function matcherOf(filter: AuditQueryFilter): (record: AuditRecord) => boolean {
  const secret = filter.secret?.toLowerCase();
  const vaultHost = filter.sourceVault === undefined ? undefined : hostOf(filter.sourceVault);
  const from = filter.from?.getTime();
  const to = filter.to?.getTime();
  return (record) => {
    if (secret !== undefined && record.source?.name.toLowerCase() !== secret) return false;
    if (vaultHost !== undefined && (record.source === null || hostOf(record.source.vault) !== vaultHost)) return false;
    if (filter.target !== undefined && record.target?.id !== filter.target) return false;
    if (filter.status !== undefined && record.status !== filter.status) return false;
    if (filter.action !== undefined && record.action !== filter.action) return false;
    const time = Date.parse(record.time);
    if (from !== undefined && time < from) return false;
    if (to !== undefined && time > to) return false;
    return true;
  };
}

function hostOf(vault: string): string {
  try {
    return new URL(vault.includes('://') ? vault : `https://${vault}`).host.toLowerCase();
  } catch {
    return vault.toLowerCase();
  }
}

function parseRecord(text: string): AuditRecord | undefined {
  try {
    const value = JSON.parse(text) as AuditRecord;
    return typeof value === 'object' && value !== null && typeof value.id === 'string' && typeof value.time === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

async function readLastLine(blob: AppendBlobClient, length: number): Promise<string | undefined> {
  for (let window = TAIL_WINDOW; ; window *= 4) {
    const start = Math.max(0, length - window);
    const bytes = await blob.downloadToBuffer(start, length - start);
    if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) return undefined;
    const previous = bytes.lastIndexOf(0x0a, bytes.length - 2);
    if (previous !== -1 || start === 0) return bytes.toString('utf8', previous + 1);
  }
}

async function downloadWithBlockCount(blob: AppendBlobClient, abortSignal?: AbortSignal): Promise<{ bytes: Buffer; blockCount?: number }> {
  const response = await blob.download(0, undefined, { abortSignal });
  return { bytes: await bufferOf(response.readableStreamBody), blockCount: response.blobCommittedBlockCount };
}

async function bufferOf(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream ?? []) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(runners);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves after the microtasks and I/O callbacks already due have run. */
function yieldToQueued(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

function errorCodeOf(error: unknown): string | undefined {
  const e = error as { code?: string; details?: { errorCode?: string } } | undefined;
  return e?.details?.errorCode ?? e?.code;
}

function toAppendError(error: unknown): AuditAppendError {
  const status = statusOf(error);
  const code = errorCodeOf(error) ?? (status === undefined ? 'network' : `HTTP ${status}`);
  if (status === 401 || status === 403) {
    return new AuditAppendError('AccessDenied', false, `audit append refused by storage (${code})`, { cause: error });
  }
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    return new AuditAppendError('StorageUnavailable', true, `audit storage unavailable (${code})`, { cause: error });
  }
  return new AuditAppendError('StorageError', false, `audit append failed (${code})`, { cause: error });
}
