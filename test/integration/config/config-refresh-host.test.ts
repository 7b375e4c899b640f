import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pushConfig } from '../../../cli/commands/config-push.js';
import { startHost, type LocalHost } from '../../../local/host/index.js';
import type { LogEntry } from '../../../local/host/log.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import { kvEvent, V1 } from '../../unit/triggers/fakes.js';

// End to end through the local Functions host: the app's own preInvocation hook (functions/configRefresh.ts) reloads
// the config blob before each invocation, so an Event Grid event delivered after `secret-relay config push` is
// handled under the pushed config, and a broken document in the blob is refused with a warning while the last good
// config stays in use. Nothing here calls refreshConfig() directly.

let azurite: AzuriteBlob;
let host: LocalHost;
const dir = mkdtempSync(join(tmpdir(), 'relay-config-host-'));
const logs: LogEntry[] = [];
const OTHER = 'https://other.vault.azure.net';
const good = JSON.parse(readFileSync(new URL('../../fixtures/config/good.json', import.meta.url), 'utf8')) as Record<string, unknown> & {
  sources: { id: string; vaultUrl: string }[];
};
const withOther = { ...good, sources: [...good.sources, { id: 'other', vaultUrl: OTHER }] };
const io = { out: () => undefined, err: () => undefined };

function file(name: string, config: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

/** Delivers one Key Vault event through the host's Event Grid webhook; resolves to the handler's log line. */
async function deliver(id: string): Promise<string> {
  const before = logs.length;
  const res = await fetch(host.eventGridUrl('keyVaultEvents'), {
    method: 'POST',
    headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' },
    body: JSON.stringify([kvEvent('SecretExpired', 'db-password', V1, OTHER, id)]),
  });
  expect(res.status).toBe(202);
  const line = logs.slice(before).find((e) => e.functionName === 'keyVaultEvents' && e.message.startsWith('keyVaultEvents: '));
  return line?.message ?? '(no handler log line)';
}

beforeAll(async () => {
  azurite = await startAzurite();
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  await service.getContainerClient('config').createIfNotExists();
  await service.getContainerClient('audit').createIfNotExists();
  host = await startHost({
    app: ['functions/configRefresh.ts', 'functions/keyVaultEvents.ts'],
    durableDir: join(dir, 'durable'),
    settings: {
      RELAY_CONFIG_STORAGE_CONNECTION_STRING: azurite.connectionString,
      RELAY_CONFIG_BLOB: 'config/relay.config.json',
      RELAY_CONFIG_REFRESH_INTERVAL_MS: '0',
      RELAY_FINGERPRINT_KEY: Buffer.alloc(32, 7).toString('base64'),
      AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AUDIT_CONTAINER: 'audit',
      LOCAL_HOST_EVENTGRID_KEY: 'eg-key-for-tests',
    },
    log: (entry) => logs.push(entry),
  });
});

afterAll(async () => {
  await host?.close();
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('config refresh through the host hook (Azurite)', () => {
  it('the next event after a push uses the pushed config; a broken blob is refused with a warning and the old config stays', async () => {
    expect((await pushConfig(file('first.json', good), io, {})).outcome).toBe('Pushed');
    expect(await deliver('e1')).toMatch(/^keyVaultEvents: ignored: .*other.*not a configured source/);

    expect((await pushConfig(file('second.json', withOther), io, {})).outcome).toBe('Pushed');
    expect(await deliver('e2')).toMatch(/^keyVaultEvents: audited: /);

    // Written past the CLI (which would refuse it): the relay refuses it, says why at warning level, keeps serving.
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('config').getBlockBlobClient('relay.config.json');
    const broken = JSON.stringify({ ...withOther, sources: [{ id: 'platform', vaultUrl: 'not a url' }] });
    await blob.upload(broken, broken.length);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      expect(await deliver('e3')).toMatch(/^keyVaultEvents: audited: /);
      const warnings = warn.mock.calls.map((c) => String(c[0])).join('\n');
      expect(warnings).toContain('$.sources[0].vaultUrl');
    } finally {
      warn.mockRestore();
    }
  });
});
