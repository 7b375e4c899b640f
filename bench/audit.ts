/**
 * Audit log benchmark against a local Azurite (started here, in memory). Append throughput with 50 writers, two ways:
 * - one `AuditLog` with 50 concurrent appenders (the production configuration: one instance per process, its
 *   activities appending concurrently): appends in flight together are group-committed into one Append Block;
 * - 50 `AuditLog` instances, one append at a time each (as 50 processes would be): no coalescing, contention between
 *   writers on shared blobs, with the default shards and with 50 shards;
 * and in the same run the naive baseline (one unconditional Append Block per record into one blob: no chain, no
 * order, no tamper evidence), one writer alone, then verify and query of 100,000 records. Bound: 1,000 records/s
 * with 50 writers; verify of 100k < 10 s. Writes docs/benchmarks.md `## Audit log`. Run: `npx tsx bench/audit.ts`.
 * Options (env): BENCH_AUDIT_RECORDS (per run, default 2000), BENCH_AUDIT_VERIFY_RECORDS (default 100000),
 * BENCH_AUDIT_NO_WRITE=1 (print only).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite } from '../local/azurite.js';
import { AuditAppendError, createAuditLog, type AuditRecordInput } from '../shared/audit/index.js';
import { fingerprint, fingerprintKeyFrom } from '../shared/domain/fingerprint.js';

const records = Number(process.env.BENCH_AUDIT_RECORDS ?? 2000);
const verifyRecords = Number(process.env.BENCH_AUDIT_VERIFY_RECORDS ?? 100_000);
const WRITERS = 50;
const BOUND_PER_SECOND = 1000;
const VERIFY_BOUND_SECONDS = 10;
const key = fingerprintKeyFrom('bench', 'b'.repeat(32));
const print = fingerprint(key, 'bench-value');

function input(index: number): AuditRecordInput {
  return {
    action: 'deliver',
    status: 'Updated',
    actor: { kind: 'event', id: 'kv/platform' },
    cause: { eventId: `evt-${index}`, instanceId: `relay:platform:db-password:${index}` },
    source: { vault: 'https://platform.vault.azure.net', name: 'db-password', version: index.toString(16).padStart(32, '0') },
    target: { id: `target-${index % 97}`, kind: 'keyVault', location: `customer-${index % 97}.vault.azure.net/db-password` },
    reason: 'SourceNewer',
    fingerprint: print,
  };
}

interface Run {
  readonly perSecond: number;
  readonly seconds: number;
  readonly blocks: number;
  /** Appends that gave up under contention (`AuditAppendError` `Contention`): counted, not hidden. */
  readonly failed: number;
}

/** `loops` async loops taking record indexes from one counter, each awaiting its append before the next. */
async function timed(total: number, loops: number, one: (loop: number, index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      while (next < total) {
        const index = next;
        next += 1;
        await one(loop, index);
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

async function blocksOf(container: ContainerClient): Promise<number> {
  let blocks = 0;
  for await (const item of container.listBlobsFlat()) {
    blocks += (await container.getAppendBlobClient(item.name).getProperties()).blobCommittedBlockCount ?? 0;
  }
  return blocks;
}

/** `instances` AuditLog instances (separate processes would each have one), `perInstance` appends in flight on each. */
async function appendRun(container: ContainerClient, total: number, instances: number, perInstance: number, shards?: number): Promise<Run> {
  const logs = Array.from({ length: instances }, (_, writer) => createAuditLog({ containerClient: container, writerId: `bench-${writer}`, ...(shards ? { shards } : {}) }));
  let failed = 0;
  const seconds = await timed(total, instances * perInstance, (loop, index) =>
    logs[loop % instances]!.append(input(index)).then(
      () => undefined,
      (error: unknown) => {
        if (!(error instanceof AuditAppendError) || error.reason !== 'Contention') throw error;
        failed += 1;
      },
    ),
  );
  const report = await createAuditLog({ containerClient: container }).verify();
  if (!report.ok || report.recordsChecked !== total - failed) throw new Error(`verify after the run (${instances} instances × ${perInstance}) failed`);
  return { perSecond: (total - failed) / seconds, seconds, blocks: await blocksOf(container), failed };
}

/** What a user would write without the library: one unconditional Append Block per record into one blob. */
async function naiveRun(container: ContainerClient, total: number, writers: number): Promise<Run> {
  await container.createIfNotExists();
  const blob = container.getAppendBlobClient('naive.jsonl');
  await blob.createIfNotExists();
  const seconds = await timed(total, writers, async (_, index) => {
    const line = `${JSON.stringify({ ...input(index), time: new Date().toISOString() })}\n`;
    await blob.appendBlock(line, Buffer.byteLength(line));
  });
  return { perSecond: total / seconds, seconds, blocks: await blocksOf(container), failed: 0 };
}

const azurite = await startAzurite();
const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
const rows: string[] = [];
const fresh = (): ContainerClient => service.getContainerClient(`bench-${randomUUID().slice(0, 8)}`);
const ratio = (run: Run) => `${(run.perSecond / BOUND_PER_SECOND).toFixed(2)}`;
const row = (label: string, run: Run) =>
  `| ${label} | ${records}${run.failed > 0 ? ` (${run.failed} gave up under contention)` : ''} | ${run.blocks} | ${run.seconds.toFixed(1)} s | **${Math.round(run.perSecond)} records/s** | ${ratio(run)} |`;
let grouped: Run;
let naive: Run;
let separate: Run;
let verifySeconds = Number.NaN;
try {
  // Interleaved order, so the naive baseline and the library meet the same machine load.
  naive = await naiveRun(fresh(), records, WRITERS);
  grouped = await appendRun(fresh(), records, 1, WRITERS);
  separate = await appendRun(fresh(), records, WRITERS, 1);
  const separateSharded = await appendRun(fresh(), records, WRITERS, 1, WRITERS);
  const single = await appendRun(fresh(), Math.min(records, 1000), 1, 1);
  rows.push(
    row(`1 \`AuditLog\`, ${WRITERS} concurrent appenders (production: one per process), group commit`, grouped),
    row(`${WRITERS} \`AuditLog\` instances (as ${WRITERS} processes), 1 append in flight each, 4 shards`, separate),
    row(`${WRITERS} \`AuditLog\` instances, 1 append in flight each, ${WRITERS} shards`, separateSharded),
    row(`naive baseline: ${WRITERS} writers, one unconditional Append Block per record, one blob, no chain`, naive),
    `| 1 \`AuditLog\`, 1 append at a time | ${Math.min(records, 1000)} | ${single.blocks} | ${single.seconds.toFixed(1)} s | ${Math.round(single.perSecond)} records/s | ${ratio(single)} |`,
  );
  for (const line of rows) console.log(line);
  const container = fresh();
  // The trail to verify, filled with appendMany (500 records per call: one block each); its rate is not a bound.
  const filler = createAuditLog({ containerClient: container });
  const fillSeconds = await timed(Math.ceil(verifyRecords / 500), 8, async (_, chunk) => {
    const count = Math.min(500, verifyRecords - chunk * 500);
    await filler.appendMany(Array.from({ length: count }, (__, index) => input(chunk * 500 + index)));
  });
  rows.push(`| fill for verify: \`appendMany\` of 500 records, 8 calls in flight | ${verifyRecords} | ${await blocksOf(container)} | ${fillSeconds.toFixed(1)} s | ${Math.round(verifyRecords / fillSeconds)} records/s | — |`);
  console.log(rows.at(-1));
  const log = createAuditLog({ containerClient: container });
  const started = performance.now();
  const report = await log.verify();
  verifySeconds = (performance.now() - started) / 1000;
  if (!report.ok || report.recordsChecked !== verifyRecords) throw new Error('verify of the large trail failed');
  rows.push(`| verify | ${verifyRecords} in ${report.blobsChecked} blobs | — | ${verifySeconds.toFixed(1)} s | ${Math.round(verifyRecords / verifySeconds)} records/s | ${(verifySeconds / VERIFY_BOUND_SECONDS).toFixed(2)} of the ${VERIFY_BOUND_SECONDS} s bound |`);
  console.log(rows.at(-1));
  const queryStarted = performance.now();
  const result = await log.query({ target: 'target-7' });
  const querySeconds = (performance.now() - queryStarted) / 1000;
  rows.push(`| query by target | ${verifyRecords} scanned, ${result.records.length} matched | — | ${querySeconds.toFixed(1)} s | ${Math.round(verifyRecords / querySeconds)} records/s | — |`);
  console.log(rows.at(-1));
} finally {
  await azurite.stop();
}

const section = [
  '## Audit log',
  '',
  `Measured by \`npx tsx bench/audit.ts\` on ${new Date().toISOString().slice(0, 10)}: Azurite 3.37 in memory on the same machine ` +
    `(${cpus().length} cores, shared with other work), Node ${process.versions.node}, default (4) shards unless a row says otherwise. ` +
    `Every append resolves only once the block holding its record is committed (conditional Append Block at the chain's tail). ` +
    `"${WRITERS} writers" is measured both ways: ${WRITERS} concurrent appenders on one \`AuditLog\` — what production runs: one ` +
    'instance per process (`auditLogFromSettings`, composition root), its concurrent activities appending through it — ' +
    'whose appends in flight together are group-committed (one Append Block of several records, chained in order); and ' +
    `${WRITERS} separate instances with one append each in flight, as ${WRITERS} processes would be, which cannot coalesce and ` +
    'contend for shared blobs (a lost race costs a catch-up read and a retry with backoff on another shard). The naive ' +
    'baseline, measured in the same run, is what a user would write without the library: one unconditional Append ' +
    'Block per record into one blob (no chain, no order, no tamper evidence). "ratio" is records/s over the bound ' +
    `(${BOUND_PER_SECOND} records/s; ≥ 1 meets it). Against Azure Storage each commit is a network round trip, so group commit ` +
    'matters more there, not less.',
  '',
  '| run | records | Append Blocks | time | rate | ratio to bound |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
  `**Bound (≥ ${BOUND_PER_SECOND} records/s with ${WRITERS} writers, production configuration): ${grouped!.perSecond >= BOUND_PER_SECOND ? 'met' : 'not met'}** ` +
    `(${ratio(grouped!)}× the bound, ${(grouped!.perSecond / naive!.perSecond).toFixed(1)}× the naive baseline; ${WRITERS} separate instances: ${ratio(separate!)}×). ` +
    `**Verify of ${verifyRecords} records: ${verifySeconds.toFixed(1)} s** (bound ${VERIFY_BOUND_SECONDS} s: ${verifySeconds < VERIFY_BOUND_SECONDS ? 'met' : 'not met'}).`,
  '',
].join('\n');

if (process.env.BENCH_AUDIT_NO_WRITE !== '1') {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'benchmarks.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf('\n## Audit log\n');
  let next: string;
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    const after = current.indexOf('\n## ', start + 1);
    next = `${current.slice(0, start)}\n${section}${after === -1 ? '' : current.slice(after)}`;
  }
  writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
  console.log(`wrote the "## Audit log" section of ${file}`);
}
