import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { fingerprint, fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import { ownerOf, type Placement } from '../../../shared/domain/references.js';
import { TransientTargetError, type DeliveryOutcome, type SourceVersionFacts } from '../../../shared/targets/contract.js';
import { createKeyVaultTarget, marksFromTags, type KeyVaultTargetOptions } from '../../../shared/targets/keyVault/index.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import type { Sleep } from '../../../shared/targets/backoff.js';
import {
  customerClient,
  emulatorClientOptions,
  nextSecond,
  recordingSleep,
  startEmulator,
  staticCredential,
} from './emulatorSupport.js';

const VAULT = 'customer-kv';
const SOURCE_VAULT = 'https://platform-src.vault.test';
const KEY = fingerprintKeyFrom('it', randomBytes(32));

let emulator: KeyVaultEmulator;
/** Everything the tests captured from the relay: outcomes, errors, messages. Scanned for values at the end. */
const captured: unknown[] = [];
const values: string[] = [];
let counter = 0;

beforeAll(async () => {
  emulator = await startEmulator([VAULT]);
});
afterAll(async () => {
  await emulator?.close();
});
afterEach(() => {
  emulator.clearFaults();
});

function target(overrides: Partial<KeyVaultTargetOptions> = {}) {
  return createKeyVaultTarget({
    targetId: 'customer',
    vaultUrl: emulator.vaultUrls[VAULT]!,
    credential: staticCredential,
    clientOptions: emulatorClientOptions(emulator),
    writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
    sleep: recordingSleep(),
    recoverPollIntervalInMs: 20,
    ...overrides,
  });
}

function placement(): Placement {
  return { name: `it-${Date.now().toString(36)}-${++counter}` };
}

function version(sourceName: string, extra: Partial<SourceVersionFacts> = {}) {
  const value = `secret-${randomBytes(16).toString('hex')}`;
  values.push(value);
  const facts: SourceVersionFacts = {
    owner: ownerOf(SOURCE_VAULT, sourceName),
    version: randomBytes(16).toString('hex'),
    createdOn: 1_700_000_000 + ++counter,
    fingerprint: fingerprint(KEY, value),
    isLatest: true,
    ...extra,
  };
  return { value, facts };
}

async function deliver(
  client: ReturnType<typeof target>,
  where: Placement,
  v: { value: string; facts: SourceVersionFacts },
  policy = { adopt: false, recoverDeleted: true },
): Promise<DeliveryOutcome> {
  try {
    const outcome = await client.deliver({ placement: where, source: v.facts, value: v.value, policy });
    captured.push(outcome);
    return outcome;
  } catch (error) {
    captured.push(error, (error as Error).message, (error as Error).stack, (error as Error).cause);
    throw error;
  }
}

describe('Key Vault target: throttling', () => {
  it('rides out a burst of 429s without Retry-After on the 1, 2, 4 s ladder (fast sleep)', async () => {
    const sleep = recordingSleep();
    const client = target({ sleep });
    const before = emulator.counters(VAULT).setSecret;
    emulator.addFault({ vault: VAULT, operation: 'setSecret', times: 3, effect: { kind: 'throttle' } });
    const outcome = await deliver(client, placement(), version('burst'));
    expect(outcome.status).toBe('Created');
    expect(sleep.waits).toEqual([1_000, 2_000, 4_000]);
    expect(emulator.counters(VAULT).setSecret - before).toBe(4);
  });

  it('honours Retry-After when the 429 reaches the relay', async () => {
    const sleep = recordingSleep();
    const client = target({ sleep });
    emulator.addFault({ vault: VAULT, operation: 'updateSecretProperties', times: 2, effect: { kind: 'throttle', retryAfterInSeconds: 7 } });
    const outcome = await deliver(client, placement(), version('retry-after'));
    expect(outcome.status).toBe('Created');
    expect(sleep.waits).toEqual([7_000, 7_000]);
  });

  it('lets the SDK ride out a 429 with Retry-After itself when its retries are on', async () => {
    const sleep = recordingSleep();
    const client = target({ sleep, clientOptions: emulatorClientOptions(emulator, { retryOptions: { maxRetries: 3 } }) });
    emulator.addFault({ vault: VAULT, operation: 'setSecret', times: 1, effect: { kind: 'throttle', retryAfterInSeconds: 1 } });
    const outcome = await deliver(client, placement(), version('sdk-retry'));
    expect(outcome.status).toBe('Created');
    expect(sleep.waits).toEqual([]);
  });

  it('gives up after the ladder with TransientTargetError FailedThrottled', async () => {
    const sleep = recordingSleep();
    const client = target({ sleep });
    const where = placement();
    emulator.addFault({ vault: VAULT, operation: 'setSecret', effect: { kind: 'throttle' } });
    const error = await deliver(client, where, version('exhausted')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientTargetError);
    expect((error as TransientTargetError).status).toBe('FailedThrottled');
    expect((error as Error).message).toContain('Throttled');
    expect(sleep.waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    emulator.clearFaults();
    expect(await client.observe(where)).toEqual({ state: 'absent' });
  });

  it('throttled reads give up the same way', async () => {
    const client = target();
    emulator.addFault({ vault: VAULT, operation: 'listSecretVersions', effect: { kind: 'throttle' } });
    const error = await client.observe(placement()).catch((e: unknown) => e);
    captured.push(error);
    expect(error).toMatchObject({ name: 'TransientTargetError', status: 'FailedThrottled' });
  });
});

describe('Key Vault target: errors classified at the edge', () => {
  it('403 ForbiddenByRbac on set → FailedAccessDenied, the message keeps the inner code', async () => {
    const client = target();
    emulator.addFault({ vault: VAULT, operation: 'setSecret', effect: { kind: 'forbidden' } });
    const outcome = await deliver(client, placement(), version('rbac'));
    expect(outcome).toMatchObject({ status: 'FailedAccessDenied', reason: 'access-denied' });
    expect(outcome.message).toContain('ForbiddenByRbac');
  });

  it('403 on the metadata reads (the empty update and the listing it falls back to) → FailedAccessDenied before any write', async () => {
    const client = target();
    const before = emulator.counters(VAULT).setSecret;
    emulator.addFault({ vault: VAULT, operation: 'updateSecretProperties', effect: { kind: 'forbidden' } });
    emulator.addFault({ vault: VAULT, operation: 'listSecretVersions', effect: { kind: 'forbidden' } });
    const outcome = await deliver(client, placement(), version('rbac-read'));
    expect(outcome.status).toBe('FailedAccessDenied');
    expect(emulator.counters(VAULT).setSecret).toBe(before);
  });

  it('401 (token rejected) → FailedAccessDenied', async () => {
    const client = target();
    emulator.addFault({ vault: VAULT, operation: 'setSecret', effect: { kind: 'rejectToken' } });
    const outcome = await deliver(client, placement(), version('token'));
    expect(outcome).toMatchObject({ status: 'FailedAccessDenied', reason: 'unauthenticated' });
  });

  it('5xx → TransientTargetError FailedUnavailable', async () => {
    const client = target();
    emulator.addFault({
      vault: VAULT,
      operation: 'setSecret',
      effect: { kind: 'error', error: { status: 503, code: 'ServiceUnavailable' } },
    });
    const error = await deliver(client, placement(), version('5xx')).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TransientTargetError', status: 'FailedUnavailable' });
    expect((error as Error).message).toContain('503');
  });

  it('a network failure → TransientTargetError FailedUnavailable', async () => {
    const client = target();
    emulator.addFault({ vault: VAULT, operation: 'updateSecretProperties', effect: { kind: 'reset' } });
    const error = await deliver(client, placement(), version('reset')).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TransientTargetError', status: 'FailedUnavailable' });
  });
});

describe('Key Vault target: writes', () => {
  it('refuses a value over 25 KB before any request', async () => {
    const client = target();
    const before = emulator.counters(VAULT);
    const big = randomBytes(13_000).toString('hex');
    values.push(big);
    const outcome = await deliver(client, placement(), { value: big, facts: { ...version('big').facts, fingerprint: fingerprint(KEY, big) } });
    expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'invalid' });
    expect(outcome.message).toContain('26000 bytes');
    const after = emulator.counters(VAULT);
    expect(after.setSecret).toBe(before.setSecret);
    expect(after.total).toBe(before.total);
  });

  it('carries contentType, expiry and not-before over from the source and writes the ownership tags', async () => {
    const client = target();
    const where = placement();
    const v = version('carried', { contentType: 'application/x-pem-file', expiresOn: 1_900_000_000, notBefore: 1_700_000_000 });
    expect((await deliver(client, where, v)).status).toBe('Created');
    const stored = await customerClient(emulator, VAULT).getSecret(where.name);
    expect(stored.value).toBe(v.value);
    expect(stored.properties.contentType).toBe('application/x-pem-file');
    expect(stored.properties.expiresOn?.getTime()).toBe(1_900_000_000_000);
    expect(stored.properties.notBefore?.getTime()).toBe(1_700_000_000_000);
    expect(stored.properties.tags).toEqual({
      'managed-by': 'secret-relay',
      'relay-source': v.facts.owner,
      'relay-source-version': v.facts.version,
      'relay-source-created': String(v.facts.createdOn),
      'relay-fingerprint': v.facts.fingerprint,
    });
  });

  it('never reads a target value: delivering uses metadata calls only', async () => {
    const client = target();
    const where = placement();
    const v = version('metadata-only');
    const before = emulator.counters(VAULT).getSecret;
    await deliver(client, where, v);
    await deliver(client, where, v);
    await client.observe(where);
    expect(emulator.counters(VAULT).getSecret).toBe(before);
  });

  it('repairs an overwrite behind the relay’s back (a foreign version on top of ours)', async () => {
    const client = target();
    const where = placement();
    const v = version('overwritten');
    await deliver(client, where, v);
    await nextSecond();
    const intruder = `intruder-${randomBytes(8).toString('hex')}`;
    values.push(intruder);
    await customerClient(emulator, VAULT).setSecret(where.name, intruder);
    expect(await client.observe(where, { owner: v.facts.owner })).toEqual({ state: 'present', previouslyOwned: true });
    expect(await client.observe(where, { owner: ownerOf(SOURCE_VAULT, 'someone-else') })).toEqual({ state: 'present' });
    const outcome = await deliver(client, where, v);
    expect(outcome).toMatchObject({ status: 'Updated', reason: 'overwritten-by-foreign-writer' });
    const repaired = await customerClient(emulator, VAULT).getSecret(where.name);
    expect(repaired.value).toBe(v.value);
    // Same second as the intruder's version or not, the repair records what it replaced: no second write.
    expect(repaired.properties.tags?.['relay-replaces']).toBeTruthy();
    expect((await deliver(client, where, v)).status).toBe('UpToDate');
  });

  it('a set racing a deletion recovers the name, then writes (Recovered)', async () => {
    const racing = await startEmulatorWithDeleteDelay();
    try {
      // The ladder's sleep waits a little for real here: the emulator's deletion takes 300 ms to settle.
      const shortSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 100)));
      const client = createKeyVaultTarget({
        targetId: 'racing',
        vaultUrl: racing.vaultUrls[VAULT]!,
        credential: staticCredential,
        clientOptions: emulatorClientOptions(racing),
        writeBudget: new WriteBudget({ writes: 100, perSeconds: 1 }),
        sleep: shortSleep,
        recoverPollIntervalInMs: 20,
      });
      const where = placement();
      const v1 = version('race');
      expect((await deliver(client, where, v1)).status).toBe('Created');
      await customerClient(racing, VAULT).beginDeleteSecret(where.name);
      // Right now the name is neither live nor visibly deleted: observe says absent, the set meets 409s.
      const v2 = version('race');
      const outcome = await deliver(client, where, v2);
      expect(outcome).toMatchObject({ status: 'Recovered', reason: 'deleted-owned' });
      expect(racing.counters(VAULT).recoverDeletedSecret).toBe(1);
      // The recovery is one POST: no GET /secrets/{name}/ (the SDK poller's value reads, denied to the writer role).
      expect(racing.counters(VAULT).getSecret).toBe(0);
      const stored = await customerClient(racing, VAULT).getSecret(where.name);
      expect(marksFromTags(stored.properties.tags)?.sourceVersion).toBe(v2.facts.version);
    } finally {
      await racing.close();
    }
  });
});

describe('Key Vault target: write budget', () => {
  it('paces a burst of writes to one vault (fake clock), reads unbudgeted', async () => {
    let nowInMs = 0;
    const budget = new WriteBudget({
      writes: 3,
      perSeconds: 10,
      clock: () => nowInMs,
      sleep: async (ms) => {
        nowInMs += ms;
      },
    });
    const grants: number[] = [];
    const take = budget.take.bind(budget);
    budget.take = async (options) => {
      await take(options);
      grants.push(nowInMs);
    };
    // Two clients of the same vault share one budget.
    const first = target({ writeBudget: budget });
    const second = target({ writeBudget: budget });
    const before = emulator.counters(VAULT);
    const outcomes = await Promise.all(
      Array.from({ length: 7 }, (_, i) => deliver(i % 2 ? first : second, placement(), version(`budget-${i}`))),
    );
    expect(outcomes.map((o) => o.status)).toEqual(Array(7).fill('Created'));
    expect(emulator.counters(VAULT).setSecret - before.setSecret).toBe(7);
    expect(grants).toHaveLength(7);
    // A full bucket (3) at once, then one write per 10/3 s.
    expect(grants.slice(0, 3)).toEqual([0, 0, 0]);
    for (let i = 3; i < grants.length; i++) expect(grants[i]!).toBeGreaterThanOrEqual((i - 2) * 3_333);
    expect(nowInMs).toBeGreaterThanOrEqual(13_332);
    expect(emulator.counters(VAULT).updateSecretProperties - before.updateSecretProperties).toBe(7);
    expect(emulator.counters(VAULT).listSecretVersions - before.listSecretVersions).toBe(0);
  });
});

describe('Key Vault target: secrets never leak', () => {
  it('nothing captured from the relay contains a value used in these tests', () => {
    expect(captured.length).toBeGreaterThan(10);
    expect(values.length).toBeGreaterThan(10);
    const text = captured
      .map((c) => (c instanceof Error ? `${c.name} ${c.message} ${c.stack} ${JSON.stringify(c.cause ?? null)}` : JSON.stringify(c ?? null)))
      .join('\n');
    for (const value of values) expect(text.includes(value)).toBe(false);
  });
});

async function startEmulatorWithDeleteDelay(): Promise<KeyVaultEmulator> {
  const { startKeyVaultEmulator } = await import('../../../local/keyvault/index.js');
  return startKeyVaultEmulator({ vaults: [VAULT], deleteDelayInMs: 300 });
}
