import { createHash, createHmac } from 'node:crypto';
import type { FingerprintKey } from '../domain/fingerprint.js';
import type { AuditRecord, AuditRecordContent } from './schema.js';

/**
 * The hash chain of one blob. Each line is `{…content,"seq":n,"chain":"…","prev":"<hex>","blk":b,"hash":"<hex>"}` +
 * `\n`; `hash` is SHA-256 (or HMAC-SHA256 under a chain key) of the line's exact bytes without the `,"hash":"…"`
 * member, `prev` is the previous line's `hash` (for the first line: the blob's genesis value) and `blk` the index of
 * the Append Block that holds the line (lines of one group commit share it; lines written before group commit have
 * no `blk` and are one block each). Editing, deleting, reordering or moving a line breaks a link; rewriting the blob
 * in other blocks changes its committed block count, which `blk` pins.
 */
export const PLAIN_CHAIN = 'sha256';
const HASH_MEMBER = ',"hash":"';
const HEX_64 = /^[0-9a-f]{64}$/;

/** Where a line's closing `,"hash":"<64 hex>"}` member starts, and the hash; undefined when it does not end so. */
function hashSuffixOf(line: string): { start: number; hash: string } | undefined {
  // Sliced, not matched with a regex anchored at the end: verify runs this on every line of the trail.
  const start = line.length - HASH_MEMBER.length - 64 - 2;
  if (start < 0 || !line.endsWith('"}') || !line.startsWith(HASH_MEMBER, start)) return undefined;
  const hash = line.slice(start + HASH_MEMBER.length, start + HASH_MEMBER.length + 64);
  return HEX_64.test(hash) ? { start, hash } : undefined;
}

/** The `prev` of a blob's first record: binds the chain to the blob name, so a moved blob does not verify. */
export function genesisOf(blobName: string): string {
  return createHash('sha256').update(`secret-relay-audit/v1:${blobName}`).digest('hex');
}

export function chainNameOf(key: FingerprintKey | undefined): string {
  return key ? `hmac-sha256:${key.id}` : PLAIN_CHAIN;
}

function digest(body: string, key: FingerprintKey | undefined): string {
  return key
    ? createHmac('sha256', key.secret).update(body, 'utf8').digest('hex')
    : createHash('sha256').update(body, 'utf8').digest('hex');
}

/** The members the writer adds to every chained line. */
export interface ChainLink {
  readonly seq: number;
  readonly chain: string;
  readonly prev: string;
  /** Index of the Append Block holding the line (absent on lines written one per block before group commit). */
  readonly blk?: number;
  readonly hash: string;
}

/**
 * Serialises a content object (an audit record's content, or a seal) as the next line of a blob; returns the line
 * (with `\n`) and the full record.
 */
export function sealLine<C extends object = AuditRecordContent>(
  content: C,
  link: { seq: number; prev: string; key?: FingerprintKey | undefined; block?: number | undefined },
): { line: string; record: C extends AuditRecordContent ? AuditRecord : C & ChainLink } {
  const members = { seq: link.seq, chain: chainNameOf(link.key), prev: link.prev, ...(link.block === undefined ? {} : { blk: link.block }) };
  const body = JSON.stringify({ ...content, ...members });
  const hash = digest(body, link.key);
  const line = `${body.slice(0, -1)},"hash":"${hash}"}\n`;
  const record = { ...content, ...members, hash };
  return { line, record: record as C extends AuditRecordContent ? AuditRecord : C & ChainLink };
}

export type LineCheck =
  | { ok: true; record: AuditRecord }
  | { ok: false; kind: 'unparseable-record' | 'hash-mismatch' | 'key-unavailable'; message: string; record?: AuditRecord };

/** Whether a chain name is the plain (unkeyed) SHA-256 chain, which anyone can compute. */
export function isPlainChain(chain: string): boolean {
  return chain === PLAIN_CHAIN;
}

/**
 * Parses one line (without its `\n`) and checks its own hash. Linking (`prev`, `seq`) is the caller's job.
 * `keys` are the chain keys known to the verifier, by id.
 */
export function checkLine(line: string, keys: ReadonlyMap<string, FingerprintKey>): LineCheck {
  const suffix = hashSuffixOf(line);
  let record: AuditRecord;
  try {
    record = JSON.parse(line) as AuditRecord;
  } catch {
    return { ok: false, kind: 'unparseable-record', message: 'not valid JSON' };
  }
  if (!suffix || typeof record !== 'object' || record === null || record.hash !== suffix.hash) {
    return { ok: false, kind: 'unparseable-record', message: 'does not end with its "hash" member' };
  }
  if (typeof record.seq !== 'number' || typeof record.prev !== 'string' || typeof record.chain !== 'string') {
    return { ok: false, kind: 'unparseable-record', message: 'lacks "seq", "chain" or "prev"' };
  }
  let key: FingerprintKey | undefined;
  if (record.chain !== PLAIN_CHAIN) {
    const keyId = /^hmac-sha256:([A-Za-z0-9-]{1,32})$/.exec(record.chain)?.[1];
    key = keyId === undefined ? undefined : keys.get(keyId);
    if (!key) {
      return { ok: false, kind: 'key-unavailable', message: `chain "${record.chain}" needs a key the verifier was not given`, record };
    }
  }
  const body = `${line.slice(0, suffix.start)}}`;
  if (digest(body, key) !== record.hash) {
    return {
      ok: false,
      kind: 'hash-mismatch',
      message: key
        ? `content does not match its keyed hash under "${record.chain}" (the record was edited, or written without the chain key)`
        : 'content does not match its hash (the record was edited)',
      record,
    };
  }
  return { ok: true, record };
}

/** Reads `seq` and `hash` of a line written by {@link sealLine}, without checking it; undefined if it is not one. */
export function tailLinkOf(line: string): { seq: number; hash: string } | undefined {
  const suffix = hashSuffixOf(line);
  const seq = /,"seq":(\d+),"chain":/.exec(line);
  if (!suffix || !seq?.[1]) return undefined;
  return { seq: Number(seq[1]), hash: suffix.hash };
}
