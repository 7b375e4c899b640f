import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';
import type { FingerprintKey } from '../domain/fingerprint.js';
import { genesisOf, sealLine, tailLinkOf, type ChainLink } from './chain.js';
import { hourOf } from './layout.js';

/**
 * Seals anchor the audit chains outside the audit container. A seal is one line in a separate container: the heads
 * (blob name, record count, hash of the last record) of the audit blobs a writer appended to since its last seal,
 * HMAC-chained under the chain key. Whoever can write the audit container but does not hold the key can neither
 * forge a seal nor make a sealed head verify after cutting, deleting, replacing or recomputing the blob; in Azure the
 * seal container is immutable (WORM, protected append writes), so seals cannot be removed either.
 *
 * Seal blobs: `yyyy/mm/dd/<writer>-<segment>.jsonl` (UTC day of the seal), one writer per blob.
 */
export const SEAL_SCHEMA_VERSION = 1;

/** One sealed head: the audit blob held at least `count` records, the last of them with hash `hash`. */
export interface SealedHead {
  readonly blob: string;
  readonly count: number;
  readonly hash: string;
}

/** The content of one seal line (the chain members are added by the writer). */
export interface SealContent {
  readonly v: number;
  readonly kind: 'seal';
  readonly time: string;
  readonly writer: string;
  readonly heads: readonly SealedHead[];
}

export type SealRecord = SealContent & ChainLink;

const SEAL_NAME = /^(\d{4})\/(\d{2})\/(\d{2})\/([a-z0-9-]{1,40})-(\d{4})\.jsonl$/;
const MAX_SEAL_BLOCKS = 40_000;

/** The UTC day (`yyyy/mm/dd`) of a seal blob name, or undefined when the name is not one. */
export function sealDayOf(name: string): string | undefined {
  const match = SEAL_NAME.exec(name);
  return match ? `${match[1]}/${match[2]}/${match[3]}` : undefined;
}

/** A writer id as it may appear in a seal blob name. */
export function sealWriterOf(writerId: string): string {
  return writerId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 40) || 'writer';
}

/** Writes seals for one writer. Seals are serialised; a failed seal leaves the blob as it was. */
export interface SealWriter {
  /** Appends one seal of the given heads. Needs `Storage Blob Data Contributor` on the seal container. */
  write(heads: readonly SealedHead[], options?: { abortSignal?: AbortSignal }): Promise<SealRecord>;
}

/** Creates the seal writer of one audit writer (`key` is the chain key; seals are always keyed). */
export function createSealWriter(options: {
  containerClient: ContainerClient;
  key: FingerprintKey;
  writerId: string;
  now: () => Date;
}): SealWriter {
  const container = options.containerClient;
  const writer = sealWriterOf(options.writerId);
  let state: { name: string; segment: number; offset: number; seq: number; lastHash: string; blocks: number } | undefined;
  let containerReady = false;
  let tail: Promise<unknown> = Promise.resolve();

  async function load(name: string, segment: number): Promise<NonNullable<typeof state>> {
    const blob = container.getAppendBlobClient(name);
    try {
      const bytes = await blob.downloadToBuffer();
      const text = bytes.toString('utf8');
      const lines = text.split('\n').filter((line) => line.length > 0);
      const link = lines.length > 0 ? tailLinkOf(lines[lines.length - 1]!) : undefined;
      // An unreadable tail: start a new segment rather than chain onto it (verify reports the damaged one).
      if ((lines.length > 0 && !link) || !text.endsWith('\n') && text.length > 0) return load(nameOf(options.now(), segment + 1), segment + 1);
      return { name, segment, offset: bytes.length, seq: link ? link.seq + 1 : 0, lastHash: link?.hash ?? genesisOf(name), blocks: lines.length };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      return { name, segment, offset: 0, seq: 0, lastHash: genesisOf(name), blocks: 0 };
    }
  }

  function nameOf(time: Date, segment: number): string {
    return `${hourOf(time).slice(0, 10)}/${writer}-${String(segment).padStart(4, '0')}.jsonl`;
  }

  async function writeOnce(heads: readonly SealedHead[], abortSignal?: AbortSignal): Promise<SealRecord> {
    const time = options.now();
    const day = hourOf(time).slice(0, 10);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      if (!state || !state.name.startsWith(`${day}/`)) state = await load(nameOf(time, 0), 0);
      if (state.blocks >= MAX_SEAL_BLOCKS) state = await load(nameOf(time, state.segment + 1), state.segment + 1);
      const content: SealContent = { v: SEAL_SCHEMA_VERSION, kind: 'seal', time: time.toISOString(), writer, heads };
      const sealed = sealLine(content, { seq: state.seq, prev: state.lastHash, key: options.key });
      const blob: AppendBlobClient = container.getAppendBlobClient(state.name);
      const length = Buffer.byteLength(sealed.line);
      try {
        if (state.offset === 0) {
          if (!containerReady) {
            await container.createIfNotExists({ abortSignal });
            containerReady = true;
          }
          await blob.createIfNotExists({ abortSignal });
        }
        await blob.appendBlock(sealed.line, length, { conditions: { appendPosition: state.offset }, abortSignal });
        state = { ...state, offset: state.offset + length, seq: state.seq + 1, lastHash: sealed.record.hash, blocks: state.blocks + 1 };
        return sealed.record;
      } catch (error) {
        const code = (error as { details?: { errorCode?: string }; code?: string }).details?.errorCode ?? (error as { code?: string }).code;
        // Another process with the same writer id appended first: re-read the tail and seal after it.
        if (code === 'AppendPositionConditionNotMet' || code === 'BlobNotFound' || code === 'ContainerNotFound') {
          containerReady = code !== 'ContainerNotFound' && containerReady;
          state = await load(state.name, state.segment);
          continue;
        }
        throw error;
      }
    }
    throw new Error(`seal blob ${state?.name ?? ''} is contended by another writer with the same id`);
  }

  return {
    write(heads, call = {}) {
      const run = tail.then(() => writeOnce(heads, call.abortSignal));
      tail = run.catch(() => undefined);
      return run;
    },
  };
}
