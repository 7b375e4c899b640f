import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Journal } from './journal.js';

const SUFFIX = '.starts';

/** One segment of the start log, as `append` hands it back. */
export interface StartLogEntry {
  /** Call once the instance's own journal holds the start record (durably): the segment may then go. */
  written(): void;
  /** Whether the segment holding the record still exists (a purge must then leave a tombstone). */
  readonly live: boolean;
}

interface Segment {
  readonly journal: Journal;
  readonly file: string;
  records: number;
  /** Starts in this segment whose own journal does not hold them yet. */
  unwritten: number;
  sealed: boolean;
  deleted: boolean;
}

/**
 * The durable log of instance starts, shared by every new instance: a start is durable once its record is in the log
 * (group-committed: every start queued while a write is in flight goes into the next single write + fdatasync), and
 * the instance's own journal is written later, with its first episode or message (one write for both). So a burst of
 * starts costs one write + fdatasync per batch instead of an open, a write and an fdatasync per instance. Segments
 * (`<n>.starts`, up to `recordsPerSegment` records) are deleted oldest first once every start they hold is in its
 * instance's journal. Recovery reads them (`readStartLog`) and writes what they hold into the instances' journals.
 */
export class StartLog {
  readonly #dir: string;
  readonly #recordsPerSegment: number;
  #next: number;
  readonly #segments: Segment[] = [];
  #deleting: Promise<void> = Promise.resolve();

  constructor(dir: string, options: { firstSegment?: number; recordsPerSegment?: number } = {}) {
    this.#dir = dir;
    this.#next = options.firstSegment ?? 0;
    this.#recordsPerSegment = options.recordsPerSegment ?? 1000;
  }

  /** Appends a start record; resolves once it is durable, with the entry to report its own journal's write to. */
  async appendStart(record: unknown): Promise<StartLogEntry> {
    const segment = this.#current();
    segment.records += 1;
    segment.unwritten += 1;
    try {
      await segment.journal.append(record);
    } catch (error) {
      segment.unwritten -= 1;
      throw error;
    }
    let done = false;
    return {
      written: () => {
        if (done) return;
        done = true;
        segment.unwritten -= 1;
        this.#collect();
      },
      get live() {
        return !segment.deleted;
      },
    };
  }

  /** Appends any other record (a purge tombstone); resolves once it is durable. */
  async append(record: unknown): Promise<void> {
    const segment = this.#current();
    segment.records += 1;
    await segment.journal.append(record);
  }

  /** Waits for pending writes and deletions and closes the segments (their files stay for the next start). */
  async close(): Promise<void> {
    await this.#deleting;
    await Promise.all(this.#segments.map((segment) => segment.journal.close()));
  }

  #current(): Segment {
    let segment = this.#segments.at(-1);
    if (!segment || segment.sealed || segment.records >= this.#recordsPerSegment) {
      if (segment) segment.sealed = true;
      const file = path.join(this.#dir, `${String(this.#next).padStart(8, '0')}${SUFFIX}`);
      this.#next += 1;
      segment = { journal: new Journal(file), file, records: 0, unwritten: 0, sealed: false, deleted: false };
      this.#segments.push(segment);
      this.#collect();
    }
    return segment;
  }

  /** Deletes the sealed segments at the head whose starts are all in their journals (in order: a later segment may hold a tombstone for an earlier one). */
  #collect(): void {
    while (this.#segments.length > 1 && this.#segments[0]!.sealed && this.#segments[0]!.unwritten === 0) {
      const segment = this.#segments.shift()!;
      segment.deleted = true;
      this.#deleting = this.#deleting.then(async () => {
        await segment.journal.close();
        await rm(segment.file, { force: true });
      });
    }
  }
}

/** The start log's files in `dir`, oldest first, with their records (a torn trailing line dropped), and the next free segment number. */
export async function readStartLog(dir: string): Promise<{ files: string[]; records: unknown[]; nextSegment: number }> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(SUFFIX) && /^\d+$/.test(name.slice(0, -SUFFIX.length))).sort();
  const records: unknown[] = [];
  for (const name of names) {
    for (const line of (await readFile(path.join(dir, name), 'utf8')).split('\n')) {
      if (line.length === 0) continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        // a torn last line: that append never resolved, so no start in it was acknowledged
        break;
      }
    }
  }
  const last = names.at(-1);
  return { files: names.map((name) => path.join(dir, name)), records, nextSegment: last ? Number(last.slice(0, -SUFFIX.length)) + 1 : 0 };
}

/** Deletes start log files (after recovery wrote what they hold into the instances' journals). */
export async function removeStartLogFiles(files: readonly string[]): Promise<void> {
  for (const file of files) await rm(file, { force: true });
}
