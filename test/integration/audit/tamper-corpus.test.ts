import { createHash, createHmac } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import { createAuditLog, recordIdOf, type AuditLog, type AuditRecord, type VerifyProblemKind } from '../../../shared/audit/index.js';
import { fingerprintKeyFrom, type FingerprintKey } from '../../../shared/domain/fingerprint.js';
import { blobNames, containerOf, deliveryInput, linesOf, offsetOf, rewriteBlob } from './support.js';

// The tamper corpus of docs/security.md: a keyed, sealed trail (as production and the local stack write it), attacked
// by someone who can write both containers but does not hold the chain key (except where a case says so).
let azurite: AzuriteBlob;
const CHAIN_KEY = fingerprintKeyFrom('ck-test', 'chain-key-of-the-tests-not-a-secret!');

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

interface Trail {
  container: ContainerClient;
  seals: ContainerClient;
  log: AuditLog;
  name: string;
  lines: string[];
}

async function sealedTrail(records = 6, time = '2026-03-01T10:00:00Z'): Promise<Trail> {
  const container = containerOf(azurite.connectionString, 'corpus');
  const seals = containerOf(azurite.connectionString, 'seals');
  const log = createAuditLog({ containerClient: container, shards: 1, chainKey: CHAIN_KEY, seal: { containerClient: seals, intervalInMs: 3_600_000 } });
  for (let index = 0; index < records; index += 1) await log.append(deliveryInput(index, { time: new Date(Date.parse(time) + index * 1000) }));
  await log.seal();
  const [name] = await blobNames(container);
  const lines = await linesOf(container, name!);
  const report = await log.verify();
  expect(report).toMatchObject({ ok: true, sealed: true, unsealedRecords: 0 });
  return { container, seals, log, name: name!, lines };
}

/** Re-serialises a line after `change`, with the hash computed as the writer would (under `key`, or plain SHA-256). */
function reseal(line: string, change: (record: Record<string, unknown>) => void, key?: FingerprintKey): string {
  const record = JSON.parse(line) as Record<string, unknown>;
  delete record['hash'];
  change(record);
  const body = JSON.stringify(record);
  const hash = key ? createHmac('sha256', key.secret).update(body).digest('hex') : createHash('sha256').update(body).digest('hex');
  return `${body.slice(0, -1)},"hash":"${hash}"}\n`;
}

/** Rewrites lines from `from` on, relinking each to the one before: what an attacker does to hide an edit. */
function recompute(lines: string[], from: number, edit: (record: Record<string, unknown>) => void, key?: FingerprintKey): string[] {
  const out = lines.slice(0, from);
  for (let index = from; index < lines.length; index += 1) {
    const prev = (JSON.parse(out[index - 1]!) as AuditRecord).hash;
    out.push(
      reseal(lines[index]!, (record) => {
        if (index === from) edit(record);
        record['prev'] = prev;
        if (!key) record['chain'] = 'sha256';
        record['id'] = recordIdOf(record as unknown as AuditRecord);
      }, key),
    );
  }
  return out;
}

const kinds = (problems: { kind: VerifyProblemKind }[]): VerifyProblemKind[] => problems.map((problem) => problem.kind);

describe('audit verify detects and names every tampering of the corpus', () => {
  it('edit: a record edited in place (hash left as it was) → hash-mismatch at its offset', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const edited = [...lines];
    edited[2] = edited[2]!.replace('"status":"Created"', '"status":"Updated"');
    await rewriteBlob(container, name, edited);
    const report = await log.verify();
    expect(report.problems[0]).toMatchObject({ blob: name, offset: offsetOf(lines, 2), seq: 2, kind: 'hash-mismatch' });
    expect(report.problems[0]!.message).toContain('written without the chain key');
  });

  it('recompute: an edit with the chain recomputed from there (new ids, plain hashes) → unkeyed-record and seal-mismatch', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const forged = recompute(lines, 2, (record) => {
      record['status'] = 'Updated';
    });
    await rewriteBlob(container, name, forged);
    const report = await log.verify();
    expect(kinds(report.problems).sort()).toEqual(['seal-mismatch', 'unkeyed-record']);
    expect(report.problems.find((p) => p.kind === 'unkeyed-record')).toMatchObject({ offset: offsetOf(forged, 2), seq: 2 });
    expect(report.problems.find((p) => p.kind === 'seal-mismatch')!.message).toContain('seq 5 is not the one sealed');
  });

  it('truncate: the tail cut at a record boundary, block by block → truncated, naming how many records are gone', async () => {
    const { container, log, name, lines } = await sealedTrail();
    await rewriteBlob(container, name, lines.slice(0, 4));
    const report = await log.verify();
    expect(report.problems).toEqual([expect.objectContaining({ blob: name, kind: 'truncated' })]);
    expect(report.problems[0]!.message).toContain('holds 4 record(s), but was sealed with 6');
  });

  it('append forged: a correctly chained line appended without the key → unkeyed-record at its offset', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const last = JSON.parse(lines[5]!) as AuditRecord;
    const forged = reseal(lines[5]!, (record) => {
      record['seq'] = 6;
      record['prev'] = last.hash;
      record['chain'] = 'sha256';
      record['status'] = 'Updated';
      record['id'] = recordIdOf(record as unknown as AuditRecord);
    });
    await container.getAppendBlobClient(name).appendBlock(forged, Buffer.byteLength(forged));
    const report = await log.verify();
    expect(report.problems).toEqual([expect.objectContaining({ blob: name, offset: offsetOf(lines, 6), seq: 6, kind: 'unkeyed-record' })]);
  });

  it('delete blob: the only blob of an hour deleted → missing-blob (no later segment would show it)', async () => {
    const { container, log, name } = await sealedTrail();
    await container.getBlobClient(name).delete();
    const report = await log.verify();
    expect(report.problems).toEqual([expect.objectContaining({ blob: name, kind: 'missing-blob' })]);
    expect(report.problems[0]!.message).toContain('sealed with 6 record(s)');
  });

  it('replace blob: by a block blob → not-append-blob; by another blob of the trail → broken genesis link and seal-mismatch', async () => {
    const first = await sealedTrail();
    await first.container.getBlobClient(first.name).delete();
    const text = first.lines.join('');
    await first.container.getBlockBlobClient(first.name).upload(text, Buffer.byteLength(text));
    expect(kinds((await first.log.verify()).problems)).toEqual(['not-append-blob']);

    const container = containerOf(azurite.connectionString, 'corpus');
    const seals = containerOf(azurite.connectionString, 'seals');
    const log = createAuditLog({ containerClient: container, shards: 1, chainKey: CHAIN_KEY, seal: { containerClient: seals, intervalInMs: 3_600_000 } });
    for (let index = 0; index < 3; index += 1) await log.append(deliveryInput(index, { time: new Date('2026-03-01T10:00:00Z') }));
    for (let index = 3; index < 6; index += 1) await log.append(deliveryInput(index, { time: new Date('2026-03-01T11:00:00Z') }));
    await log.seal();
    const [early, late] = await blobNames(container);
    await rewriteBlob(container, late!, await linesOf(container, early!));
    const report = await log.verify();
    expect(kinds(report.problems).sort()).toEqual(['broken-link', 'seal-mismatch']);
    expect(report.problems.every((problem) => problem.blob === late)).toBe(true);
    expect(report.problems.find((p) => p.kind === 'broken-link')!.message).toContain('genesis');
  });

  it('reorder: two records swapped → reordered, naming where the expected one is', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const swapped = [...lines];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    await rewriteBlob(container, name, swapped);
    const report = await log.verify();
    expect(report.problems).toEqual([expect.objectContaining({ offset: offsetOf(lines, 1), seq: 2, kind: 'reordered' })]);
  });

  it('duplicate: a line copied in place → duplicated-record (not "reordered")', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const copied = [...lines.slice(0, 3), lines[2]!, ...lines.slice(3)];
    await rewriteBlob(container, name, copied);
    const report = await log.verify();
    expect(report.problems[0]).toMatchObject({ offset: offsetOf(copied, 3), seq: 2, kind: 'duplicated-record' });
    expect(report.problems[0]!.message).toContain(`copy of the record at offset ${offsetOf(lines, 2)}`);
  });

  it('insert: a valid record of another blob inserted → inserted-record (not "reordered")', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const other = await sealedTrail(2, '2026-03-02T10:00:00Z');
    const inserted = [...lines.slice(0, 3), other.lines[1]!, ...lines.slice(3)];
    await rewriteBlob(container, name, inserted);
    const report = await log.verify();
    expect(report.problems[0]).toMatchObject({ offset: offsetOf(inserted, 3), seq: 1, kind: 'inserted-record' });
    expect(report.problems[0]!.message).toContain('the chain resumes after it with seq 3');
  });

  it('id mismatch: a status edited by a holder of the chain key, id kept, chain recomputed → id-mismatch and seal-mismatch', async () => {
    const { container, log, name, lines } = await sealedTrail();
    const forged = recompute(lines, 2, (record) => {
      record['status'] = 'FailedNotOwned';
    }, CHAIN_KEY).map((line, index) => (index === 2 ? reseal(line, (record) => {
      record['id'] = (JSON.parse(lines[2]!) as AuditRecord).id;
    }, CHAIN_KEY) : line));
    // the next line links to the re-sealed one again
    forged[3] = reseal(forged[3]!, (record) => {
      record['prev'] = (JSON.parse(forged[2]!) as AuditRecord).hash;
    }, CHAIN_KEY);
    for (let index = 4; index < forged.length; index += 1) {
      forged[index] = reseal(forged[index]!, (record) => {
        record['prev'] = (JSON.parse(forged[index - 1]!) as AuditRecord).hash;
      }, CHAIN_KEY);
    }
    await rewriteBlob(container, name, forged);
    const report = await log.verify();
    expect(kinds(report.problems).sort()).toEqual(['id-mismatch', 'seal-mismatch']);
    expect(report.problems.find((p) => p.kind === 'id-mismatch')).toMatchObject({ offset: offsetOf(forged, 2), seq: 2 });
  });
});

describe('seals', () => {
  it('counts records after the last seal as unsealed, and a later seal covers them', async () => {
    const { log } = await sealedTrail(3);
    await log.append(deliveryInput(7, { time: new Date('2026-03-01T10:00:09Z') }));
    const before = await log.verify();
    expect(before.unsealedRecords).toBe(1);
    await log.seal();
    expect(await log.verify()).toMatchObject({ ok: true, unsealedRecords: 0, sealsChecked: before.sealsChecked + 1 });
  });

  it('seals at hour rollover: the first append of a new hour seals the heads of the hour before', async () => {
    const container = containerOf(azurite.connectionString, 'corpus');
    const seals = containerOf(azurite.connectionString, 'seals');
    const log = createAuditLog({ containerClient: container, shards: 1, chainKey: CHAIN_KEY, seal: { containerClient: seals, intervalInMs: 3_600_000 } });
    for (let index = 0; index < 3; index += 1) await log.append(deliveryInput(index, { time: new Date('2026-03-01T10:59:00Z') }));
    await log.append(deliveryInput(3, { time: new Date('2026-03-01T11:00:01Z') }));
    const report = await log.verify();
    const [early] = await blobNames(container);
    // the first append seals at once (a new writer); the first of 11:00 seals 10:00's final head with its own
    expect(report.sealsChecked).toBe(2);
    expect(report.unsealedRecords).toBe(0);
    await rewriteBlob(container, early!, (await linesOf(container, early!)).slice(0, 2));
    expect(kinds((await log.verify()).problems)).toEqual(['truncated']);
  });

  it('a seal forged without the key, or a seal blob deleted, is reported in the seal container', async () => {
    const { seals, log } = await sealedTrail(2);
    const [sealBlob] = await blobNames(seals);
    const sealLines = await linesOf(seals, sealBlob!);
    const forged = reseal(sealLines[0]!, (record) => {
      record['seq'] = 1;
      record['prev'] = (JSON.parse(sealLines[0]!) as AuditRecord).hash;
      record['chain'] = 'sha256';
      record['heads'] = [];
    });
    await seals.getAppendBlobClient(sealBlob!).appendBlock(forged, Buffer.byteLength(forged));
    const report = await log.verify();
    expect(report.problems).toEqual([expect.objectContaining({ blob: `${seals.containerName}/${sealBlob}`, kind: 'unkeyed-record' })]);
  });

  it('refuses to seal without a chain key', () => {
    expect(() => createAuditLog({ containerClient: containerOf(azurite.connectionString), seal: { containerClient: containerOf(azurite.connectionString) } })).toThrow(/chainKey/);
  });
});
