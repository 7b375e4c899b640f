import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { fingerprint, fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import { ownerOf } from '../../../shared/domain/references.js';
import { createSourceVault, SourceVaultError, type SourceVault } from '../../../shared/sources/index.js';
import { TransientTargetError } from '../../../shared/targets/contract.js';
import { customerClient, emulatorClientOptions, nextSecond, recordingSleep, startEmulator, staticCredential } from './emulatorSupport.js';

const VAULT = 'platform-src';
const KEY = fingerprintKeyFrom('src', randomBytes(32));
let emulator: KeyVaultEmulator;
let counter = 0;
const captured: unknown[] = [];
const values: string[] = [];

beforeAll(async () => {
  emulator = await startEmulator([VAULT]);
});
afterAll(async () => {
  await emulator?.close();
});
afterEach(() => {
  emulator.clearFaults();
});

function source(sleep = recordingSleep()): SourceVault {
  return createSourceVault({
    sourceId: 'platform',
    vaultUrl: emulator.vaultUrls[VAULT]!,
    credential: staticCredential,
    clientOptions: emulatorClientOptions(emulator),
    sleep,
  });
}

function seed(name: string, options: { contentType?: string; expiresOn?: number; notBefore?: number; enabled?: boolean } = {}) {
  const value = `src-${randomBytes(16).toString('hex')}`;
  values.push(value);
  const props = emulator.createSecret(VAULT, name, value, { ...options, emitEvent: false });
  return { value, version: props.version, createdOn: props.createdOn };
}

async function capture<T>(promise: Promise<T>): Promise<T | unknown> {
  try {
    const result = await promise;
    return result;
  } catch (error) {
    captured.push(error, (error as Error).message);
    return error;
  }
}

const name = () => `src-${Date.now().toString(36)}-${++counter}`;

describe('source vault', () => {
  it('same-second versions: asks the vault which is current', async () => {
    const n = name();
    seed(n);
    const v2 = seed(n, { enabled: false });
    const vault = source();
    expect(await vault.getLatestProperties(n, { includeDisabled: true })).toMatchObject({ version: v2.version, enabled: false });
    const v3 = seed(n);
    expect(await vault.getLatestProperties(n)).toMatchObject({ version: v3.version });
  });

  it('reads a version with its facts: owner, createdOn, isLatest, contentType, expiry, keyed fingerprint', async () => {
    const n = name();
    const v1 = seed(n);
    const v2 = seed(n, { contentType: 'text/plain', expiresOn: 1_900_000_000, notBefore: 1_700_000_000 });
    const vault = source();
    const latest = await vault.readVersion(n, v2.version, KEY);
    expect(latest.value).toBe(v2.value);
    expect(latest.facts).toEqual({
      owner: ownerOf(emulator.vaultUrls[VAULT]!, n),
      version: v2.version,
      createdOn: v2.createdOn,
      fingerprint: fingerprint(KEY, v2.value),
      isLatest: true,
      contentType: 'text/plain',
      expiresOn: 1_900_000_000,
      notBefore: 1_700_000_000,
    });
    const older = await vault.readVersion(n, v1.version, KEY);
    expect(older.facts.isLatest).toBe(false);
    captured.push(latest.facts, older.facts);
  });

  it('gives properties without reading values (versions in different seconds)', async () => {
    const n = name();
    const v1 = seed(n);
    await nextSecond();
    const v2 = seed(n, { enabled: false });
    const vault = source();
    const before = emulator.counters(VAULT).getSecret;
    const latest = await vault.getLatestProperties(n);
    expect(latest).toMatchObject({ version: v1.version, enabled: true });
    expect(await vault.getLatestProperties(n, { includeDisabled: true })).toMatchObject({ version: v2.version, enabled: false });
    expect(await vault.getVersionProperties(n, v1.version)).toMatchObject({ version: v1.version });
    expect(await vault.getVersionProperties(n, 'f'.repeat(32))).toBeUndefined();
    expect(await vault.getLatestProperties(name())).toBeUndefined();
    expect(emulator.counters(VAULT).getSecret).toBe(before);
    captured.push(latest);
  });

  it('lists secrets with their tags', async () => {
    const n = name();
    emulator.createSecret(VAULT, n, 'listed-value', { tags: { relay: 'customers' }, emitEvent: false });
    values.push('listed-value');
    const found = [];
    for await (const s of source().listSecrets()) found.push(s);
    expect(found).toContainEqual({ name: n, tags: { relay: 'customers' }, enabled: true });
  });

  it('a missing version or secret → FailedSourceMissing', async () => {
    const n = name();
    seed(n);
    const missingVersion = await capture(source().readVersion(n, 'a'.repeat(32), KEY));
    expect(missingVersion).toBeInstanceOf(SourceVaultError);
    expect(missingVersion).toMatchObject({ status: 'FailedSourceMissing', reason: 'source-missing' });
    expect(await capture(source().readVersion(name(), 'a'.repeat(32), KEY))).toMatchObject({ status: 'FailedSourceMissing' });
  });

  it('a disabled version → FailedSourceMissing', async () => {
    const n = name();
    const v = seed(n, { enabled: false });
    const error = await capture(source().readVersion(n, v.version, KEY));
    expect(error).toMatchObject({ name: 'SourceVaultError', status: 'FailedSourceMissing', reason: 'source-disabled' });
  });

  it('403 → FailedAccessDenied with the inner code', async () => {
    const n = name();
    const v = seed(n);
    emulator.addFault({ vault: VAULT, operation: 'getSecret', effect: { kind: 'forbidden' } });
    const error = await capture(source().readVersion(n, v.version, KEY));
    expect(error).toMatchObject({ status: 'FailedAccessDenied' });
    expect((error as Error).message).toContain('ForbiddenByRbac');
  });

  it('rides out 429s on the ladder; past it → TransientTargetError FailedThrottled; 5xx → FailedUnavailable', async () => {
    const n = name();
    const v = seed(n);
    const sleep = recordingSleep();
    emulator.addFault({ vault: VAULT, operation: 'getSecret', times: 2, effect: { kind: 'throttle' } });
    expect((await source(sleep).readVersion(n, v.version, KEY)).value).toBe(v.value);
    expect(sleep.waits).toEqual([1_000, 2_000]);

    emulator.addFault({ vault: VAULT, operation: 'listSecretVersions', effect: { kind: 'throttle' } });
    const throttled = await capture(source().getLatestProperties(n));
    expect(throttled).toBeInstanceOf(TransientTargetError);
    expect(throttled).toMatchObject({ status: 'FailedThrottled' });
    emulator.clearFaults();

    emulator.addFault({ vault: VAULT, operation: 'getSecret', effect: { kind: 'error', error: { status: 500, code: 'InternalError' } } });
    expect(await capture(source().readVersion(n, v.version, KEY))).toMatchObject({ name: 'TransientTargetError', status: 'FailedUnavailable' });
  });

  it('writes a new version for rotation, with contentType, expiry and tags', async () => {
    const n = name();
    seed(n);
    const value = `rotated-${randomBytes(16).toString('hex')}`;
    values.push(value);
    const { version } = await source().setNewVersion(n, value, { contentType: 'text/plain', expiresOn: 1_900_000_000, tags: { 'relay-rotation': 'r1' } });
    const stored = await customerClient(emulator, VAULT).getSecret(n);
    expect(stored.properties.version).toBe(version);
    expect(stored.value).toBe(value);
    expect(stored.properties.tags).toEqual({ 'relay-rotation': 'r1' });
    expect(stored.properties.expiresOn?.getTime()).toBe(1_900_000_000_000);
  });

  it('nothing captured contains a value', () => {
    expect(captured.length).toBeGreaterThan(5);
    const text = captured.map((c) => (c instanceof Error ? `${c.message} ${c.stack} ${JSON.stringify(c)}` : JSON.stringify(c ?? null))).join('\n');
    for (const value of values) expect(text.includes(value)).toBe(false);
  });
});
