import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { createKeyVaultTarget } from '../../../shared/targets/keyVault/index.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import { customerClient, emulatorClientOptions, nextSecond, startEmulator, staticCredential } from './emulatorSupport.js';

// Two relay writers that raced (before deliveries were ordered) can leave two same-second versions that each
// replace the same one: the version list cannot say which is current. The observation must follow the vault.

const VAULT = 'forked-kv';
const OWNER = 'platform-src.vault.test/db';
let emulator: KeyVaultEmulator;

beforeAll(async () => {
  emulator = await startEmulator([VAULT]);
});

afterAll(async () => {
  await emulator?.close();
});

function marks(sourceVersion: string, createdOn: number): Record<string, string> {
  return {
    'managed-by': 'secret-relay',
    'relay-source': OWNER,
    'relay-source-version': sourceVersion,
    'relay-source-created': String(createdOn),
    'relay-fingerprint': `hmac-sha256:it:${sourceVersion}`,
  };
}

describe('observing a same-second fork of relay writes', () => {
  it.each([
    ['the older source version was written last (a rollback)', ['s2', 's1'], 's1'],
    ['the newer source version was written last', ['s1', 's2'], 's2'],
  ])('reports what the vault serves when %s', async (_label, order, expected) => {
    const name = `db-${expected}-${order.join('')}`;
    const client = customerClient(emulator, VAULT);
    // Same second for both writes, each without relay-replaces (both observed "absent" when they raced).
    await nextSecond();
    for (const sourceVersion of order) {
      await client.setSecret(name, `value-of-${sourceVersion}`, { tags: marks(sourceVersion, sourceVersion === 's1' ? 100 : 200) });
    }
    const versions: number[] = [];
    for await (const p of client.listPropertiesOfSecretVersions(name)) versions.push(p.createdOn!.getTime());
    // The premise: both versions carry the same creation second.
    expect(new Set(versions.map((ms) => Math.floor(ms / 1000))).size).toBe(1);

    const target = createKeyVaultTarget({
      targetId: 'forked',
      vaultUrl: emulator.vaultUrls[VAULT]!,
      credential: staticCredential,
      clientOptions: emulatorClientOptions(emulator),
      writeBudget: new WriteBudget({ writes: 100, perSeconds: 1 }),
    });
    const observed = await target.observe({ name }, { owner: OWNER });
    expect(observed.state === 'present' ? observed.marks?.sourceVersion : undefined).toBe(expected);
    // What the vault serves as current (read as the customer) is the same version.
    expect((await client.getSecret(name)).value).toBe(`value-of-${expected}`);
  });
});
