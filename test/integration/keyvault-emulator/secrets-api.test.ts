import { ManagedIdentityCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenEndpoint, decodeLocalToken, type TokenEndpoint } from '../../../local/identity/index.js';
import { MAX_VALUE_BYTES, startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { innerCode, restErrorOf, secretClient } from './helpers.js';

let emulator: KeyVaultEmulator;
let identity: TokenEndpoint;
let client: SecretClient;
const value = 'p@ss-7Hq2-not-a-real-secret';

beforeAll(async () => {
  emulator = await startKeyVaultEmulator({ vaults: ['contoso', 'fabrikam'] });
  identity = await startTokenEndpoint({ port: 0 });
  // ManagedIdentityCredential reads these when it is constructed.
  Object.assign(process.env, identity.env);
  client = secretClient(emulator, 'contoso', new ManagedIdentityCredential());
});

afterAll(async () => {
  await emulator?.close();
  await identity?.close();
});

describe('SecretClient 4.12 through ManagedIdentityCredential against the emulator', () => {
  it('authenticates with a token from the local identity endpoint after the 401 challenge', async () => {
    emulator.resetCounters();
    const set = await client.setSecret('auth-probe', value);
    expect(set.value).toBe(value);
    const requests = identity.requests();
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(requests[0]).toMatchObject({ resource: 'https://vault.azure.net', apiVersion: '2019-08-01', status: 200 });
    expect(emulator.counters('contoso').challenges).toBe(1);
    expect(emulator.counters('contoso').setSecret).toBe(1);
  });

  it('rejects token requests without the identity header', async () => {
    const response = await fetch(`${identity.url}?api-version=2019-08-01&resource=https://vault.azure.net`);
    expect(response.status).toBe(401);
    const good = await fetch(`${identity.url}?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net&client_id=abc`, {
      headers: { 'X-IDENTITY-HEADER': identity.identityHeader },
    });
    const body = (await good.json()) as Record<string, string>;
    expect(body).toMatchObject({ token_type: 'Bearer', resource: 'https://vault.azure.net', client_id: 'abc' });
    expect(body.expires_on).toMatch(/^\d+$/);
    expect(decodeLocalToken(body.access_token ?? '')).toMatchObject({ aud: 'https://vault.azure.net', appid: 'abc' });
  });
});

describe('secrets operations', () => {
  it('sets and gets the latest and a given version with every carried property', async () => {
    const expiresOn = new Date(1_893_456_000_000);
    const notBefore = new Date(1_700_000_000_000);
    const v1 = await client.setSecret('db-password', 'first', { contentType: 'text/plain', tags: { a: 'b' }, expiresOn, notBefore });
    const v2 = await client.setSecret('db-password', 'second', { enabled: true, tags: { c: 'd' } });
    expect(v1.properties.version).toMatch(/^[0-9a-f]{32}$/);
    expect(v1.properties.vaultUrl).toBe(emulator.vaultUrls.contoso);
    expect(v1.properties.id).toBe(`${emulator.vaultUrls.contoso}/secrets/db-password/${v1.properties.version}`);
    expect(v1.properties).toMatchObject({ contentType: 'text/plain', tags: { a: 'b' }, expiresOn, notBefore, enabled: true });
    expect(v1.properties.recoveryLevel).toBe('Recoverable+Purgeable');
    expect(v1.properties.recoverableDays).toBe(90);
    expect(v1.properties.createdOn).toBeInstanceOf(Date);

    const latest = await client.getSecret('db-password');
    expect(latest.value).toBe('second');
    expect(latest.properties.version).toBe(v2.properties.version);
    const first = await client.getSecret('db-password', { version: v1.properties.version! });
    expect(first.value).toBe('first');
    expect(first.properties.tags).toEqual({ a: 'b' });
  });

  it('treats names case-insensitively and keeps the stored casing', async () => {
    await client.setSecret('Api-Key', 'k1');
    const got = await client.getSecret('API-KEY');
    expect(got.name).toBe('Api-Key');
    await client.setSecret('api-key', 'k2');
    const versions = [];
    for await (const p of client.listPropertiesOfSecretVersions('aPi-KeY')) versions.push(p);
    expect(versions).toHaveLength(2);
    expect(versions.every((p) => p.name === 'Api-Key')).toBe(true);
  });

  it('updates properties of a version without a value in the answer', async () => {
    const set = await client.setSecret('to-update', value);
    const updated = await client.updateSecretProperties('to-update', set.properties.version!, {
      enabled: false,
      tags: { x: 'y' },
      contentType: 'application/json',
    });
    expect(updated).toMatchObject({ enabled: false, tags: { x: 'y' }, contentType: 'application/json' });
    expect(JSON.stringify(updated)).not.toContain(value);
    const error = await restErrorOf(() => client.getSecret('to-update'));
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe('Forbidden');
    expect(innerCode(error)).toBe('SecretDisabled');
  });

  it('an empty-version update (PATCH /secrets/{n}/, no property) answers the current version, 404 SecretNotFound on an absent or soft-deleted name', async () => {
    await client.setSecret('patch-current', 'first', { tags: { v: '1' } });
    const latest = await client.setSecret('patch-current', value, { tags: { v: '2' } });
    const before = emulator.counters('contoso').updateSecretProperties;
    const current = await client.updateSecretProperties('patch-current', '');
    expect(emulator.counters('contoso').updateSecretProperties - before).toBe(1);
    expect(current).toMatchObject({ version: latest.properties.version, tags: { v: '2' }, enabled: true });
    expect(JSON.stringify(current)).not.toContain(value);
    // Nothing changed: same tags, still enabled, no new version.
    const versions = [];
    for await (const v of client.listPropertiesOfSecretVersions('patch-current')) versions.push(v);
    expect(versions).toHaveLength(2);
    expect((await client.getSecret('patch-current')).properties.tags).toEqual({ v: '2' });

    const absent = await restErrorOf(() => client.updateSecretProperties('patch-never-created', ''));
    expect(absent.statusCode).toBe(404);
    expect(absent.code).toBe('SecretNotFound');
    expect((await restErrorOf(() => client.getSecret('patch-never-created'))).statusCode).toBe(404);

    await client.setSecret('patch-deleted', value, { tags: { owner: 'relay' } });
    await (await client.beginDeleteSecret('patch-deleted', { intervalInMs: 20 })).pollUntilDone();
    const deleted = await restErrorOf(() => client.updateSecretProperties('patch-deleted', ''));
    expect(deleted.statusCode).toBe(404);
    expect(deleted.code).toBe('SecretNotFound');
    // The update touched nothing: the deleted secret is as it was, and the name still only takes recover or purge.
    expect((await client.getDeletedSecret('patch-deleted')).properties.tags).toEqual({ owner: 'relay' });
    const conflict = await restErrorOf(() => client.setSecret('patch-deleted', 'other'));
    expect({ status: conflict.statusCode, code: conflict.code, inner: innerCode(conflict) }).toEqual({ status: 409, code: 'Conflict', inner: 'ObjectIsDeletedButRecoverable' });
    expect((await client.getDeletedSecret('patch-deleted')).properties.tags).toEqual({ owner: 'relay' });
  });

  it('lists secrets and versions in pages of maxPageSize with absolute next links', async () => {
    const fabrikam = secretClient(emulator, 'fabrikam', new ManagedIdentityCredential());
    for (const n of ['s1', 's2', 's3', 's4', 's5']) await fabrikam.setSecret(n, value);
    for (let i = 0; i < 4; i += 1) await fabrikam.setSecret('many', `v${i}`);

    const pages: string[][] = [];
    for await (const page of fabrikam.listPropertiesOfSecrets().byPage({ maxPageSize: 2 })) pages.push(page.map((p) => p.name));
    expect(pages).toEqual([['many', 's1'], ['s2', 's3'], ['s4', 's5']]);

    const versionPages: number[] = [];
    const versionIds: string[] = [];
    for await (const page of fabrikam.listPropertiesOfSecretVersions('many').byPage({ maxPageSize: 3 })) {
      versionPages.push(page.length);
      versionIds.push(...page.map((p) => p.version ?? ''));
    }
    expect(versionPages).toEqual([3, 1]);
    expect(new Set(versionIds).size).toBe(4);
    expect(versionIds.every((v) => /^[0-9a-f]{32}$/.test(v))).toBe(true);
    expect(emulator.counters('fabrikam').listSecrets).toBe(3);
  });

  it('answers 404 SecretNotFound with the real message for a missing secret or version', async () => {
    const missing = await restErrorOf(() => client.getSecret('does-not-exist'));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('SecretNotFound');
    expect(missing.message).toContain('A secret with (name/id) does-not-exist was not found in this key vault.');
    const missingVersion = await restErrorOf(() => client.getSecret('db-password', { version: '0'.repeat(32) }));
    expect(missingVersion.statusCode).toBe(404);
  });

  it('lists no versions (200, empty) for a secret that does not exist or is deleted, as Key Vault does', async () => {
    emulator.resetCounters();
    const versions = [];
    for await (const p of client.listPropertiesOfSecretVersions('never-created')) versions.push(p);
    expect(versions).toEqual([]);
    expect(emulator.counters('contoso').listSecretVersions).toBe(1);
    await client.setSecret('listed-then-deleted', value);
    await (await client.beginDeleteSecret('listed-then-deleted', { intervalInMs: 20 })).pollUntilDone();
    for await (const p of client.listPropertiesOfSecretVersions('listed-then-deleted')) versions.push(p);
    expect(versions).toEqual([]);
  });

  it('answers 400 BadParameter to outContentType on a secret that is not backed by a certificate', async () => {
    await client.setSecret('plain-secret', value);
    const error = await restErrorOf(() => client.getSecret('plain-secret', { outContentType: 'application/x-pem-file' }));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('BadParameter');
    expect(error.message).not.toContain(value);
  });
});

describe('soft delete, recover, purge', () => {
  it('delete → set gives 409 ObjectIsDeletedButRecoverable → recover → set works', async () => {
    await client.setSecret('rotating', value);
    const poller = await client.beginDeleteSecret('rotating', { intervalInMs: 20 });
    const deleted = await poller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${emulator.vaultUrls.contoso}/deletedsecrets/rotating`);
    expect(deleted.deletedOn).toBeInstanceOf(Date);
    expect(deleted.scheduledPurgeDate!.getTime() - deleted.deletedOn!.getTime()).toBe(90 * 86_400_000);
    expect((await client.getDeletedSecret('rotating')).name).toBe('rotating');
    const listed = [];
    for await (const d of client.listDeletedSecrets()) listed.push(d.name);
    expect(listed).toContain('rotating');

    const gone = await restErrorOf(() => client.getSecret('rotating'));
    expect(gone.statusCode).toBe(404);

    const conflict = await restErrorOf(() => client.setSecret('rotating', value));
    expect(conflict.statusCode).toBe(409);
    expect(conflict.code).toBe('Conflict');
    expect(innerCode(conflict)).toBe('ObjectIsDeletedButRecoverable');
    expect(conflict.message).not.toContain(value);

    const recover = await client.beginRecoverDeletedSecret('rotating', { intervalInMs: 20 });
    const recovered = await recover.pollUntilDone();
    expect(recovered.name).toBe('rotating');
    expect((await client.getSecret('rotating')).value).toBe(value);
    const again = await client.setSecret('rotating', 'after-recover');
    expect(again.value).toBe('after-recover');
  });

  it('purges a deleted secret (204) so the name can be reused', async () => {
    await client.setSecret('purge-me', value);
    await (await client.beginDeleteSecret('purge-me', { intervalInMs: 20 })).pollUntilDone();
    await client.purgeDeletedSecret('purge-me');
    const missing = await restErrorOf(() => client.getDeletedSecret('purge-me'));
    expect(missing.statusCode).toBe(404);
    expect((await client.setSecret('purge-me', 'fresh')).value).toBe('fresh');
  });
});

describe('backup and restore', () => {
  it('restores a purged secret with all versions from its backup', async () => {
    await client.setSecret('backed-up', 'one');
    await client.setSecret('backed-up', 'two');
    const blob = await client.backupSecret('backed-up');
    expect(blob).toBeInstanceOf(Uint8Array);
    await (await client.beginDeleteSecret('backed-up', { intervalInMs: 20 })).pollUntilDone();
    await client.purgeDeletedSecret('backed-up');

    const restored = await client.restoreSecretBackup(blob!);
    expect(restored.name).toBe('backed-up');
    expect((await client.getSecret('backed-up')).value).toBe('two');
    let count = 0;
    for await (const _ of client.listPropertiesOfSecretVersions('backed-up')) count += 1;
    expect(count).toBe(2);

    const conflict = await restErrorOf(() => client.restoreSecretBackup(blob!));
    expect(conflict.statusCode).toBe(409);
    const invalid = await restErrorOf(() => client.restoreSecretBackup(new Uint8Array([1, 2, 3])));
    expect(invalid.statusCode).toBe(400);
    expect(invalid.code).toBe('BadParameter');
    expect(invalid.message).toBe('Malformed backup blob');
  });
});

describe('limits are checked before anything is stored', () => {
  const cases: [string, (c: SecretClient) => Promise<unknown>][] = [
    ['a value over 25 KB', (c) => c.setSecret('too-big', 'x'.repeat(MAX_VALUE_BYTES + 1))],
    ['16 tags', (c) => c.setSecret('too-many-tags', value, { tags: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, 'v'])) })],
    ['a tag name over 256', (c) => c.setSecret('long-tag-name', value, { tags: { ['n'.repeat(257)]: 'v' } })],
    ['a tag value over 256', (c) => c.setSecret('long-tag-value', value, { tags: { n: 'v'.repeat(257) } })],
    ['a contentType over 255', (c) => c.setSecret('long-content-type', value, { contentType: 'c'.repeat(256) })],
    ['a name with an underscore', (c) => c.setSecret('bad_name', value)],
    ['a name over 127 characters', (c) => c.setSecret('n'.repeat(128), value)],
  ];

  it.each(cases)('rejects %s with 400 BadParameter', async (_label, call) => {
    const error = await restErrorOf(() => call(client));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('BadParameter');
    expect(error.message).not.toContain(value);
  });

  it('stored nothing for the rejected requests, and accepts exactly 25 KB and 15 tags', async () => {
    const names = emulator.listSecretProperties('contoso').map((p) => p.name);
    for (const n of ['too-big', 'too-many-tags', 'long-tag-name', 'long-tag-value', 'long-content-type']) expect(names).not.toContain(n);
    const exact = await client.setSecret('exact-size', 'x'.repeat(MAX_VALUE_BYTES), {
      tags: Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`t${i}`, 'v'.repeat(256)])),
    });
    expect(exact.value).toHaveLength(MAX_VALUE_BYTES);
  });
});
