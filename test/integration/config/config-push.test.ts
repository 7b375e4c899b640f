import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushConfig } from '../../../cli/commands/config-push.js';
import { createConfigStoreFrom, getRuntime, refreshConfig } from '../../../shared/composition.js';
import { blobConfigDocument, ConfigConflictError } from '../../../shared/config/index.js';
import { handleKeyVaultEvent } from '../../../shared/triggers/index.js';
import type { RelayLog } from '../../../shared/runtime.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import { kvEvent, V1 } from '../../unit/triggers/fakes.js';

// A config change reaches a running relay through the config blob, with no redeploy: `config push` checks and
// uploads, the relay's next refresh loads it, the next event is handled under it; a broken push is refused.

let azurite: AzuriteBlob;
const dir = mkdtempSync(join(tmpdir(), 'relay-config-push-'));
const good = JSON.parse(readFileSync(new URL('../../fixtures/config/good.json', import.meta.url), 'utf8')) as Record<string, unknown> & {
  sources: { id: string; vaultUrl: string }[];
};
const OTHER = 'https://other.vault.azure.net';
const io = { lines: [] as string[], out(text: string) { this.lines.push(text); }, err(text: string) { this.lines.push(text); } };
const client = { start: async () => 'started' as const, status: async () => undefined };

function writeConfig(name: string, config: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

beforeAll(async () => {
  azurite = await startAzurite();
  const env = {
    RELAY_CONFIG_STORAGE_CONNECTION_STRING: azurite.connectionString,
    RELAY_CONFIG_BLOB: 'config/relay.config.json',
    RELAY_CONFIG_REFRESH_INTERVAL_MS: '0',
    RELAY_FINGERPRINT_KEY: Buffer.alloc(32, 7).toString('base64'),
    AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
    AUDIT_CONTAINER: 'audit',
  };
  Object.assign(process.env, env);
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await service.getContainerClient('config').createIfNotExists();
  await service.getContainerClient('audit').createIfNotExists();
});

afterAll(async () => {
  await azurite?.stop();
});

describe('config push to a running relay (Azurite)', () => {
  const event = kvEvent('SecretExpired', 'db-password', V1, OTHER);

  it('uploads a checked config; the relay loads it and the next event uses it; a broken one is refused and the old one stays', async () => {
    const first = await pushConfig(writeConfig('first.json', good), io, {});
    expect(first.outcome).toBe('Pushed');
    expect((await refreshConfig())?.outcome).toBe('Loaded');
    expect((await handleKeyVaultEvent(event, getRuntime(), client)).result).toBe('ignored');

    const withOther = { ...good, sources: [...good.sources, { id: 'other', vaultUrl: OTHER }] };
    const second = await pushConfig(writeConfig('second.json', withOther), io, {});
    expect(second).toMatchObject({ outcome: 'Pushed', changes: [{ kind: 'source', id: 'other', change: 'added' }] });
    expect((await refreshConfig())?.outcome).toBe('Loaded');
    expect((await handleKeyVaultEvent(event, getRuntime(), client)).result).toBe('audited');

    // `config push` itself refuses an invalid file: nothing is uploaded.
    const bad = await pushConfig(writeConfig('bad.json', { ...withOther, routes: [{ id: 'r' }] }), io, {});
    expect(bad.outcome).toBe('Invalid');
    expect((await refreshConfig())?.outcome).toBe('Unchanged');
  });

  it('a broken document written past the CLI is refused with its problems, logged as a warning, and the last good config stays', async () => {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('config').getBlockBlobClient('relay.config.json');
    const broken = JSON.stringify({ ...good, sources: [{ id: 'platform', vaultUrl: 'not a url' }] });
    await blob.upload(broken, broken.length);

    const warnings: string[] = [];
    const log: RelayLog = { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
    const observer = createConfigStoreFrom(process.env, { log })!;
    const refused = await observer.refresh();
    expect(refused.outcome).toBe('Refused');
    expect(warnings.join('\n')).toContain('$.sources[0].vaultUrl');

    // The process-wide store had loaded the good config: it refuses the broken one and keeps serving the old.
    expect((await refreshConfig())?.outcome).toBe('Refused');
    expect((await handleKeyVaultEvent(kvEvent('SecretExpired', 'db-password', V1, OTHER), getRuntime(), client)).result).toBe('audited');
    // A refused version is not re-read on every refresh: the next refresh is a conditional read (304).
    expect((await refreshConfig())?.outcome).toBe('Refused');
  });

  it('push refuses to overwrite a config changed since it was read (ETag), and --dry-run uploads nothing', async () => {
    const planned = await pushConfig(writeConfig('dry.json', good), io, { dryRun: true });
    expect(planned.outcome).toBe('Planned');
    expect((await refreshConfig())?.outcome).toBe('Refused');

    const { BlobServiceClient } = await import('@azure/storage-blob');
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('config').getBlockBlobClient('relay.config.json');
    const document = blobConfigDocument(blob);
    const read = await document.read();
    expect(read.state).toBe('found');
    const text = JSON.stringify(good);
    await document.write(text, { expectedEtag: read.state === 'found' ? read.etag : undefined });
    await expect(document.write(text, { expectedEtag: read.state === 'found' ? read.etag : undefined })).rejects.toBeInstanceOf(ConfigConflictError);
    await expect(document.write(text, { expectedEtag: undefined })).rejects.toBeInstanceOf(ConfigConflictError);
  });
});
