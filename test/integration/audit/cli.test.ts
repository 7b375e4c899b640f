import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../cli/commands/audit.js';
import { createAuditLog } from '../../../shared/audit/index.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import { blobNames, containerOf, deliveryInput, linesOf, rewriteBlob, scanForSecretValues, SECRET_VALUES } from './support.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'cli/main.ts', ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A port nothing listens on: bound on port 0, then closed. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (text: string) => out.push(text), err: (text: string) => err.push(text) }, out, err };
}

let azurite: AzuriteBlob;
let container: ContainerClient;

beforeAll(async () => {
  azurite = await startAzurite();
  container = containerOf(azurite.connectionString, 'cli');
  const log = createAuditLog({ containerClient: container, shards: 1 });
  await log.append(deliveryInput(1, { time: new Date('2025-03-01T10:00:00Z') }));
  await log.append(deliveryInput(2, { time: new Date('2025-03-01T10:30:00Z'), status: 'FailedNotOwned', target: { id: 'customer-a', kind: 'keyVault' } }));
  await log.append(deliveryInput(2, { time: new Date('2025-03-01T10:31:00Z'), status: 'FailedNotOwned', target: { id: 'customer-a', kind: 'keyVault' } }));
});

afterAll(async () => {
  await azurite?.stop();
});

describe('secret-relay audit --stack', () => {
  it('reads the storage of a running local stack from its stack.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-json-'));
    const file = join(dir, 'stack.json');
    writeFileSync(file, JSON.stringify({ storage: { connectionString: azurite.connectionString, auditContainer: container.containerName } }));
    const { io, out } = capture();
    expect(await run(['verify', '--stack', file], io, { env: {} })).toBe(0);
    expect(out.join('')).toContain('3 record(s)');
    const missing = capture();
    expect(await run(['verify', '--stack', join(dir, 'absent.json')], missing.io, { env: {} })).toBe(3);
    expect(missing.err.join('')).toContain('the local stack is not running');
  });

  it('fails at once with exit 3 when stack.json is left from a stopped stack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-json-'));
    const file = join(dir, 'stack.json');
    const closed = await closedPort();
    const connectionString = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${closed}/devstoreaccount1`);
    writeFileSync(file, JSON.stringify({ storage: { connectionString, auditContainer: container.containerName } }));
    const { io, err } = capture();
    expect(await run(['query', '--stack', file], io, { env: {} })).toBe(3);
    expect(err.join('')).toContain(`the local stack is not running: storage at http://127.0.0.1:${closed}/devstoreaccount1 refuses connections`);
  });
});

describe('secret-relay audit (child process)', () => {
  it('verify exits 0 on an intact trail, reading settings from the environment', async () => {
    const result = await cli(['audit', 'verify'], { AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString, AUDIT_CONTAINER: container.containerName });
    expect(result.stderr).not.toContain('secret-relay audit:');
    expect(result.stdout).toContain('OK: every chain is intact; 3 record(s) in 1 blob(s), 1 duplicate(s)');
    expect(result.code).toBe(0);
  });

  it('query --json filters by status and collapses the retried append', async () => {
    const result = await cli(['audit', 'query', '--status', 'FailedNotOwned', '--json', '--connection-string', azurite.connectionString, '--container', container.containerName]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { records: { cause: { eventId: string } }[]; duplicates: number };
    expect(parsed.records.map((record) => record.cause.eventId)).toEqual(['evt-2']);
    expect(parsed.duplicates).toBe(1);
    for (const value of SECRET_VALUES) expect(result.stdout).not.toContain(value);
  });
});

describe('audit command module', () => {
  const env = () => ({ AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString, AUDIT_CONTAINER: container.containerName });

  it('prints a table for query with a time range', async () => {
    const { io, out } = capture();
    const code = await run(['query', '--from', '2025-03-01T10:15:00Z', '--to', '2025-03-01T11:00:00Z'], io, { env: env() });
    expect(code).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/^TIME +ACTION +STATUS +SECRET/);
    expect(text).toContain('FailedNotOwned');
    expect(text).not.toContain('evt-1');
    expect(text).toContain('1 record(s) from 1 blob(s); 1 duplicate(s) collapsed');
  });

  it.each([
    [['query', '--bogus']],
    [['query', '--from', 'yesterday']],
    [['query', '--action', 'steal']],
    [['launch']],
  ])('exits 2 on a usage error: %j', async (args) => {
    const { io, err } = capture();
    expect(await run(args, io, { env: env() })).toBe(2);
    expect(err.join('')).toContain('Usage:');
  });

  it('exits 2 without settings and names them', async () => {
    const { io, err } = capture();
    expect(await run(['verify'], io, { env: {} })).toBe(2);
    expect(err.join('')).toContain('AUDIT_STORAGE_CONNECTION_STRING');
  });

  it('verify exits 1 and names the blob and offset of the first broken link (child process)', async () => {
    const [name] = await blobNames(container);
    const lines = await linesOf(container, name!);
    await rewriteBlob(container, name!, [lines[0]!, lines[1]!.replace('customer-a', 'customer-b'), lines[2]!]);
    const { io, out } = capture();
    expect(await run(['verify', '--json'], io, { env: env() })).toBe(1);
    expect(JSON.parse(out.join(''))).toMatchObject({ ok: false, firstProblem: { blob: name, offset: Buffer.byteLength(lines[0]!), kind: 'hash-mismatch' } });

    const result = await cli(['audit', 'verify', '--connection-string', azurite.connectionString, '--container', container.containerName]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`BROKEN: ${name} at offset ${Buffer.byteLength(lines[0]!)} (seq 1)`);
  });
});

describe('no secret value in any blob', () => {
  it('finds none of the secret values in the blobs of this file', async () => {
    const scan = await scanForSecretValues(azurite.connectionString);
    expect(scan.leaks).toEqual([]);
    expect(scan.withFingerprint).toBeGreaterThan(0);
  });
});
