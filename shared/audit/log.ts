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
import { splitLines, walkBlob, type VerifyProblem } from './verify.js';

/** Options of {@link createAuditLog}. */
export interface CreateAuditLogOptions {
  /** The audit container (see `auditContainerFromSettings`). Created on first append if missing. */
  readonly containerClient: ContainerClient;
  /** Blobs written in parallel per hour (1–100, default 4). More shards, less contention between writers. */
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
}

/** The audit trail: append-only JSON Lines in append blobs, hash-chained per blob. */
export interface AuditLog {
  /**
   * Validates the input (unknown fields and foreign statuses are refused), then appends it as one block and resolves
   * only once the service has committed it. Needs `Storage Blob Data Contributor` (create, append, read, list) on the
   * container. Repeating the same input appends a second line with the same id, which query and verify collapse.
   * Throws {@link AuditRecordRejectedError} or {@link AuditAppendError}; never a partial success.
   */
  append(input: AuditRecordInput, options?: AuditCallOptions): Promise<AuditRecord>;
  /** Reads the blobs of the time range and returns matching records. Needs `Storage Blob Data Reader`. */
  query(filter?: AuditQueryFilter, options?: AuditCallOptions): Promise<AuditQueryResult>;
  /** Walks every chain of the time range and reports the first broken link of each blob. Needs `Storage Blob Data Reader`. */
  verify(options?: VerifyOptions): Promise<VerifyReport>;
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

interface Slot {
  segment?: number;
  state?: BlobState;
  tail: Promise<void>;
  waiting: number;
}

type Attempt = { done: true; record: AuditRecord } | { done: false };

const TAIL_WINDOW = 16 * 1024;
const CATCH_UP_WINDOW = 256 * 1024;
const BACKOFF_BASE_MS = 5;
const BACKOFF_CAP_MS = 250;

/**
 * Creates an audit log over one container. Keep one instance per process: it caches the tail of the blobs it writes,
 * so an uncontended append is a single request.
 */
export function createAuditLog(options: CreateAuditLogOptions): AuditLog {
  const container = options.containerClient;
  const shards = options.shards ?? 4;
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

  function slotOf(hour: string, shard: number): Slot {
    const id = `${hour}#${shard}`;
    let slot = slots.get(id);
    if (!slot) {
      if (slots.size > 4 * shards) {
        for (const [other, candidate] of slots) if (!other.startsWith(hour) && candidate.waiting === 0) slots.delete(other);
      }
      slot = { tail: Promise.resolve(), waiting: 0 };
      slots.set(id, slot);
    }
    return slot;
  }

  /** The least busy shard of this process, starting from the writer's preferred one. */
  function pickShard(hour: string): number {
    let best = preferredShard;
    let bestWaiting = Number.POSITIVE_INFINITY;
    for (let step = 0; step < shards; step += 1) {
      const shard = (preferredShard + step) % shards;
      const waiting = slots.get(`${hour}#${shard}`)?.waiting ?? 0;
      if (waiting < bestWaiting) {
        best = shard;
        bestWaiting = waiting;
      }
    }
    return best;
  }

  async function exclusive<T>(slot: Slot, work: () => Promise<T>): Promise<T> {
    slot.waiting += 1;
    const previous = slot.tail;
    let release!: () => void;
    slot.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous;
      return await work();
    } finally {
      slot.waiting -= 1;
      release();
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
      const response = await blob.download(state.offset, CATCH_UP_WINDOW);
      delta = await bufferOf(response.readableStreamBody);
      total = Number(/\/(\d+)$/.exec(response.contentRange ?? '')?.[1] ?? Number.NaN);
      blockCount = response.blobCommittedBlockCount;
    } catch (error) {
      if (statusOf(error) !== 416 && statusOf(error) !== 404) throw error;
      return { landed: false, state: await readState(blob, name) };
    }
    const landed = delta.subarray(0, Buffer.byteLength(line)).toString('utf8') === line;
    const end = state.offset + delta.length;
    if (delta.length === 0 || total !== end || blockCount === undefined || delta[delta.length - 1] !== 0x0a) {
      return { landed, state: await readState(blob, name) };
    }
    const lastLine = delta.toString('utf8', delta.lastIndexOf(0x0a, delta.length - 2) + 1);
    const link = tailLinkOf(lastLine.slice(0, -1));
    if (!link) return { landed, state: await readState(blob, name) };
    return { landed, state: { exists: true, offset: end, seq: link.seq + 1, lastHash: link.hash, blockCount, closed: false, lastLine } };
  }

  async function tryAppend(hour: string, shard: number, slot: Slot, content: AuditRecordContent, call: AuditCallOptions): Promise<Attempt> {
    for (let step = 0; step < 8; step += 1) {
      slot.segment ??= await latestSegment(hour, shard);
      if (slot.segment >= MAX_SEGMENTS) throw new AuditAppendError('StorageError', false, `shard ${shard} of hour ${hour} has no segment left`);
      const name = blobNameOf({ hour, shard, segment: slot.segment });
      const blob = container.getAppendBlobClient(name);
      slot.state ??= await readState(blob, name);
      const state = slot.state;
      if (state.closed || state.blockCount >= maxBlocks) {
        slot.segment += 1;
        slot.state = undefined;
        continue;
      }
      const sealed = sealLine(content, { seq: state.seq, prev: state.lastHash, key });
      const length = Buffer.byteLength(sealed.line);
      try {
        if (!state.exists) {
          await ensureContainer();
          await blob.createIfNotExists({ abortSignal: call.abortSignal });
        }
        await blob.appendBlock(sealed.line, length, {
          conditions: { appendPosition: state.offset },
          abortSignal: call.abortSignal,
        });
        slot.state = {
          exists: true,
          offset: state.offset + length,
          seq: state.seq + 1,
          lastHash: sealed.record.hash,
          blockCount: state.blockCount + 1,
          closed: false,
          lastLine: sealed.line,
        };
        return { done: true, record: sealed.record };
      } catch (error) {
        slot.state = undefined;
        const code = errorCodeOf(error);
        if (code === 'AppendPositionConditionNotMet') {
          const caughtUp = await catchUp(blob, name, state, sealed.line);
          // A lost response to an append that did land: our exact line sits where we appended it.
          if (caughtUp.landed) {
            slot.state = caughtUp.state;
            return { done: true, record: sealed.record };
          }
          slot.state = caughtUp.state;
          return { done: false };
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

  async function append(input: AuditRecordInput, call: AuditCallOptions = {}): Promise<AuditRecord> {
    const content = buildRecordContent(input, now);
    const hour = hourOf(new Date(content.time));
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const shard = pickShard(hour);
      const slot = slotOf(hour, shard);
      const outcome = await exclusive(slot, () => tryAppend(hour, shard, slot, content, call));
      if (outcome.done) return outcome.record;
      // Another writer appended first: move this writer to another shard for good, so writers spread out.
      if (shards > 1 && shard === preferredShard) preferredShard = (shard + 1 + Math.floor(Math.random() * (shards - 1))) % shards;
      call.abortSignal?.throwIfAborted();
      await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 10)));
    }
    throw new AuditAppendError('Contention', true, `audit append gave up after ${maxAttempts} attempts under contention`);
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
    const walks = new Map<string, ReturnType<typeof walkBlob>>();
    await forEachLimited(walkable, readConcurrency, async (name) => {
      const { bytes, blockCount } = await downloadWithBlockCount(container.getAppendBlobClient(name), abortSignal);
      walks.set(name, walkBlob(name, bytes, { keys, blockCount }));
    });
    for (const name of walkable) {
      const walk = walks.get(name)!;
      recordsChecked += walk.records.length;
      for (const { record } of walk.records) {
        if (ids.has(record.id)) duplicateRecords += 1;
        else ids.add(record.id);
      }
      if (walk.problem) problems.push(walk.problem);
    }
    problems.sort((a, b) => compare(a.blob, b.blob) || (a.offset ?? 0) - (b.offset ?? 0));
    return {
      ok: problems.length === 0,
      blobsChecked: walkable.length,
      recordsChecked,
      duplicateRecords,
      problems,
      firstProblem: problems[0],
    };
  }

  return { append, query, verify };
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
