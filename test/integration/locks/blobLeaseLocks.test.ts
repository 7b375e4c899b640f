import { BlobServiceClient, ContainerClient, ContainerSASPermissions, type ContainerClient as Container } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobLeaseLocks, LockAccessDeniedError } from '../../../shared/locks/index.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';

// The delivery lock over real blob leases (Azurite): holders of one key never overlap, even from separate lock
// instances (as on separate hosts); other keys are not held up; a holder that throws releases the lock.

let azurite: AzuriteBlob;
let container: Container;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('reports');
});

afterAll(async () => {
  await azurite?.stop();
});

describe('blobLeaseLocks', () => {
  it('runs holders of one key one at a time across lock instances, and never blocks another key', async () => {
    const hosts = [blobLeaseLocks(container), blobLeaseLocks(container), blobLeaseLocks(container)];
    let inside = 0;
    let most = 0;
    const order: string[] = [];
    const hold = (label: string) => async () => {
      inside++;
      most = Math.max(most, inside);
      order.push(`in:${label}`);
      await new Promise((resolve) => setTimeout(resolve, 30));
      order.push(`out:${label}`);
      inside--;
      return label;
    };
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => hosts[i % hosts.length]!.withLock('keyVault:contoso.vault.azure.net/db', hold(`h${i}`))),
    );
    expect(results).toEqual(['h0', 'h1', 'h2', 'h3', 'h4', 'h5']);
    expect(most).toBe(1);
    // Strictly alternating in/out: no holder entered before the previous one left.
    for (let i = 0; i < order.length; i += 2) expect(order[i + 1]).toBe(order[i]!.replace('in:', 'out:'));

    // A different key runs while the first is held.
    let otherRan = false;
    await hosts[0]!.withLock('keyVault:contoso.vault.azure.net/a', async () => {
      await hosts[1]!.withLock('keyVault:contoso.vault.azure.net/b', async () => {
        otherRan = true;
      });
    });
    expect(otherRan).toBe(true);
    // No key text is stored: lock blobs are named by a hash.
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: 'locks/' })) names.push(blob.name);
    expect(names.length).toBe(3);
    expect(names.every((name) => /^locks\/[0-9a-f]{40}$/.test(name))).toBe(true);
  });

  it('releases the lock when the holder throws', async () => {
    const locks = blobLeaseLocks(container);
    await expect(locks.withLock('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await locks.withLock('k', async () => 'next')).toBe('next');
  });

  it('gives up with a retryable error when the lock stays taken', async () => {
    const patient = blobLeaseLocks(container);
    const impatient = blobLeaseLocks(container, { waitInMs: 200 });
    let release!: () => void;
    const held = patient.withLock('busy', () => new Promise<void>((resolve) => (release = resolve)));
    await expect.poll(() => release !== undefined).toBe(true);
    await expect(impatient.withLock('busy', async () => 'never')).rejects.toThrow(/^FailedUnavailable: /);
    release();
    await held;
  });

  it('a container the identity may only read is a named access failure, not a retryable one', async () => {
    await container.createIfNotExists();
    // A real 403 from the storage service: a SAS that grants read and list, not write (what a missing role gives).
    const sas = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3_600_000) });
    const readOnly = blobLeaseLocks(new ContainerClient(sas));
    let ran = false;
    const failure = await readOnly.withLock('keyVault:contoso.vault.azure.net/denied', async () => void (ran = true)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LockAccessDeniedError);
    expect((failure as Error).message).toMatch(/^the relay may not take delivery locks \(403[^)]*\): grant its identity Storage Blob Data Contributor/);
    expect(ran).toBe(false);
  });
});
