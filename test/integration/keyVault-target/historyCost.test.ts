import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { fingerprint, fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import { ownerOf } from '../../../shared/domain/references.js';
import { createSourceVault } from '../../../shared/sources/index.js';
import type { DeliveryOutcome, DeliveryRequest, SourceVersionFacts } from '../../../shared/targets/contract.js';
import { createKeyVaultTarget, marksFromTags, tagsFromMarks } from '../../../shared/targets/keyVault/index.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import { customerClient, emulatorClientOptions, nextSecond, recordingSleep, startEmulator, staticCredential } from './emulatorSupport.js';

// What one delivery costs must not grow with the number of versions the target or the source holds: the counts
// below are the emulator's request counters for one delivery to (or read from) a name with a long history.

const TARGET = 'history-kv';
const SOURCE = 'history-src';
const HISTORY = 60;
const KEY = fingerprintKeyFrom('hist', randomBytes(32));
const SOURCE_URL = 'https://platform-src.vault.test';
let emulator: KeyVaultEmulator;
let counter = 0;
const values: string[] = [];
const captured: unknown[] = [];

beforeAll(async () => {
  emulator = await startEmulator([TARGET, SOURCE]);
});
afterAll(async () => {
  await emulator?.close();
});

function target() {
  return createKeyVaultTarget({
    targetId: 'history',
    vaultUrl: emulator.vaultUrls[TARGET]!,
    credential: staticCredential,
    clientOptions: emulatorClientOptions(emulator),
    writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
    sleep: recordingSleep(),
    recoverPollIntervalInMs: 20,
  });
}

function facts(name: string, createdOn: number, extra: Partial<SourceVersionFacts> = {}): { value: string; facts: SourceVersionFacts } {
  const value = `hist-${randomBytes(12).toString('hex')}`;
  values.push(value);
  return {
    value,
    facts: { owner: ownerOf(SOURCE_URL, name), version: randomBytes(16).toString('hex'), createdOn, fingerprint: fingerprint(KEY, value), isLatest: true, ...extra },
  };
}

/** A target name holding `count` relay versions (older source versions first), the last one current. */
function seedRelayHistory(name: string, count: number): { value: string; facts: SourceVersionFacts } {
  let last: { value: string; facts: SourceVersionFacts } | undefined;
  for (let i = 0; i < count; i++) {
    last = facts(name, 1_700_000_000 + i * 60);
    emulator.createSecret(TARGET, name, last.value, {
      tags: tagsFromMarks({ source: last.facts.owner, sourceVersion: last.facts.version, sourceCreatedOn: last.facts.createdOn, fingerprint: last.facts.fingerprint }),
      emitEvent: false,
    });
  }
  return last!;
}

/** Target calls by operation during `fn`. */
async function callsDuring(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = emulator.counters(TARGET);
  await fn();
  const after = emulator.counters(TARGET);
  const out: Record<string, number> = {};
  for (const op of ['updateSecretProperties', 'listSecretVersions', 'getDeletedSecret', 'setSecret', 'recoverDeletedSecret', 'getSecret'] as const) {
    if (after[op] - before[op] > 0) out[op] = after[op] - before[op];
  }
  return out;
}

const policy = { adopt: false, recoverDeleted: true };
const deliver = (request: Omit<DeliveryRequest, 'policy'> & { policy?: DeliveryRequest['policy'] }): Promise<DeliveryOutcome> =>
  target().deliver({ policy, ...request });
const name = () => `hist-${Date.now().toString(36)}-${++counter}`;

describe('Key Vault target: one delivery’s calls, whatever the history', () => {
  it(`a newer version over ${HISTORY} relay versions: the current version's properties, then one write`, async () => {
    const n = name();
    const held = seedRelayHistory(n, HISTORY);
    const next = facts(n, held.facts.createdOn + 60);
    let outcome: DeliveryOutcome | undefined;
    const calls = await callsDuring(async () => (outcome = await deliver({ placement: { name: n }, source: next.facts, value: next.value })));
    captured.push(outcome);
    expect(outcome).toMatchObject({ status: 'Updated', reason: 'older-version', previousSourceVersion: held.facts.version });
    expect(calls).toEqual({ updateSecretProperties: 1, setSecret: 1 });
    const stored = await customerClient(emulator, TARGET).getSecret(n);
    expect(stored.value).toBe(next.value);
    // The write records the version it replaced (same-second ties stay decidable for `observe`).
    const versions: string[] = [];
    for await (const v of customerClient(emulator, TARGET).listPropertiesOfSecretVersions(n)) versions.push(v.version!);
    expect(versions).toContain(stored.properties.tags?.['relay-replaces']);
  });

  it('the same version again is UpToDate after one call; an older one is SkippedNewerPresent after one call', async () => {
    const n = name();
    const held = seedRelayHistory(n, HISTORY);
    expect(await callsDuring(async () => expect((await deliver({ placement: { name: n }, source: held.facts, value: held.value })).status).toBe('UpToDate'))).toEqual({
      updateSecretProperties: 1,
    });
    const older = facts(n, held.facts.createdOn - 30);
    expect(await callsDuring(async () => expect((await deliver({ placement: { name: n }, source: older.facts, value: older.value })).status).toBe('SkippedNewerPresent'))).toEqual({
      updateSecretProperties: 1,
    });
  });

  it('a new name: the empty update answers 404, then one write (no listing, no deleted-secret read)', async () => {
    const n = name();
    const v = facts(n, 1_700_000_000);
    expect(await callsDuring(async () => expect((await deliver({ placement: { name: n }, source: v.facts, value: v.value })).status).toBe('Created'))).toEqual({
      updateSecretProperties: 1,
      setSecret: 1,
    });
  });

  it('a soft-deleted name is found by the write’s 409, then recovered and written', async () => {
    const n = name();
    const held = seedRelayHistory(n, 3);
    await (await customerClient(emulator, TARGET).beginDeleteSecret(n, { intervalInMs: 20 })).pollUntilDone();
    const next = facts(n, held.facts.createdOn + 60);
    let outcome: DeliveryOutcome | undefined;
    const calls = await callsDuring(async () => (outcome = await deliver({ placement: { name: n }, source: next.facts, value: next.value })));
    expect(outcome).toMatchObject({ status: 'Recovered', reason: 'deleted-owned' });
    expect(calls).toEqual({ updateSecretProperties: 1, setSecret: 2, getDeletedSecret: 1, recoverDeletedSecret: 1 });
    expect((await customerClient(emulator, TARGET).getSecret(n)).value).toBe(next.value);
  });

  it('only a foreign current version costs a version listing (was an older version ours?)', async () => {
    const n = name();
    const held = seedRelayHistory(n, HISTORY);
    const intruder = `intruder-${randomBytes(8).toString('hex')}`;
    values.push(intruder);
    emulator.createSecret(TARGET, n, intruder, { emitEvent: false });
    let outcome: DeliveryOutcome | undefined;
    const calls = await callsDuring(async () => (outcome = await deliver({ placement: { name: n }, source: held.facts, value: held.value })));
    captured.push(outcome);
    expect(outcome).toMatchObject({ status: 'Updated', reason: 'overwritten-by-foreign-writer' });
    // The listing stops at the first older version of ours it meets.
    expect(calls.listSecretVersions).toBeGreaterThanOrEqual(1);
    expect(calls.setSecret).toBe(1);
    // Someone else's secret under a name the relay never wrote: refused, untouched.
    const foreign = name();
    emulator.createSecret(TARGET, foreign, intruder, { emitEvent: false });
    const v = facts(foreign, 1_700_000_000);
    expect((await deliver({ placement: { name: foreign }, source: v.facts, value: v.value })).status).toBe('FailedNotOwned');
    expect((await customerClient(emulator, TARGET).getSecret(foreign)).value).toBe(intruder);
  });

  it('a same-second tie with another source version asks the source again instead of trusting the plan’s isLatest', async () => {
    const n = name();
    const held = seedRelayHistory(n, 2);
    // The plan saw this version as the current one, but the target holds another version of the same second.
    const stale = facts(n, held.facts.createdOn, { isLatest: true });
    let asked = 0;
    const confirmLatest = async () => {
      asked++;
      return false;
    };
    const skipped = await deliver({ placement: { name: n }, source: stale.facts, value: stale.value, confirmLatest });
    expect(skipped).toMatchObject({ status: 'SkippedNewerPresent', reason: 'newer-present' });
    expect(asked).toBe(1);
    expect(marksFromTags((await customerClient(emulator, TARGET).getSecret(n)).properties.tags)?.sourceVersion).toBe(held.facts.version);
    // No tie, no question.
    const newer = facts(n, held.facts.createdOn + 60);
    expect((await deliver({ placement: { name: n }, source: newer.facts, value: newer.value, confirmLatest })).status).toBe('Updated');
    expect(asked).toBe(1);
  });
});

describe('Key Vault target: names without a live version, write first and handle the 409', () => {
  async function softDeleted(n: string, tags?: Record<string, string>): Promise<void> {
    const value = `gone-${randomBytes(8).toString('hex')}`;
    values.push(value);
    emulator.createSecret(TARGET, n, value, { ...(tags ? { tags } : {}), emitEvent: false });
    await (await customerClient(emulator, TARGET).beginDeleteSecret(n, { intervalInMs: 20 })).pollUntilDone();
  }

  it('a soft-deleted name of ours, route without recoverDeleted: the write’s 409, then the deleted secret’s tags; nothing changes', async () => {
    const n = name();
    const held = seedRelayHistory(n, 2);
    await (await customerClient(emulator, TARGET).beginDeleteSecret(n, { intervalInMs: 20 })).pollUntilDone();
    const next = facts(n, held.facts.createdOn + 60);
    const conflictsBefore = emulator.counters(TARGET).conflicts;
    let outcome: DeliveryOutcome | undefined;
    const calls = await callsDuring(
      async () => (outcome = await deliver({ placement: { name: n }, source: next.facts, value: next.value, policy: { adopt: false, recoverDeleted: false } })),
    );
    captured.push(outcome);
    expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'deleted-recovery-disabled' });
    expect(calls).toEqual({ updateSecretProperties: 1, setSecret: 1, getDeletedSecret: 1 });
    // The one set was the vault's 409: the name stays soft-deleted, with the relay's last version in it.
    expect(emulator.counters(TARGET).conflicts - conflictsBefore).toBe(1);
    const deleted = await customerClient(emulator, TARGET).getDeletedSecret(n);
    expect(marksFromTags(deleted.properties.tags)?.sourceVersion).toBe(held.facts.version);
  });

  it('someone else’s soft-deleted name: FailedNotOwned, not recovered even with recoverDeleted', async () => {
    const n = name();
    await softDeleted(n, { team: 'payments' });
    const v = facts(n, 1_700_000_000);
    let outcome: DeliveryOutcome | undefined;
    const calls = await callsDuring(async () => (outcome = await deliver({ placement: { name: n }, source: v.facts, value: v.value })));
    captured.push(outcome);
    expect(outcome).toMatchObject({ status: 'FailedNotOwned', reason: 'deleted-foreign' });
    expect(calls).toEqual({ updateSecretProperties: 1, setSecret: 1, getDeletedSecret: 1 });
    expect((await customerClient(emulator, TARGET).getDeletedSecret(n)).properties.tags).toEqual({ team: 'payments' });
  });

  it('someone else’s live name: refused after the empty update and one listing, never written', async () => {
    const n = name();
    const intruder = `theirs-${randomBytes(8).toString('hex')}`;
    values.push(intruder);
    emulator.createSecret(TARGET, n, intruder, { emitEvent: false });
    const v = facts(n, 1_700_000_000);
    let outcome: DeliveryOutcome | undefined;
    const calls = await callsDuring(async () => (outcome = await deliver({ placement: { name: n }, source: v.facts, value: v.value })));
    expect(outcome).toMatchObject({ status: 'FailedNotOwned' });
    expect(calls).toEqual({ updateSecretProperties: 1, listSecretVersions: 1 });
    expect((await customerClient(emulator, TARGET).getSecret(n)).value).toBe(intruder);
  });

  it('a create that meets someone’s recovery in progress (409 ObjectIsBeingRecovered) looks again instead of writing over it', async () => {
    const { startKeyVaultEmulator } = await import('../../../local/keyvault/index.js');
    const slow = await startKeyVaultEmulator({ vaults: [TARGET], recoverDelayInMs: 400 });
    try {
      const n = name();
      const theirs = `recovering-${randomBytes(8).toString('hex')}`;
      values.push(theirs);
      const owner = customerClient(slow, TARGET);
      slow.createSecret(TARGET, n, theirs, { emitEvent: false });
      await (await owner.beginDeleteSecret(n, { intervalInMs: 20 })).pollUntilDone();
      // The customer starts recovering; while it runs the name has no live version (the empty update answers 404).
      await owner.beginRecoverDeletedSecret(n, { intervalInMs: 50 });
      const waits: number[] = [];
      const client = createKeyVaultTarget({
        targetId: 'history',
        vaultUrl: slow.vaultUrls[TARGET]!,
        credential: staticCredential,
        clientOptions: emulatorClientOptions(slow),
        writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
        // Waits for real, a little: the emulator's recovery takes 400 ms to settle.
        sleep: (ms) => {
          waits.push(ms);
          return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 250)));
        },
      });
      const v = facts(n, 1_700_000_000);
      const outcome = await client.deliver({ placement: { name: n }, source: v.facts, value: v.value, policy });
      captured.push(outcome);
      expect(outcome).toMatchObject({ status: 'FailedNotOwned' });
      expect((await owner.getSecret(n)).value).toBe(theirs);
      expect(slow.counters(TARGET).conflicts).toBeGreaterThanOrEqual(1);
      expect(waits.length).toBeGreaterThanOrEqual(1);
    } finally {
      await slow.close();
    }
  });
});

describe('source vault: reading a version, whatever the history', () => {
  const source = () =>
    createSourceVault({ sourceId: 'platform', vaultUrl: emulator.vaultUrls[SOURCE]!, credential: staticCredential, clientOptions: emulatorClientOptions(emulator) });

  function seedSource(n: string, count: number): string[] {
    const versions: string[] = [];
    for (let i = 0; i < count; i++) {
      const value = `src-${randomBytes(12).toString('hex')}`;
      values.push(value);
      versions.push(emulator.createSecret(SOURCE, n, value, { emitEvent: false }).version);
    }
    return versions;
  }

  async function sourceCalls(fn: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = emulator.counters(SOURCE);
    await fn();
    const after = emulator.counters(SOURCE);
    return { getSecret: after.getSecret - before.getSecret, listSecretVersions: after.listSecretVersions - before.listSecretVersions };
  }

  it(`the current version of ${HISTORY}: one read; an older one: two; isLatest: one; no listing`, async () => {
    const n = name();
    const versions = seedSource(n, HISTORY);
    const vault = source();
    let latest: Awaited<ReturnType<typeof vault.readVersion>> | undefined;
    expect(await sourceCalls(async () => (latest = await vault.readVersion(n, versions.at(-1)!, KEY)))).toEqual({ getSecret: 1, listSecretVersions: 0 });
    captured.push(latest?.facts);
    expect(latest?.facts).toMatchObject({ version: versions.at(-1), isLatest: true });
    let older: Awaited<ReturnType<typeof vault.readVersion>> | undefined;
    expect(await sourceCalls(async () => (older = await vault.readVersion(n, versions[3]!, KEY)))).toEqual({ getSecret: 2, listSecretVersions: 0 });
    expect(older?.facts).toMatchObject({ version: versions[3], isLatest: false });
    expect(await sourceCalls(() => vault.isLatest(n, versions[3]!))).toEqual({ getSecret: 1, listSecretVersions: 0 });
    expect(await sourceCalls(() => vault.readValue(n, versions[3]!))).toEqual({ getSecret: 1, listSecretVersions: 0 });
  });

  it('a disabled current version: isLatest falls back to the listing (the newest enabled version is current)', async () => {
    const n = name();
    const versions = seedSource(n, 1);
    await nextSecond();
    versions.push(...seedSource(n, 2));
    emulator.setSecretEnabled(SOURCE, n, false, { version: versions[2]! });
    const vault = source();
    expect(await vault.isLatest(n, versions[1]!)).toBe(true);
    expect((await vault.readVersion(n, versions[1]!, KEY)).facts.isLatest).toBe(true);
    await expect(vault.readVersion(n, versions[2]!, KEY)).rejects.toMatchObject({ status: 'FailedSourceMissing', reason: 'source-disabled' });
  });
});

describe('history cost: secrets never leak', () => {
  it('nothing captured contains a value used here', () => {
    const text = JSON.stringify(captured);
    for (const v of values) expect(text).not.toContain(v);
  });
});
