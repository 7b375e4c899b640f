import { randomUUID } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { fingerprint, fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import type { AuditRecordInput } from '../../../shared/audit/index.js';

/** Fingerprint key of the tests (not a secret: test material). */
export const TEST_KEY = fingerprintKeyFrom('test-1', 'k'.repeat(32));

/** Secret values the tests fingerprint; none of them may ever appear in a blob. */
export const SECRET_VALUES = [
  'Pa55word!-never-in-audit-0001',
  'correct horse battery staple 77',
  'sk_live_f00dfacecafe1234567890abcdef',
  'BMC-admin-XyZ-2718281828',
];

export function valueOf(index: number): string {
  return SECRET_VALUES[index % SECRET_VALUES.length]!;
}

/** A valid delivery record with named tweaks. */
export function deliveryInput(index: number, tweaks: Partial<Record<string, unknown>> = {}): AuditRecordInput {
  return {
    action: 'deliver',
    status: 'Created',
    actor: { kind: 'event', id: 'kv/platform' },
    cause: { eventId: `evt-${index}`, instanceId: `relay:platform:db-password:${index.toString(16).padStart(32, '0')}` },
    source: { vault: 'https://platform.vault.azure.net', name: 'db-password', version: index.toString(16).padStart(32, '0') },
    target: { id: 'edge-1', kind: 'kubernetes', location: 'edge-1/apps/db#password' },
    reason: 'TargetMissing',
    fingerprint: fingerprint(TEST_KEY, valueOf(index)),
    ...tweaks,
  } as AuditRecordInput;
}

export function containerOf(connectionString: string, prefix = 'audit'): ContainerClient {
  return BlobServiceClient.fromConnectionString(connectionString).getContainerClient(`${prefix}-${randomUUID().slice(0, 8)}`);
}

export async function blobNames(container: ContainerClient): Promise<string[]> {
  const names: string[] = [];
  for await (const item of container.listBlobsFlat()) names.push(item.name);
  return names.sort();
}

export async function linesOf(container: ContainerClient, name: string): Promise<string[]> {
  const text = (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
  return text.split(/(?<=\n)/);
}

/** Offset of line `index` when the blob is `lines` joined. */
export function offsetOf(lines: readonly string[], index: number): number {
  return lines.slice(0, index).reduce((sum, line) => sum + Buffer.byteLength(line), 0);
}

/**
 * Tampers like a careful attacker with write access: deletes the append blob and recreates it with the given
 * chunks, one block per chunk (so the block count matches the line count unless `oneBlock` is set).
 */
export async function rewriteBlob(container: ContainerClient, name: string, chunks: readonly string[], options: { oneBlock?: boolean } = {}): Promise<void> {
  const blob = container.getAppendBlobClient(name);
  await blob.delete();
  await blob.create();
  const blocks = options.oneBlock ? [chunks.join('')] : chunks;
  for (const block of blocks) {
    if (block.length > 0) await blob.appendBlock(block, Buffer.byteLength(block));
  }
}

/** Reads every blob of every container; returns how many blobs were read and which contain a secret value. */
export async function scanForSecretValues(connectionString: string): Promise<{ blobs: number; leaks: string[]; withFingerprint: number }> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const prints = SECRET_VALUES.map((value) => fingerprint(TEST_KEY, value));
  const leaks: string[] = [];
  let blobs = 0;
  let withFingerprint = 0;
  for await (const info of service.listContainers()) {
    const container = service.getContainerClient(info.name);
    for await (const item of container.listBlobsFlat()) {
      const text = (await container.getBlobClient(item.name).downloadToBuffer()).toString('utf8');
      blobs += 1;
      if (SECRET_VALUES.some((value) => text.includes(value))) leaks.push(`${info.name}/${item.name}`);
      if (prints.some((print) => text.includes(print))) withFingerprint += 1;
    }
  }
  return { blobs, leaks, withFingerprint };
}
