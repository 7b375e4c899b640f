import { Readable } from 'node:stream';
import { losingFirstAppendAnswer } from '../../support/appendFaults.js';
import { RestError } from '@azure/core-rest-pipeline';
import { BlobServiceClient, type AppendBlobClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import { AuditAppendError, AuditRecordRejectedError, createAuditLog, type AuditRecord } from '../../../shared/audit/index.js';
import { blobNames, containerOf, deliveryInput, linesOf, rewriteBlob } from './support.js';

// Group commit: appends in flight together share one Append Block. Each block lands whole or not at all, and a caller
// resolves only once the block holding its record is committed.
let azurite: AzuriteBlob;

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

async function committedBlocks(container: ContainerClient, name: string): Promise<number> {
  return (await container.getAppendBlobClient(name).getProperties()).blobCommittedBlockCount ?? Number.NaN;
}

function parsed(lines: readonly string[]): AuditRecord[] {
  return lines.map((line) => JSON.parse(line) as AuditRecord);
}

type Fault = 'cut-body' | 'lose-response';

/**
 * The same container, whose next Append Block meets `fault` once: `cut-body` sends half the block, then the connection
 * dies (the writer crashed mid-upload); `lose-response` lets the block commit and loses the answer. No SDK retries,
 * so the caller sees what the writer saw.
 */
function faultyContainer(name: string): { container: ContainerClient; arm(fault: Fault, options?: { after?: number }): void; fired(): number } {
  const real = BlobServiceClient.fromConnectionString(azurite.connectionString, { retryOptions: { maxTries: 1 } }).getContainerClient(name);
  let armed: Fault | undefined;
  let skip = 0;
  let fired = 0;
  const container = new Proxy(real, {
    get(target, property) {
      if (property !== 'getAppendBlobClient') return Reflect.get(target, property, target);
      return (blobName: string) => {
        const blob = target.getAppendBlobClient(blobName);
        return new Proxy(blob, {
          get(inner, key) {
            const member = Reflect.get(inner, key, inner);
            if (key !== 'appendBlock' || armed === undefined) return typeof member === 'function' ? member.bind(inner) : member;
            if (skip > 0) {
              skip -= 1;
              return member.bind(inner);
            }
            const fault = armed;
            armed = undefined;
            return async (...[body, length, options]: Parameters<AppendBlobClient['appendBlock']>) => {
              fired += 1;
              if (fault === 'lose-response') {
                await inner.appendBlock(body, length, options);
                throw new RestError('socket hang up', { code: 'ECONNRESET' });
              }
              const bytes = Buffer.from(body as string);
              // Half the block goes out, then the connection is torn down, as when the writer's process dies.
              const dies = new AbortController();
              let sent = false;
              const half = () =>
                new Readable({
                  read() {
                    if (sent) return;
                    sent = true;
                    this.push(bytes.subarray(0, Math.floor(bytes.length / 2)));
                    setTimeout(() => dies.abort(new Error('the writer died mid-block')), 50);
                  },
                }).on('error', () => undefined);
              return inner.appendBlock(half, length, { ...options, abortSignal: dies.signal });
            };
          },
        });
      };
    },
  });
  return {
    container,
    arm(fault, options = {}) {
      armed = fault;
      skip = options.after ?? 0;
    },
    fired: () => fired,
  };
}

describe('group commit', () => {
  it('coalesces concurrent appends of one writer into shared blocks, each caller’s records in its order, and verify passes', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    await Promise.all(
      Array.from({ length: 50 }, async (_, caller) => {
        for (let index = 0; index < 10; index += 1) await log.append(deliveryInput(caller * 10 + index));
      }),
    );
    const [name, ...others] = await blobNames(container);
    expect(others).toEqual([]);
    const records = parsed(await linesOf(container, name!));
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 500 }, (_, index) => index));
    expect(new Set(records.map((record) => record.cause.eventId)).size).toBe(500);
    for (let caller = 0; caller < 50; caller += 1) {
      const own = records.filter((record) => Math.floor(Number(record.cause.eventId!.slice(4)) / 10) === caller);
      expect(own.map((record) => record.cause.eventId)).toEqual(Array.from({ length: 10 }, (_, index) => `evt-${caller * 10 + index}`));
    }
    // Every append waiting joins the next block: the 50 callers' appends go 50 to a block.
    const blocks = await committedBlocks(container, name!);
    expect(blocks).toBe(10);
    expect(new Set(records.map((record) => record.blk)).size).toBe(blocks);
    const report = await log.verify();
    expect(report.problems).toEqual([]);
    expect(report.recordsChecked).toBe(500);
  });

  it('appendMany writes the records of one call into one block, in the order given', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    await log.append(deliveryInput(0));
    const written = await log.appendMany(Array.from({ length: 20 }, (_, index) => deliveryInput(100 + index)));
    const eventIds = Array.from({ length: 20 }, (_, index) => `evt-${100 + index}`);
    expect(written.map((record) => record.cause.eventId)).toEqual(eventIds);
    const [name] = await blobNames(container);
    const records = parsed(await linesOf(container, name!));
    expect(records.map((record) => [record.seq, record.blk])).toEqual([[0, 0], ...eventIds.map((_, index) => [1 + index, 1])]);
    expect(records.slice(1).map((record) => record.cause.eventId)).toEqual(eventIds);
    expect(await committedBlocks(container, name!)).toBe(2);
    expect((await log.verify()).ok).toBe(true);
  });

  it('appendMany refuses the whole call when one input is refused, and appends nothing', async () => {
    const container = containerOf(azurite.connectionString);
    const log = createAuditLog({ containerClient: container });
    const inputs = [deliveryInput(1), deliveryInput(2, { status: 'Rotated' }), deliveryInput(3)];
    await expect(log.appendMany(inputs)).rejects.toBeInstanceOf(AuditRecordRejectedError);
    expect(await container.exists()).toBe(false);
  });

  it('a writer that dies mid-block: none of the block’s records land, the call fails retryable, and its retry lands each once', async () => {
    const { container, arm, fired } = faultyContainer(containerOf(azurite.connectionString).containerName);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    await log.append(deliveryInput(0));
    arm('cut-body');
    const inputs = Array.from({ length: 10 }, (_, index) => deliveryInput(1 + index));
    const error = await log.appendMany(inputs).then(() => undefined, (caught: unknown) => caught);
    expect(fired()).toBe(1);
    expect(error).toBeInstanceOf(AuditAppendError);
    expect((error as AuditAppendError).retryable).toBe(true);
    const [name] = await blobNames(container);
    expect(parsed(await linesOf(container, name!)).map((record) => record.cause.eventId)).toEqual(['evt-0']);
    expect(await committedBlocks(container, name!)).toBe(1);

    await log.appendMany(inputs);
    const result = await log.query();
    expect(result.records.map((record) => record.cause.eventId)).toEqual(['evt-0', ...inputs.map((input) => input.cause!.eventId!)]);
    expect(result.duplicates).toBe(0);
    const report = await log.verify();
    expect(report.problems).toEqual([]);
    expect(report.recordsChecked).toBe(11);
  });

  it('concurrent callers of a block that dies mid-upload all see the failure; every caller that resolved has its record', async () => {
    const { container, arm, fired } = faultyContainer(containerOf(azurite.connectionString).containerName);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    await log.append(deliveryInput(0));
    // Five appends share the first block; five more, made while it is on its way, queue behind it and share the
    // second block, which dies.
    arm('cut-body', { after: 1 });
    const inputs = Array.from({ length: 10 }, (_, index) => deliveryInput(1 + index));
    const first = inputs.slice(0, 5).map((input) => log.append(input));
    await new Promise((resolve) => setImmediate(resolve));
    const second = inputs.slice(5).map((input) => log.append(input));
    const outcomes = await Promise.allSettled([...first, ...second]);
    expect(fired()).toBe(1);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([...Array(5).fill('fulfilled'), ...Array(5).fill('rejected')]);
    const [name] = await blobNames(container);
    const landed = new Set(parsed(await linesOf(container, name!)).map((record) => record.cause.eventId));
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(failed.length).toBeGreaterThan(1);
    for (const [index, outcome] of outcomes.entries()) {
      expect(landed.has(inputs[index]!.cause!.eventId!)).toBe(outcome.status === 'fulfilled');
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(AuditAppendError);
    }
    expect((await log.verify()).problems).toEqual([]);
  });

  it('a block whose answer is lost after it committed: the call fails, and its retry collapses on read', async () => {
    const { container, arm, fired } = faultyContainer(containerOf(azurite.connectionString).containerName);
    const log = createAuditLog({ containerClient: container, shards: 1 });
    await log.append(deliveryInput(0));
    arm('lose-response');
    const inputs = Array.from({ length: 10 }, (_, index) => deliveryInput(1 + index));
    await expect(log.appendMany(inputs)).rejects.toBeInstanceOf(AuditAppendError);
    expect(fired()).toBe(1);
    await log.appendMany(inputs);
    const result = await log.query();
    expect(result.records).toHaveLength(11);
    expect(result.duplicates).toBe(10);
    const report = await log.verify();
    expect(report.problems).toEqual([]);
    expect(report.duplicateRecords).toBe(10);
  });

  it('a block larger than the catch-up window whose answer was lost and whose retry met 412: done, no duplicate', async () => {
    const real = containerOf(azurite.connectionString);
    const { container: flaky, dropped: droppedCount } = losingFirstAppendAnswer(real, () => new RestError('condition not met', { statusCode: 412, code: 'AppendPositionConditionNotMet' }));
    const log = createAuditLog({ containerClient: flaky, shards: 1 });
    // About 400 KB in one block: more than the 256 KB read after a lost race.
    const inputs = Array.from({ length: 500 }, (_, index) => deliveryInput(index, { error: { class: 'Padding', message: 'x'.repeat(400) } }));
    await log.appendMany(inputs);
    expect(droppedCount()).toBe(1);
    const [name] = await blobNames(real);
    expect(await linesOf(real, name!)).toHaveLength(500);
    expect(await committedBlocks(real, name!)).toBe(1);
    const result = await log.query();
    expect(result.records).toHaveLength(500);
    expect(result.duplicates).toBe(0);
  });

  it('a group-committed block rewritten as one block per record: block count mismatch', async () => {
    const container = containerOf(azurite.connectionString, 'tamper');
    const log = createAuditLog({ containerClient: container, shards: 1 });
    await log.appendMany(Array.from({ length: 6 }, (_, index) => deliveryInput(index)));
    const [name] = await blobNames(container);
    const lines = await linesOf(container, name!);
    await rewriteBlob(container, name!, lines);
    const report = await log.verify();
    expect(report.firstProblem).toMatchObject({ blob: name, kind: 'block-count' });
    expect(report.firstProblem!.message).toContain('6 committed blocks but 6 records written in 1 block');
  });
});
