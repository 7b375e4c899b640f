import { describe, expect, it } from 'vitest';
import { fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import { cachedSourceVault } from '../../../shared/sources/cachedSourceVault.js';
import type { SourceVault } from '../../../shared/sources/index.js';

const key = fingerprintKeyFrom('k1', 'k'.repeat(32));

/** A source vault double that counts value reads and lets the test move the current version. */
function fakeSource() {
  const state = { latest: 'v1', reads: 0, latestChecks: 0, fail: false };
  const vault = {
    sourceId: 'platform',
    vaultUrl: 'https://platform.vault.azure.net',
    async readVersion(_name: string, version: string) {
      state.reads++;
      if (state.fail) throw new Error('unavailable');
      return {
        value: `value-of-${version}`,
        facts: { owner: 'platform.vault.azure.net/db', version, createdOn: 1, fingerprint: 'fp', isLatest: state.latest === version },
      };
    },
    async readValue(_name: string, version: string) {
      state.reads++;
      if (state.fail) throw new Error('unavailable');
      return { value: `value-of-${version}` };
    },
    async isLatest(_name: string, version: string) {
      state.latestChecks++;
      return state.latest === version;
    },
    async getLatestProperties() {
      state.latestChecks++;
      return { version: state.latest, createdOn: 1, enabled: true, tags: {} };
    },
  } as unknown as SourceVault;
  return { state, vault };
}

describe('cachedSourceVault', () => {
  it('reads a version value once for many deliveries', async () => {
    const { state, vault } = fakeSource();
    const cached = cachedSourceVault(vault, { ttlInMs: 60_000 });
    const reads = await Promise.all(Array.from({ length: 10 }, () => cached.readVersion('db', 'v1', key)));
    expect(new Set(reads.map((r) => r.value))).toEqual(new Set(['value-of-v1']));
    expect(state.reads).toBe(1);
  });

  it('a hit makes no call; whether the version is still current is asked only through isLatest, never cached', async () => {
    const { state, vault } = fakeSource();
    const cached = cachedSourceVault(vault, { ttlInMs: 60_000 });
    expect((await cached.readVersion('db', 'v1', key)).facts.isLatest).toBe(true);
    state.latest = 'v2';
    await cached.readVersion('db', 'v1', key);
    expect({ reads: state.reads, latestChecks: state.latestChecks }).toEqual({ reads: 1, latestChecks: 0 });
    expect(await cached.isLatest('db', 'v1')).toBe(false);
    expect(await cached.isLatest('db', 'v1')).toBe(false);
    expect(state.latestChecks).toBe(2);
  });

  it('the plan’s read serves the deliveries’ value reads in the same process', async () => {
    const { state, vault } = fakeSource();
    const cached = cachedSourceVault(vault, { ttlInMs: 60_000 });
    await cached.readVersion('db', 'v1', key);
    const values = await Promise.all(Array.from({ length: 5 }, () => cached.readValue('db', 'v1')));
    expect(new Set(values.map((v) => v.value))).toEqual(new Set(['value-of-v1']));
    expect(state.reads).toBe(1);
    // Without a plan read here (another process planned), the deliveries share one value read.
    await Promise.all(Array.from({ length: 5 }, () => cached.readValue('db', 'v2')));
    expect(state.reads).toBe(2);
  });

  it('does not keep a failed read', async () => {
    const { state, vault } = fakeSource();
    const cached = cachedSourceVault(vault, { ttlInMs: 60_000 });
    state.fail = true;
    await expect(cached.readVersion('db', 'v1', key)).rejects.toThrow('unavailable');
    state.fail = false;
    expect((await cached.readVersion('db', 'v1', key)).value).toBe('value-of-v1');
    expect(state.reads).toBe(2);
  });

  it('does not cache with a zero TTL', async () => {
    const { state, vault } = fakeSource();
    const cached = cachedSourceVault(vault, { ttlInMs: 0 });
    await cached.readVersion('db', 'v1', key);
    await cached.readVersion('db', 'v1', key);
    expect(state.reads).toBe(2);
  });
});
