import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobServiceClient, ContainerClient, ContainerSASPermissions, type ContainerClient as Container } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobLeaseLocks, LockAccessDeniedError } from '../../../shared/locks/index.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';

// The delivery lock over real blob leases (Azurite): holders of one key never overlap, even from separate lock
// instances (as on separate hosts); other keys are not held up; a holder that throws releases the lock.

let azurite: AzuriteBlob;
let container: Container;
let proxy: Server;
/** Every request that reached Azurite through the counting proxy: `<method> <lease action or comp or "blob">`. */
const requests: string[] = [];
let counted: Container;
/** While set, lease releases wait here until the test lets them through. */
let heldReleases: (() => void)[] | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('reports');
  // A pass-through proxy in front of Azurite that records each request (Shared Key signs the path, not the port).
  const upstream = new URL(azurite.blobEndpoint);
  proxy = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const action = req.headers['x-ms-lease-action'];
    requests.push(`${req.method} ${typeof action === 'string' ? `lease-${action}` : (url.searchParams.get('restype') ?? url.searchParams.get('comp') ?? 'blob')}`);
    if (action === 'release' && heldReleases) {
      heldReleases.push(() => pass(req, res, upstream));
      return;
    }
    pass(req, res, upstream);
  });
  const pass = (req: IncomingMessage, res: ServerResponse, upstream: URL): void => {
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  };
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as AddressInfo).port;
  const viaProxy = azurite.connectionString.replace(/BlobEndpoint=http:\/\/[^/;]+/, `BlobEndpoint=http://127.0.0.1:${port}`);
  counted = BlobServiceClient.fromConnectionString(viaProxy).getContainerClient('counted');
});

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await azurite?.stop();
});

/** The Azurite requests made during `fn`, once the releases it started have landed. */
async function requestsDuring(locks: { settle(): Promise<void> }, fn: () => Promise<unknown>): Promise<string[]> {
  await locks.settle();
  const from = requests.length;
  await fn();
  await locks.settle();
  return requests.slice(from);
}

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
  it('calls per lock, counted at Azurite: 2 once the blob exists; a new key 4 at first, then 3 while keys keep being new', async () => {
    await counted.createIfNotExists();
    const locks = blobLeaseLocks(counted);
    const run = async () => 'ran';
    expect(await requestsDuring(locks, () => locks.withLock('keyVault:contoso.vault.azure.net/new-1', run))).toEqual([
      'PUT lease-acquire',
      'PUT blob',
      'PUT lease-acquire',
      'PUT lease-release',
    ]);
    // The last new key was new: the next one is created first, no 404 probe.
    expect(await requestsDuring(locks, () => locks.withLock('keyVault:contoso.vault.azure.net/new-2', run))).toEqual(['PUT blob', 'PUT lease-acquire', 'PUT lease-release']);
    // Steady state: acquire and release.
    expect(await requestsDuring(locks, () => locks.withLock('keyVault:contoso.vault.azure.net/new-1', run))).toEqual(['PUT lease-acquire', 'PUT lease-release']);
    // Another process (nothing remembered) meets an existing blob after new ones: the create answers "there" once.
    const other = blobLeaseLocks(counted);
    await other.withLock('keyVault:contoso.vault.azure.net/new-3', run);
    expect(await requestsDuring(other, () => other.withLock('keyVault:contoso.vault.azure.net/new-1', run))).toEqual(['PUT blob', 'PUT lease-acquire', 'PUT lease-release']);
    expect(await requestsDuring(other, () => other.withLock('keyVault:contoso.vault.azure.net/new-2', run))).toEqual(['PUT lease-acquire', 'PUT lease-release']);
  });

  it('answers before the release is acknowledged; the next holder in the process waits for that release instead of polling', async () => {
    await counted.createIfNotExists();
    const locks = blobLeaseLocks(counted);
    const key = 'keyVault:contoso.vault.azure.net/back-to-back';
    await locks.withLock(key, async () => 'warm');
    await locks.settle();
    // Releases held at the proxy: the holder's answer does not wait for its release...
    const held: (() => void)[] = [];
    heldReleases = held;
    const from = requests.length;
    expect(await locks.withLock(key, async () => 'first')).toBe('first');
    await expect.poll(() => held.length).toBe(1);
    // ...and the next holder in this process waits for that release, without touching the lease meanwhile.
    const second = locks.withLock(key, async () => 'second');
    // One more round trip through the proxy: an acquire the second holder had sent would have arrived by now.
    await counted.getProperties();
    expect(requests.slice(from)).toEqual(['PUT lease-acquire', 'PUT lease-release', 'GET container']);
    heldReleases = undefined;
    held.forEach((letThrough) => letThrough());
    expect(await second).toBe('second');
    await locks.settle();
    expect(requests.slice(from)).toEqual(['PUT lease-acquire', 'PUT lease-release', 'GET container', 'PUT lease-acquire', 'PUT lease-release']);
    const calls = await requestsDuring(locks, async () => {
      for (let i = 0; i < 3; i++) await locks.withLock(key, async () => i);
    });
    // No 409 and no retried acquire: each acquire follows the previous release.
    expect(calls).toEqual(Array(3).fill(['PUT lease-acquire', 'PUT lease-release']).flat());
  });

  it('a group shares one lock per key among its holders, excludes holders outside it until done, and then lets them in', async () => {
    await counted.createIfNotExists();
    const locks = blobLeaseLocks(counted);
    const otherHost = blobLeaseLocks(counted);
    const key = 'keyVault:contoso.vault.azure.net|platform.vault.azure.net/db';
    await locks.withLock(key, async () => 'warm');
    await locks.settle();
    const group = locks.group();
    const from = requests.length;
    let inside = 0;
    let most = 0;
    const hold = async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inside--;
    };
    // Eight holders, four at a time, as a batch's sliding window runs them: one acquire for all of them.
    await Promise.all([0, 1, 2, 3].map(() => group.withLock(key, hold)));
    await Promise.all([4, 5, 6, 7].map(() => group.withLock(key, hold)));
    expect(most).toBe(4);
    expect(requests.slice(from)).toEqual(['PUT lease-acquire']);
    // The group is not done with the key: another host waits for it (here: gives up after its wait).
    const impatient = blobLeaseLocks(counted, { waitInMs: 150 });
    await expect(impatient.withLock(key, async () => 'never')).rejects.toThrow(/^FailedUnavailable: /);
    // Done: the lease is released once, and the other host gets the lock.
    group.done(key);
    const after = otherHost.withLock(key, async () => 'other host');
    expect(await after).toBe('other host');
    await group.close();
    expect(requests.slice(from).filter((r) => r === 'PUT lease-release').length).toBe(1);
  });

  it('a group releases on close what it was never told it is done with, and a failed take lets the next holder try again', async () => {
    await container.createIfNotExists();
    const locks = blobLeaseLocks(container);
    const group = locks.group();
    await group.withLock('group-close', async () => 'held');
    await group.close();
    expect(await blobLeaseLocks(container, { waitInMs: 150 }).withLock('group-close', async () => 'free')).toBe('free');

    // Taken elsewhere: the group's take gives up; once it is free, the same group takes it.
    const busy = blobLeaseLocks(container);
    let release!: () => void;
    const held = busy.withLock('group-busy', () => new Promise<void>((resolve) => (release = resolve)));
    await expect.poll(() => release !== undefined).toBe(true);
    const impatientGroup = blobLeaseLocks(container, { waitInMs: 150 }).group();
    await expect(impatientGroup.withLock('group-busy', async () => 'never')).rejects.toThrow(/^FailedUnavailable: /);
    release();
    await held;
    await busy.settle();
    expect(await impatientGroup.withLock('group-busy', async () => 'second try')).toBe('second try');
    await impatientGroup.close();
  });

  it('a holder that died (its lease never renewed nor released) loses the lock when the lease lapses', async () => {
    const key = 'keyVault:contoso.vault.azure.net/dead-holder';
    await container.createIfNotExists();
    const name = `locks/${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
    await container.getBlockBlobClient(name).upload('', 0);
    // The dead host: it took the lease (15 s, the shortest) and then stopped.
    await container.getBlockBlobClient(name).getBlobLeaseClient().acquireLease(15);
    const survivor = blobLeaseLocks(container, { waitInMs: 40_000 });
    expect(await survivor.withLock(key, async () => 'taken over')).toBe('taken over');
  }, 60_000);
});
