/**
 * Audit log benchmark against a local Azurite (started here, in memory): append throughput with 1, 10 and 50
 * independent writers (separate AuditLog instances, as separate processes would be), then verify time for 100,000
 * records. Writes the numbers into docs/benchmarks.md under `## Audit log`. Run: `npx tsx bench/audit.ts`.
 * Options (env): BENCH_AUDIT_RECORDS (per writer-count run, default 2000), BENCH_AUDIT_VERIFY_RECORDS (default
 * 100000), BENCH_AUDIT_SHARDS (default: the library default), BENCH_AUDIT_NO_WRITE=1 (print only).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { startAzurite } from '../local/azurite.js';
import { createAuditLog, type AuditRecordInput } from '../shared/audit/index.js';
import { fingerprint, fingerprintKeyFrom } from '../shared/domain/fingerprint.js';

const records = Number(process.env.BENCH_AUDIT_RECORDS ?? 2000);
const verifyRecords = Number(process.env.BENCH_AUDIT_VERIFY_RECORDS ?? 100_000);
const shards = process.env.BENCH_AUDIT_SHARDS ? Number(process.env.BENCH_AUDIT_SHARDS) : undefined;
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

async function appendRun(container: ContainerClient, writers: number, total: number): Promise<{ perSecond: number; seconds: number }> {
  const logs = Array.from({ length: writers }, (_, writer) => createAuditLog({ containerClient: container, writerId: `bench-${writer}`, ...(shards ? { shards } : {}) }));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    logs.map(async (log) => {
      while (next < total) {
        const index = next;
        next += 1;
        await log.append(input(index));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: total / seconds, seconds };
}

/** One process-wide instance with many appends in flight: spread over its shards without cross-writer contention. */
async function fillRun(container: ContainerClient, total: number): Promise<{ perSecond: number; seconds: number }> {
  const log = createAuditLog({ containerClient: container, shards: 8 });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < total) {
        const index = next;
        next += 1;
        await log.append(input(index));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: total / seconds, seconds };
}

const azurite = await startAzurite();
const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
const rows: string[] = [];
try {
  for (const writers of [1, 10, 50]) {
    const container = service.getContainerClient(`bench-${randomUUID().slice(0, 8)}`);
    const run = await appendRun(container, writers, records);
    const report = await createAuditLog({ containerClient: container }).verify();
    if (!report.ok || report.recordsChecked !== records) throw new Error(`verify after the ${writers}-writer run failed`);
    rows.push(`| append, ${writers} writer${writers === 1 ? '' : 's'} | ${records} | ${run.seconds.toFixed(1)} s | ${Math.round(run.perSecond)} records/s |`);
    console.log(rows.at(-1));
  }
  const container = service.getContainerClient(`bench-${randomUUID().slice(0, 8)}`);
  const fill = await fillRun(container, verifyRecords);
  rows.push(`| append, 1 instance, 32 concurrent appends, 8 shards | ${verifyRecords} | ${fill.seconds.toFixed(1)} s | ${Math.round(fill.perSecond)} records/s |`);
  console.log(rows.at(-1));
  const log = createAuditLog({ containerClient: container });
  const started = performance.now();
  const report = await log.verify();
  const seconds = (performance.now() - started) / 1000;
  if (!report.ok || report.recordsChecked !== verifyRecords) throw new Error('verify of the large trail failed');
  rows.push(`| verify | ${verifyRecords} in ${report.blobsChecked} blobs | ${seconds.toFixed(1)} s | ${Math.round(verifyRecords / seconds)} records/s |`);
  console.log(rows.at(-1));
  const queryStarted = performance.now();
  const result = await log.query({ target: 'target-7' });
  const querySeconds = (performance.now() - queryStarted) / 1000;
  rows.push(`| query by target | ${verifyRecords} scanned, ${result.records.length} matched | ${querySeconds.toFixed(1)} s | ${Math.round(verifyRecords / querySeconds)} records/s |`);
  console.log(rows.at(-1));
} finally {
  await azurite.stop();
}

const section = [
  '## Audit log',
  '',
  `Measured by \`npx tsx bench/audit.ts\` on ${new Date().toISOString().slice(0, 10)}: Azurite 3.37 in memory on the same machine ` +
    `(${cpus().length} cores, shared), Node ${process.versions.node}, ${shards ?? 'default (4)'} shards. Writers are separate ` +
    '`AuditLog` instances (as separate processes would be) appending one record at a time; each append is one ' +
    'conditional Append Block and resolves only once committed. Contention between writers on one blob costs a ' +
    'catch-up read and a retry with backoff, so many independent writers on few shards are slower than one writer: ' +
    'keep one `AuditLog` per process (its concurrent appends spread over its shards without contention, last append ' +
    'row) and set `AUDIT_SHARDS` at least to the number of processes that append at the same time. Against Azure ' +
    'Storage, expect lower throughput per writer (a network round trip per append). Verify and query read each blob ' +
    'once.',
  '',
  '| run | records | time | rate |',
  '|---|---|---|---|',
  ...rows,
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
