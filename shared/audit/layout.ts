/**
 * Blob names of the audit log: `yyyy/mm/dd/hh/<shard>-<segment>.jsonl` (UTC hour of the record's time, shard
 * `00`–`99`, segment `0000`–`9999`). A writer moves to the next segment before a blob reaches the append-blob block
 * limit.
 */
export const MAX_SHARDS = 100;
export const MAX_SEGMENTS = 10_000;

const NAME = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})-(\d{4})\.jsonl$/;

export interface BlobLocation {
  /** `yyyy/mm/dd/hh` */
  readonly hour: string;
  readonly shard: number;
  readonly segment: number;
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

/** `yyyy/mm/dd/hh` of a time, in UTC. */
export function hourOf(time: Date): string {
  return `${time.getUTCFullYear()}/${pad(time.getUTCMonth() + 1, 2)}/${pad(time.getUTCDate(), 2)}/${pad(time.getUTCHours(), 2)}`;
}

/** Start of the hour partition named `yyyy/mm/dd/hh`. */
export function hourStart(hour: string): Date {
  const [y, m, d, h] = hour.split('/').map(Number) as [number, number, number, number];
  return new Date(Date.UTC(y, m - 1, d, h));
}

export function blobNameOf(location: BlobLocation): string {
  return `${location.hour}/${pad(location.shard, 2)}-${pad(location.segment, 4)}.jsonl`;
}

export function shardPrefixOf(hour: string, shard: number): string {
  return `${hour}/${pad(shard, 2)}-`;
}

/** Parses a blob name of the layout; undefined for any other name. */
export function parseBlobName(name: string): BlobLocation | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  const [, y, mo, d, h, shard, segment] = match as unknown as [string, string, string, string, string, string, string];
  return { hour: `${y}/${mo}/${d}/${h}`, shard: Number(shard), segment: Number(segment) };
}

/** True when the hour partition overlaps [from, to] (either end open). */
export function hourOverlaps(hour: string, from?: Date, to?: Date): boolean {
  const start = hourStart(hour).getTime();
  const end = start + 3_600_000 - 1;
  return (from === undefined || end >= from.getTime()) && (to === undefined || start <= to.getTime());
}

/** The longest name prefix shared by every hour in [from, to], to narrow a listing; '' when open-ended. */
export function listingPrefixOf(from?: Date, to?: Date): string {
  if (!from || !to) return '';
  const a = `${hourOf(from)}/`;
  const b = `${hourOf(to)}/`;
  let length = 0;
  while (length < a.length && a[length] === b[length]) length += 1;
  return a.slice(0, length);
}
