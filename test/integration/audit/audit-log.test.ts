import { createHash } from 'node:crypto';
import { losingFirstAppendAnswer } from '../../support/appendFaults.js';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import {
  AuditRecordRejectedError,
  createAuditLog,
  MAX_ERROR_MESSAGE_LENGTH,
  type AuditLog,
  type AuditRecordInput,
} from '../../../shared/audit/index.js';
import { fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import {
  blobNames,
  containerOf,
  deliveryInput,
  linesOf,
  offsetOf,
  rewriteBlob,
  scanForSecretValues,
  SECRET_VALUES,
} from './support.js';

let azurite: AzuriteBlob;

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('append and query under concurrency', () => {
  it('returns 500 records from 50 concurrent writers (separate instances, default shards) exactly once, none gives up, and verify passes', async () => {
    const container = containerOf(azurite.connectionString);
    // As 50 processes: each instance has its own writer id, so its own preferred shard; a writer that loses a race
    // moves to another shard, and none may give up (an append that rejects fails Promise.all).
    const writers = Array.from({ length: 50 }, (_, writer) => createAuditLog({ containerClient: container, writerId: `w${writer}` }));
    await Promise.all(
      writers.map(async (log, writer) => {
        for (let index = 0; index < 10; index += 1) await log.append(deliveryInput(writer * 10 + index));
      }),
    );
    const reader = createAuditLog({ containerClient: container });
    const result = await reader.query();
    expect(result.duplicates).toBe(0);
    expect(result.records).toHaveLength(500);
    const events = new Set(result.records.map((record) => record.cause.eventId));
    expect(events.size).toBe(500);
    for (let index = 0; index < 500; index += 1) expect(events.has(`evt-${index}`)).toBe(true);
    // Each writer's records keep its order.
    for (let writer = 0; writer < 50; writer += 1) {
      const own = result.records.filter((record) => Math.floor(Number(record.cause.eventId!.slice(4)) / 10) === writer);
      expect(own.map((record) => record.cause.eventId)).toEqual(Array.from({ length: 10 }, (_, index) => `evt-${writer * 10 + index}`));
    }

    const report = await reader.verify();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.recordsChecked).toBe(500);
  });

  it('writers forced onto one blob (shards: 1) interleave their blocks into one valid chain, each record once', async () => {
    const container = containerOf(azurite.connectionString);
    const writers = Array.from({ length: 8 }, (_, writer) => createAuditLog({ containerClient: container, shards: 1, writerId: `w${writer}` }));
    await Promise.all(
      writers.map(async (log, writer) => {
        for (let index = 0; index < 5; index += 1) await log.append(deliveryInput(writer * 5 + index));
      }),
    );
    const names = await blobNames(container);
    expect(names).toHaveLength(1);
    const records = (await linesOf(container, names[0]!)).map((line) => JSON.parse(line) as { seq: number; cause: { eventId: string } });
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 40 }, (_, index) => index));
    expect(new Set(records.map((record) => record.cause.eventId)).size).toBe(40);
    const report = await createAuditLog({ containerClient: container }).verify();
    expect(report.problems).toEqual([]);
    expect(report.recordsChecked).toBe(40);
  });

  it('one instance keeps to one blob per hour: concurrent appends share its blocks', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container });
    await Promise.all(Array.from({ length: 100 }, (_, index) => log.append(deliveryInput(index))));
    const names = await blobNames(container);
    expect(names).toHaveLength(1);
    expect((await container.getAppendBlobClient(names[0]!).getProperties()).blobCommittedBlockCount).toBe(1);
    expect((await log.verify()).recordsChecked).toBe(100);
  });

  it('serialises many concurrent appends through one instance without losing or interleaving lines', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container, shards: 2 });
    await Promise.all(Array.from({ length: 100 }, (_, index) => log.append(deliveryInput(index))));
    const report = await log.verify();
    expect(report.ok).toBe(true);
    expect(report.recordsChecked).toBe(100);
    for (const name of await blobNames(container)) {
      for (const line of await linesOf(container, name)) expect(line.endsWith('}\n')).toBe(true);
    }
  });

  it('rolls to the next segment before a blob reaches its block limit', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container, shards: 1, maxBlocksPerBlob: 5 });
    for (let index = 0; index < 12; index += 1) await log.append(deliveryInput(index));
    const names = await blobNames(container);
    expect(names.map((name) => name.slice(-13))).toEqual(['00-0000.jsonl', '00-0001.jsonl', '00-0002.jsonl']);
    const fresh = createAuditLog({ containerClient: container, shards: 1, maxBlocksPerBlob: 5 });
    await fresh.append(deliveryInput(12));
    await fresh.append(deliveryInput(13));
    await fresh.append(deliveryInput(14));
    expect((await blobNames(container)).length).toBe(3);
    expect((await fresh.query()).records).toHaveLength(15);
    expect((await fresh.verify()).ok).toBe(true);
  });

  it('continues the chain a previous process left behind', async () => {
    const container = containerOf(azurite.connectionString);
    await createAuditLog({ containerClient: container, shards: 1 }).append(deliveryInput(1));
    await createAuditLog({ containerClient: container, shards: 1 }).append(deliveryInput(2));
    const [name] = await blobNames(container);
    expect((await linesOf(container, name!)).length).toBe(2);
    expect((await createAuditLog({ containerClient: container }).verify()).ok).toBe(true);
  });
});

describe('deterministic ids', () => {
  it('collapses a retried append with the same id on read and counts the duplicate', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    const first = await log.append(deliveryInput(7));
    const second = await createAuditLog({ containerClient: container, shards: 1 }).append(deliveryInput(7));
    await log.append(deliveryInput(8));
    expect(second.id).toBe(first.id);
    const result = await log.query();
    expect(result.records.map((record) => record.cause.eventId)).toEqual(['evt-7', 'evt-8']);
    expect(result.records[0]!.hash).toBe(first.hash);
    expect(result.duplicates).toBe(1);
    const report = await log.verify();
    expect(report.ok).toBe(true);
    expect(report.duplicateRecords).toBe(1);
    expect(report.recordsChecked).toBe(3);
  });

  it('treats an append whose response was lost as done when its line sits at its offset', async () => {
    const real = containerOf(azurite.connectionString);
    const { container: flaky, dropped: droppedCount } = losingFirstAppendAnswer(real, () => Object.assign(new Error('condition not met'), { statusCode: 412, details: { errorCode: 'AppendPositionConditionNotMet' } }));
    const log = createAuditLog({ containerClient: flaky, shards: 1 });
    const first = await log.append(deliveryInput(1));
    await log.append(deliveryInput(2));
    expect(droppedCount()).toBe(1);
    const [name] = await blobNames(real);
    expect(await linesOf(real, name!)).toHaveLength(2);
    const result = await log.query();
    expect(result.records.map((record) => record.id)).toEqual([first.id, expect.any(String)]);
    expect(result.duplicates).toBe(0);
    expect((await log.verify()).ok).toBe(true);
  });

  it('gives different ids to records that differ in any content field', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    const a = await log.append(deliveryInput(1));
    const b = await log.append(deliveryInput(1, { status: 'UpToDate' }));
    expect(a.id).not.toBe(b.id);
  });
});

describe('record builder', () => {
  const log = (): AuditLog => createAuditLog({ containerClient: containerOf(azurite.connectionString) });

  it.each([
    ['an unknown top-level field', { value: SECRET_VALUES[0] }, 'fields not in the schema: value'],
    ['an unknown nested field', { target: { id: 'edge-1', kind: 'kubernetes', data: SECRET_VALUES[0] } }, 'target: fields not in the schema: data'],
    ['a status of another action', { status: 'Rotated' }, 'not an outcome of action "deliver"'],
    ['a fingerprint that is not keyed', { fingerprint: SECRET_VALUES[1] }, 'fingerprint'],
    ['a secret name with spaces', { source: { vault: 'https://platform.vault.azure.net', name: SECRET_VALUES[1] } }, 'source.name'],
  ])('refuses %s without echoing the value', async (_, tweak, expected) => {
    const error = await log()
      .append(deliveryInput(1, tweak))
      .then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuditRecordRejectedError);
    const message = (error as Error).message;
    expect(message).toContain(expected);
    for (const value of SECRET_VALUES) expect(message).not.toContain(value);
  });

  it('caps error messages and flattens control characters', async () => {
    const container = containerOf(azurite.connectionString);
    const record = await createAuditLog({ containerClient: container }).append(
      deliveryInput(1, { status: 'FailedUnavailable', error: { class: 'TransientTargetError', message: `line1\nline2 ${'x'.repeat(2000)}` } }),
    );
    expect(record.error!.message!.length).toBe(MAX_ERROR_MESSAGE_LENGTH);
    expect(record.error!.message!.startsWith('line1 line2 x')).toBe(true);
    expect(record.error!.message!.endsWith('…')).toBe(true);
  });

  it('stores the vault as its origin and every optional part as null', async () => {
    const container = containerOf(azurite.connectionString);
    const record = await createAuditLog({ containerClient: container }).append({
      action: 'reconcile',
      status: 'ReconcileStarted',
      actor: { kind: 'timer', id: 'reconcileTimer' },
      source: { vault: 'https://Platform.vault.azure.net/secrets/x', name: 'db-password' },
    });
    expect(record.source).toEqual({ vault: 'https://platform.vault.azure.net', name: 'db-password', version: null });
    expect(record.target).toBeNull();
    expect(record.cause).toEqual({ eventId: null, instanceId: null });
    expect(record.fingerprint).toBeNull();
  });
});

describe('query', () => {
  let container: ContainerClient;
  let log: AuditLog;
  const at = (iso: string) => new Date(iso);

  beforeAll(async () => {
    container = containerOf(azurite.connectionString);
    log = createAuditLog({ containerClient: container, shards: 2 });
    const inputs: AuditRecordInput[] = [
      deliveryInput(1, { time: at('2025-03-01T10:15:00Z') }),
      deliveryInput(2, { time: at('2025-03-01T11:15:00Z'), status: 'FailedNotOwned', target: { id: 'customer-a', kind: 'keyVault' } }),
      deliveryInput(3, { time: at('2025-03-01T12:15:00Z'), source: { vault: 'https://other.vault.azure.net', name: 'bmc-password' } }),
      { action: 'rotate', status: 'Rotated', actor: { kind: 'operator', id: 'alice@contoso.com' }, time: at('2025-03-01T12:30:00Z'), source: { vault: 'https://platform.vault.azure.net', name: 'DB-PASSWORD' } },
    ];
    for (const input of inputs) await log.append(input);
  });

  it.each([
    ['secret (case-insensitive)', { secret: 'db-password' }, ['evt-1', 'evt-2', null]],
    ['target', { target: 'customer-a' }, ['evt-2']],
    ['status', { status: 'FailedNotOwned' as const }, ['evt-2']],
    ['action', { action: 'rotate' as const }, [null]],
    ['source vault host', { sourceVault: 'other.vault.azure.net' }, ['evt-3']],
    ['time range', { from: at('2025-03-01T11:00:00Z'), to: at('2025-03-01T12:20:00Z') }, ['evt-2', 'evt-3']],
  ])('filters by %s', async (_, filter, expected) => {
    const result = await log.query(filter);
    expect(result.records.map((record) => record.cause.eventId)).toEqual(expected);
  });

  it('partitions blobs by the UTC hour of the record time', async () => {
    const names = await blobNames(container);
    expect(new Set(names.map((name) => name.slice(0, 13)))).toEqual(new Set(['2025/03/01/10', '2025/03/01/11', '2025/03/01/12']));
    expect((await log.query({ from: at('2025-03-01T12:00:00Z') })).blobsRead).toBe(names.filter((name) => name.startsWith('2025/03/01/12')).length);
  });
});

describe('verify detects tampering', () => {
  async function sixRecords(): Promise<{ container: ContainerClient; log: AuditLog; name: string; lines: string[] }> {
    const container = containerOf(azurite.connectionString, 'tamper');
    const log = createAuditLog({ containerClient: container, shards: 1 });
    for (let index = 0; index < 6; index += 1) await log.append(deliveryInput(index));
    const [name] = await blobNames(container);
    const lines = await linesOf(container, name!);
    expect(lines).toHaveLength(6);
    expect((await log.verify()).ok).toBe(true);
    return { container, log, name: name!, lines };
  }

  it('an edited record: hash mismatch at its offset', async () => {
    const { container, log, name, lines } = await sixRecords();
    const edited = [...lines];
    edited[2] = edited[2]!.replace('"status":"Created"', '"status":"Updated"');
    expect(edited[2]).not.toBe(lines[2]);
    await rewriteBlob(container, name, edited);
    const report = await log.verify();
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ blob: name, offset: offsetOf(lines, 2), seq: 2, kind: 'hash-mismatch' });
    expect(report.firstProblem!.message).toContain(`${name} at offset ${offsetOf(lines, 2)}`);
  });

  it('an edited and re-hashed record: its id no longer matches its content', async () => {
    const { container, log, name, lines } = await sixRecords();
    const edited = [...lines];
    const body = `${edited[2]!.replace('"status":"Created"', '"status":"Updated"').replace(/,"hash":"[0-9a-f]{64}"\}\n$/, '')}}`;
    edited[2] = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"}\n`;
    await rewriteBlob(container, name, edited);
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: name, offset: offsetOf(edited, 2), seq: 2, kind: 'id-mismatch' });
    expect(report.firstProblem!.message).toContain('the content was changed after the id was computed');
  });

  it('a deleted record: missing seq at the offset where it was', async () => {
    const { container, log, name, lines } = await sixRecords();
    await rewriteBlob(container, name, lines.filter((_, index) => index !== 3));
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: name, offset: offsetOf(lines, 3), seq: 4, kind: 'missing-record' });
    expect(report.firstProblem!.message).toContain('expected seq 3, found seq 4');
  });

  it('two swapped records: reordered at the first of them', async () => {
    const { container, log, name, lines } = await sixRecords();
    const swapped = [...lines];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    await rewriteBlob(container, name, swapped);
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: name, offset: offsetOf(lines, 1), seq: 2, kind: 'reordered' });
    expect(report.firstProblem!.message).toContain(`seq 1 comes later at offset ${offsetOf(swapped, 2)}`);
  });

  it('a blob truncated inside a record: incomplete record at its offset', async () => {
    const { container, log, name, lines } = await sixRecords();
    const cut = [...lines.slice(0, 5), lines[5]!.slice(0, 40)];
    await rewriteBlob(container, name, cut);
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: name, offset: offsetOf(lines, 5), kind: 'incomplete-record' });
    expect(report.firstProblem!.message).toContain('truncated');
    expect(report.recordsChecked).toBe(5);
  });

  it('a blob truncated at a record boundary and rewritten in one block: block count mismatch', async () => {
    const { container, log, name, lines } = await sixRecords();
    await rewriteBlob(container, name, lines.slice(0, 4), { oneBlock: true });
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: name, kind: 'block-count' });
    expect(report.firstProblem!.message).toContain('1 committed blocks but 4 records');
  });

  it('a blob renamed to another partition: broken genesis link', async () => {
    const { container, log, name, lines } = await sixRecords();
    const moved = `2020/01/01/00/00-0000.jsonl`;
    const target = container.getAppendBlobClient(moved);
    await target.create();
    for (const line of lines) await target.appendBlock(line, Buffer.byteLength(line));
    await container.getBlobClient(name).delete();
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: moved, offset: 0, kind: 'broken-link' });
    expect(report.firstProblem!.message).toContain('genesis');
  });

  it('a deleted segment: missing segment', async () => {
    const container = containerOf(azurite.connectionString, 'tamper');
    const log = createAuditLog({ containerClient: container, shards: 1, maxBlocksPerBlob: 2 });
    for (let index = 0; index < 5; index += 1) await log.append(deliveryInput(index));
    const names = await blobNames(container);
    expect(names).toHaveLength(3);
    await container.getBlobClient(names[1]!).delete();
    const report = await log.verify();
    expect(report.problems).toEqual([expect.objectContaining({ blob: names[1], kind: 'missing-segment' })]);
  });

  it('keeps checking other blobs and reports one problem per broken blob', async () => {
    const { container, log, name, lines } = await sixRecords();
    await log.append(deliveryInput(99, { time: new Date('2024-01-01T00:00:00Z') }));
    await rewriteBlob(container, name, lines.slice(1));
    const report = await log.verify();
    expect(report.blobsChecked).toBe(2);
    expect(report.problems).toHaveLength(1);
    expect(report.recordsChecked).toBe(1);
  });
});

describe('keyed chain', () => {
  it('verifies with the chain key and reports a missing key without it', async () => {
    const container = containerOf(azurite.connectionString);
    const chainKey = fingerprintKeyFrom('chain-1', 'c'.repeat(32));
    const log = createAuditLog({ containerClient: container, shards: 1, chainKey });
    for (let index = 0; index < 3; index += 1) await log.append(deliveryInput(index));
    expect((await log.verify()).ok).toBe(true);
    const report = await createAuditLog({ containerClient: container }).verify();
    expect(report.firstProblem).toMatchObject({ offset: 0, kind: 'key-unavailable' });
    const wrongKey = await createAuditLog({ containerClient: container, verifyKeys: [fingerprintKeyFrom('chain-1', 'd'.repeat(32))] }).verify();
    expect(wrongKey.firstProblem).toMatchObject({ offset: 0, kind: 'hash-mismatch' });
  });
});

describe('no secret value in any blob', () => {
  it('finds fingerprints but none of the secret values in every blob the tests wrote', async () => {
    const scan = await scanForSecretValues(azurite.connectionString);
    expect(scan.leaks).toEqual([]);
    expect(scan.blobs).toBeGreaterThan(10);
    expect(scan.withFingerprint).toBeGreaterThan(10);
  });
});
