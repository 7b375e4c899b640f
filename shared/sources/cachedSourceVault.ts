import type { FingerprintKey } from '../domain/fingerprint.js';
import type { SourceVault } from './sourceVault.js';

/**
 * Wraps a source vault so that one host instance reads each source version's value once for a whole fan-out
 * (Microsoft's throttling guidance: read once, fan out). Values live in process memory only, for `ttlInMs`, and
 * are never persisted; a version is immutable, so a cached value cannot go stale. A hit makes no call: whether the
 * version is still the current one (`isLatest`) can change, but it matters only when a delivery meets a target that
 * holds another version created in the same second, and the delivery then asks `isLatest` itself (never cached).
 * Concurrent readers of the same version share one request; `readVersion` (the plan) and `readValue` (the
 * deliveries) share the cache, so deliveries that run where the plan ran read nothing.
 */
export function cachedSourceVault(inner: SourceVault, options: { ttlInMs: number; maxEntries?: number }): SourceVault {
  type Read = ReturnType<SourceVault['readVersion']>;
  const versions = new Map<string, { expiresAt: number; read: Read }>();
  const values = new Map<string, { expiresAt: number; read: Promise<{ value: string }> }>();
  const maxEntries = options.maxEntries ?? 1000;

  function remember<T>(entries: Map<string, { expiresAt: number; read: Promise<T> }>, cacheKey: string, read: Promise<T>): Promise<T> {
    const now = Date.now();
    entries.set(cacheKey, { expiresAt: now + options.ttlInMs, read });
    // A failed read is not cached: the next caller tries again.
    read.catch(() => {
      if (entries.get(cacheKey)?.read === read) entries.delete(cacheKey);
    });
    if (entries.size > maxEntries) {
      for (const [k, entry] of entries) if (entry.expiresAt <= now || entries.size > maxEntries) entries.delete(k);
    }
    return read;
  }

  const fresh = <T>(entries: Map<string, { expiresAt: number; read: Promise<T> }>, cacheKey: string): Promise<T> | undefined => {
    const hit = entries.get(cacheKey);
    return hit && hit.expiresAt > Date.now() ? hit.read : undefined;
  };
  const valueKey = (name: string, version: string) => `${name.toLowerCase()}/${version.toLowerCase()}`;

  return {
    sourceId: inner.sourceId,
    vaultUrl: inner.vaultUrl,
    readVersion(name: string, version: string, key: FingerprintKey, callOptions) {
      if (options.ttlInMs <= 0) return inner.readVersion(name, version, key, callOptions);
      const cacheKey = `${valueKey(name, version)}/${key.id}`;
      const hit = fresh(versions, cacheKey);
      if (hit) return hit;
      const read = remember(versions, cacheKey, inner.readVersion(name, version, key, callOptions));
      // The deliveries of this fan-out need only the value: seed it (a version's value never changes).
      if (!fresh(values, valueKey(name, version))) remember(values, valueKey(name, version), read.then(({ value }) => ({ value })));
      return read;
    },
    readValue(name, version, callOptions) {
      if (options.ttlInMs <= 0) return inner.readValue(name, version, callOptions);
      return fresh(values, valueKey(name, version)) ?? remember(values, valueKey(name, version), inner.readValue(name, version, callOptions));
    },
    readCurrentValue: (name, callOptions) => inner.readCurrentValue(name, callOptions),
    isLatest: (name, version, callOptions) => inner.isLatest(name, version, callOptions),
    getLatestProperties: (name, callOptions) => inner.getLatestProperties(name, callOptions),
    getVersionProperties: (name, version, callOptions) => inner.getVersionProperties(name, version, callOptions),
    getProperties: (name, version, callOptions) => inner.getProperties(name, version, callOptions),
    listSecrets: (callOptions) => inner.listSecrets(callOptions),
    ...(inner.listDeletedSecrets ? { listDeletedSecrets: (callOptions?: Parameters<NonNullable<SourceVault['listDeletedSecrets']>>[0]) => inner.listDeletedSecrets!(callOptions) } : {}),
    setNewVersion: (name, value, callOptions) => inner.setNewVersion(name, value, callOptions),
  };
}
