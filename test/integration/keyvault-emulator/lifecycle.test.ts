import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyVaultAdminClient, startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { innerCode, restErrorOf, secretClient } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kv-emu-test-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('state directory', () => {
  it('restarts with the same CA, and a client trusting the old CA talks to the new origin', async () => {
    const stateDir = await tempDir();
    const first = await startKeyVaultEmulator({ vaults: ['contoso'], stateDir });
    const firstCa = first.caCertPem;
    expect(first.caCertPath).toBe(join(stateDir, 'ca-cert.pem'));
    expect(await readFile(first.caCertPath, 'utf8')).toBe(firstCa);
    await first.close();

    const second = await startKeyVaultEmulator({ vaults: ['contoso'], stateDir });
    cleanups.push(() => second.close());
    expect(second.caCertPem).toBe(firstCa);
    const client = secretClient({ ...second, caCertPem: firstCa } as KeyVaultEmulator, 'contoso');
    expect((await client.setSecret('after-restart', 'v')).value).toBe('v');

    const other = await startKeyVaultEmulator({ vaults: ['contoso'], stateDir: await tempDir() });
    cleanups.push(() => other.close());
    expect(other.caCertPem).not.toBe(firstCa);
    const untrusting = secretClient({ ...other, caCertPem: firstCa } as KeyVaultEmulator, 'contoso', undefined, { retryOptions: { maxRetries: 0 } });
    await expect(untrusting.getSecret('x')).rejects.toThrow();
  });
});

describe('deletion in progress', () => {
  it('answers 409 ObjectIsBeingDeleted and 404 on the deleted secret until the deletion is visible', async () => {
    const emulator = await startKeyVaultEmulator({ vaults: ['contoso'], deleteDelayInMs: 3000 });
    cleanups.push(() => emulator.close());
    const client = secretClient(emulator, 'contoso');
    await client.setSecret('slow-delete', 'v');
    const poller = await client.beginDeleteSecret('slow-delete', { intervalInMs: 100 });
    const busy = await restErrorOf(() => client.setSecret('slow-delete', 'v2'));
    expect(busy.statusCode).toBe(409);
    expect(innerCode(busy)).toBe('ObjectIsBeingDeleted');
    expect((await restErrorOf(() => client.getDeletedSecret('slow-delete'))).statusCode).toBe(404);
    const deleted = await poller.pollUntilDone();
    expect(deleted.name).toBe('slow-delete');
    expect(emulator.counters('contoso').getDeletedSecret).toBeGreaterThan(1);
    const conflict = await restErrorOf(() => client.setSecret('slow-delete', 'v2'));
    expect(innerCode(conflict)).toBe('ObjectIsDeletedButRecoverable');
  });
});

describe('recovery in progress', () => {
  it('answers 409 ObjectIsBeingRecovered until the recovered secret is visible, then serves it', async () => {
    const emulator = await startKeyVaultEmulator({ vaults: ['contoso'], recoverDelayInMs: 1500 });
    cleanups.push(() => emulator.close());
    const client = secretClient(emulator, 'contoso');
    await client.setSecret('slow-recover', 'v');
    await (await client.beginDeleteSecret('slow-recover', { intervalInMs: 20 })).pollUntilDone();
    const poller = await client.beginRecoverDeletedSecret('slow-recover', { intervalInMs: 100 });
    const busy = await restErrorOf(() => client.setSecret('slow-recover', 'v2'));
    expect(busy.statusCode).toBe(409);
    expect(innerCode(busy)).toBe('ObjectIsBeingRecovered');
    await poller.pollUntilDone();
    expect((await client.getSecret('slow-recover')).value).toBe('v');
    expect((await client.setSecret('slow-recover', 'v2')).value).toBe('v2');
  });
});

describe('standalone main', () => {
  it('starts, prints its URLs as one JSON line, and serves them', async () => {
    const stateDir = await tempDir();
    const child: ChildProcess = spawn(
      'npx',
      ['tsx', 'local/keyvault/main.ts', '--vault', 'platform', '--vault', 'contoso', '--state-dir', stateDir],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    cleanups.push(async () => {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`main exited with ${code}: ${stderr}`)));
    });
    const printed = JSON.parse(line) as { vaultUrls: Record<string, string>; adminUrl: string; caCertPath: string; tenantId: string; eventTopics: Record<string, string> };
    expect(Object.keys(printed.vaultUrls)).toEqual(['platform', 'contoso']);
    expect(printed.vaultUrls.platform).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(printed.caCertPath).toBe(join(stateDir, 'ca-cert.pem'));
    expect(printed.eventTopics.contoso).toMatch(/\/providers\/Microsoft\.KeyVault\/vaults\/contoso$/);

    const admin = createKeyVaultAdminClient(printed.adminUrl);
    expect((await admin.vaults()).map((v) => v.name)).toEqual(['platform', 'contoso']);
    const caCertPem = await readFile(printed.caCertPath, 'utf8');
    const client = secretClient({ vaultUrls: printed.vaultUrls, caCertPem } as unknown as KeyVaultEmulator, 'platform');
    expect((await client.setSecret('from-outside', 'v')).value).toBe('v');
    expect((await admin.counters('platform')).setSecret).toBe(1);
  });
});
