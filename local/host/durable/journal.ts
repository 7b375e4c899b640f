import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * An append-only JSON-lines journal per orchestration instance. Appends are group-committed: every record queued while
 * a write is in flight goes into the next single write + fdatasync, and `append` resolves only once its record is
 * durable. A torn last line (a crash mid-write) is ignored when reading. `create` writes a new journal in place;
 * `replace` swaps the whole file atomically (write temp, fsync, rename). A journal made with `firstRecords` (records
 * already durable elsewhere: the start log) writes them in place with its first append, in the same write.
 */
export class Journal {
  readonly file: string;
  #handle: FileHandle | undefined;
  #queue: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;
  /** Lines to write first (truncating the file) with the next append, and what to call once they are on disk. */
  #first: { lines: string; written: () => void } | undefined;

  constructor(file: string, options: { firstRecords?: unknown[]; onFirstWritten?: () => void } = {}) {
    this.file = file;
    if (options.firstRecords) {
      this.#first = { lines: options.firstRecords.map((r) => `${JSON.stringify(r)}\n`).join(''), written: options.onFirstWritten ?? (() => undefined) };
    }
  }

  /** Whether the journal's file holds its first records (false until the first append of a `firstRecords` journal). */
  get written(): boolean {
    return this.#first === undefined;
  }

  /** Appends one record; resolves when it is on disk. */
  append(record: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`journal ${this.file} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line: `${JSON.stringify(record)}\n`, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#queue.length);
        const first = this.#first;
        try {
          // the first write of a journal whose first records are elsewhere truncates a leftover file (one torn before its first line)
          this.#handle ??= await open(this.file, first ? 'w' : 'a');
          await this.#handle.write((first?.lines ?? '') + batch.map((item) => item.line).join(''));
          await this.#handle.datasync();
          if (first) {
            this.#first = undefined;
            first.written();
          }
          for (const item of batch) item.resolve();
        } catch (error) {
          if (first) {
            // start over with a truncating open: a partial first write must not be appended to
            await this.#handle?.close().catch(() => undefined);
            this.#handle = undefined;
          }
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * Writes the first records of a new journal (truncating a file that holds no instance, e.g. one torn before its
   * first line), durable on return, and keeps the file open for the appends that follow. A crash mid-write leaves an
   * empty or torn file, which loading ignores.
   */
  async create(records: unknown[]): Promise<void> {
    await this.#flushing;
    await this.#handle?.close();
    this.#handle = undefined;
    const handle = await open(this.file, 'w');
    try {
      await handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await handle.datasync();
    } catch (error) {
      await handle.close();
      throw error;
    }
    this.#handle = handle;
  }

  /** Replaces the journal's content atomically with the given records. */
  async replace(records: unknown[]): Promise<void> {
    await this.#flushing;
    await this.#handle?.close();
    this.#handle = undefined;
    const temp = `${this.file}.${process.pid}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
    const first = this.#first;
    this.#first = undefined;
    first?.written();
  }

  /** Deletes the journal. */
  async remove(): Promise<void> {
    await this.close();
    this.#first = undefined;
    await rm(this.file, { force: true });
  }

  /** Waits for pending writes and closes the file handle; a later append opens it again. */
  async release(): Promise<void> {
    // an append always starts a flush at once, so with no flush in progress nothing is queued or being written
    while (this.#flushing) await this.#flushing;
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
    await this.#handle?.close();
    this.#handle = undefined;
  }

  /** Reopens a closed journal for appends (after `remove`, to start the instance afresh). */
  reopen(): void {
    this.#closed = false;
  }
}

/** The file name of an instance's journal (base64url of the instance id, so any id is a safe file name). */
export function journalFileName(instanceId: string): string {
  return `${Buffer.from(instanceId, 'utf8').toString('base64url')}.jsonl`;
}

/** Creates the journal folder if needed. */
export async function ensureJournalDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Reads every journal in the folder: file path and parsed records (a torn trailing line is dropped). */
export async function readJournals(dir: string): Promise<{ file: string; records: unknown[] }[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.jsonl'));
  const result: { file: string; records: unknown[] }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const text = await readFile(file, 'utf8');
    const records: unknown[] = [];
    let torn = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        torn = true;
        break;
      }
    }
    if (torn) {
      // drop the torn tail so later appends start on a clean line
      await writeFile(`${file}.repair`, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      await rename(`${file}.repair`, file);
    }
    if (records.length > 0) result.push({ file, records });
  }
  return result;
}
