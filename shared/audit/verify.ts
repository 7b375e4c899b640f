import type { FingerprintKey } from '../domain/fingerprint.js';
import { checkLine, genesisOf, isPlainChain, tailLinkOf } from './chain.js';
import { idOfLine, recordIdOf, type AuditRecord } from './schema.js';

/** What can be wrong with the audit trail; constant, one per finding. */
export const VERIFY_PROBLEM_KINDS = [
  'incomplete-record',
  'unparseable-record',
  'hash-mismatch',
  'unkeyed-record',
  'id-mismatch',
  'key-unavailable',
  'broken-link',
  'missing-record',
  'reordered',
  'duplicated-record',
  'inserted-record',
  'block-count',
  'missing-segment',
  'not-append-blob',
  'foreign-blob',
  'truncated',
  'seal-mismatch',
  'missing-blob',
] as const;
export type VerifyProblemKind = (typeof VERIFY_PROBLEM_KINDS)[number];

/** One broken link: where (blob, byte offset of the line, its seq when readable) and what is wrong. */
export interface VerifyProblem {
  readonly blob: string;
  readonly offset?: number;
  readonly seq?: number;
  readonly kind: VerifyProblemKind;
  readonly message: string;
}

/** Result of walking one blob's chain: the records up to the first problem, with their byte offsets (unless heard one by one). */
export interface BlobWalk {
  readonly records: { record: AuditRecord; offset: number }[];
  readonly problem?: VerifyProblem;
}

const NEWLINE = 0x0a;

/** Splits blob bytes into complete lines (with offsets) and a trailing incomplete part, if any. */
export function splitLines(bytes: Uint8Array): { lines: { offset: number; text: string }[]; rest?: { offset: number; length: number } } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: { offset: number; text: string }[] = [];
  let start = 0;
  for (let index = buffer.indexOf(NEWLINE, start); index !== -1; index = buffer.indexOf(NEWLINE, start)) {
    lines.push({ offset: start, text: buffer.toString('utf8', start, index) });
    start = index + 1;
  }
  return start < buffer.length ? { lines, rest: { offset: start, length: buffer.length - start } } : { lines };
}

/**
 * Walks the chain of one blob and stops at the first broken link: a line that does not parse, a record whose hash
 * does not match its content, a `seq` out of order (missing or reordered records), a `prev` that is not the hash of
 * the line before it (or the genesis value of the blob), a truncated last line, a `blk` out of step, or a committed
 * block count that differs from the blocks the chain says were written (records of one group commit share a block,
 * their `blk`; a record without `blk` is one block).
 */
export function walkBlob(
  blob: string,
  bytes: Uint8Array,
  options: {
    keys?: ReadonlyMap<string, FingerprintKey>;
    blockCount?: number;
    /** Refuse plain SHA-256 records (anyone can compute them): the trail is written with a chain key. */
    requireKeyed?: boolean;
    /** Check each record's `id` against its content (audit records; not seals). Default true. */
    checkIds?: boolean;
    /** Hears each intact record in order; when given, `records` stays empty (nothing parsed is kept). */
    onRecord?: (record: AuditRecord, offset: number) => void;
  } = {},
): BlobWalk {
  const keys = options.keys ?? new Map<string, FingerprintKey>();
  const { lines, rest } = splitLines(bytes);
  const records: { record: AuditRecord; offset: number }[] = [];
  let expectedPrev = genesisOf(blob);
  let previousOffset: number | undefined;
  /** Blocks the records read so far were written in, and the `blk` of the record before (undefined: it had none). */
  let blocks = 0;
  let previousBlock: number | undefined;

  for (const [position, line] of lines.entries()) {
    const at = `${blob} at offset ${line.offset}`;
    const check = checkLine(line.text, keys);
    if (!check.ok) {
      const seq = check.record?.seq;
      return { records, problem: { blob, offset: line.offset, seq, kind: check.kind, message: `${at}${seq === undefined ? '' : ` (seq ${seq})`}: ${check.message}` } };
    }
    const record = check.record;
    if (options.requireKeyed && isPlainChain(record.chain)) {
      return {
        records,
        problem: {
          blob,
          offset: line.offset,
          seq: record.seq,
          kind: 'unkeyed-record',
          message: `${at} (seq ${record.seq}): a plain "sha256" record in a keyed trail (written without the chain key: forged, or the chain was recomputed from here)`,
        },
      };
    }
    if (record.seq !== position) {
      return { records, problem: sequenceProblem(blob, lines, position, record.seq, expectedPrev) };
    }
    if (record.prev !== expectedPrev) {
      const message =
        previousOffset === undefined
          ? `${at} (seq ${record.seq}): "prev" is not the genesis value of this blob (the blob was renamed or replaced)`
          : `${at} (seq ${record.seq}): "prev" does not match the hash of the record before it at offset ${previousOffset} (that record was changed or replaced)`;
      return { records, problem: { blob, offset: line.offset, seq: record.seq, kind: 'broken-link', message } };
    }
    // The line's own text first (cheap); a line laid out otherwise is judged by its parsed content.
    if (options.checkIds !== false && record.id !== idOfLine(line.text) && record.id !== recordIdOf(record)) {
      return {
        records,
        problem: {
          blob,
          offset: line.offset,
          seq: record.seq,
          kind: 'id-mismatch',
          message: `${at} (seq ${record.seq}): "id" ${String(record.id)} is not the id of the record's content (${recordIdOf(record)}): the content was changed after the id was computed`,
        },
      };
    }
    if (record.blk === undefined) {
      blocks += 1;
    } else if (record.blk !== previousBlock) {
      if (record.blk !== blocks) {
        return {
          records,
          problem: {
            blob,
            offset: line.offset,
            seq: record.seq,
            kind: 'block-count',
            message: `${at} (seq ${record.seq}): in block ${String(record.blk)} where block ${blocks} follows the ${blocks} before it (blocks were rewritten)`,
          },
        };
      }
      blocks += 1;
    }
    previousBlock = record.blk;
    if (options.onRecord) options.onRecord(record, line.offset);
    else records.push({ record, offset: line.offset });
    expectedPrev = record.hash;
    previousOffset = line.offset;
  }
  if (rest) {
    return {
      records,
      problem: {
        blob,
        offset: rest.offset,
        kind: 'incomplete-record',
        message: `${blob} at offset ${rest.offset}: the blob ends with ${rest.length} bytes that are not a complete record (truncated)`,
      },
    };
  }
  if (options.blockCount !== undefined && options.blockCount !== blocks) {
    return {
      records,
      problem: {
        blob,
        kind: 'block-count',
        message: `${blob}: ${options.blockCount} committed blocks but ${lines.length} records written in ${blocks} block${blocks === 1 ? '' : 's'} (the blob was rewritten)`,
      },
    };
  }
  return { records };
}

function sequenceProblem(blob: string, lines: { offset: number; text: string }[], position: number, found: number, expectedPrev: string): VerifyProblem {
  const line = lines[position]!;
  const at = `${blob} at offset ${line.offset}`;
  const base = { blob, offset: line.offset, seq: found };
  const links = lines.map((candidate) => ({ ...tailLinkOf(candidate.text), prev: prevOf(candidate.text) }));
  if (found < position) {
    const earlier = lines.slice(0, position).find((candidate) => candidate.text === line.text);
    if (earlier) {
      return { ...base, kind: 'duplicated-record', message: `${at}: a copy of the record at offset ${earlier.offset} (seq ${found}) where seq ${position} belongs (a line was duplicated)` };
    }
  }
  // A genuine record out of place links to another record of this blob and is the only one with its seq.
  const own = links[position]!;
  const genuine =
    links.filter((other) => other.seq === found).length === 1 &&
    (links.some((other, index) => index !== position && other.hash !== undefined && other.hash === own.prev) || (found === 0 && own.prev === genesisOf(blob)));
  const next = links[position + 1];
  const chainResumes = next !== undefined && next.seq === position && next.prev === expectedPrev;
  if (!genuine && (chainResumes || found < position)) {
    return {
      ...base,
      kind: 'inserted-record',
      message: `${at}: a record claiming seq ${found} that belongs to no place in this chain${chainResumes ? `; the chain resumes after it with seq ${position}` : ''} (a line was inserted)`,
    };
  }
  const later = lines.slice(position + 1).find((candidate) => tailLinkOf(candidate.text)?.seq === position);
  if (later) {
    return {
      ...base,
      kind: 'reordered',
      message: `${at}: found seq ${found} where seq ${position} belongs; seq ${position} comes later at offset ${later.offset} (records were reordered)`,
    };
  }
  if (found > position) {
    const missing = found - position;
    return {
      ...base,
      kind: 'missing-record',
      message: `${at}: expected seq ${position}, found seq ${found} (${missing} record${missing === 1 ? '' : 's'} deleted before this offset)`,
    };
  }
  return { ...base, kind: 'inserted-record', message: `${at}: a second record claiming seq ${found} after seq ${position - 1} (a line was inserted or replaced)` };
}

function prevOf(text: string): string | undefined {
  return /,"prev":"([0-9a-f]{64})",/.exec(text)?.[1];
}
