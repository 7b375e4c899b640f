import type { FingerprintKey } from '../domain/fingerprint.js';
import type { SourceVault } from './sourceVault.js';

/**
 * Wraps a source vault so that one host instance reads each source version's value once for a whole fan-out
 * (Microsoft's throttling guidance: read once, fan out). Values live in process memory only, for `ttlInMs`, and
 * are never persisted; a version is immutable, so a cached value cannot go stale; its `isLatest` flag can, so it is
 * re-read on every hit. Concurrent readers of the same version share one request.
 */
export function cachedSourceVault(inner: SourceVault, options: { ttlInMs: number; maxEntries?: number }): SourceVault {
  type Entry = { expiresAt: number; read: ReturnType<SourceVault['readVersion']> };
  const entries = new Map<string, Entry>();
  const maxEntries = options.maxEntries ?? 1000;

  /**
   * The value of a version never changes, but whether it is still the current version does, and the decision needs
   * that fresh (it settles same-second creation times): re-read it on every cache hit (metadata only).
   */
  async function withFreshLatest(
    read: ReturnType<SourceVault['readVersion']>,
    name: string,
    version: string,
    callOptions: Parameters<SourceVault['readVersion']>[3],
  ): ReturnType<SourceVault['readVersion']> {
    const [{ value, facts }, latest] = await Promise.all([read, inner.getLatestProperties(name, callOptions)]);
    return { value, facts: { ...facts, isLatest: latest?.version === facts.version || latest?.version === version } };
  }

  return {
    sourceId: inner.sourceId,
    vaultUrl: inner.vaultUrl,
    readVersion(name: string, version: string, key: FingerprintKey, callOptions) {
      if (options.ttlInMs <= 0) return inner.readVersion(name, version, key, callOptions);
      const cacheKey = `${name.toLowerCase()}/${version.toLowerCase()}/${key.id}`;
      const now = Date.now();
      const hit = entries.get(cacheKey);
      if (hit && hit.expiresAt > now) return withFreshLatest(hit.read, name, version, callOptions);
      const read = inner.readVersion(name, version, key, callOptions);
      entries.set(cacheKey, { expiresAt: now + options.ttlInMs, read });
      // A failed read is not cached: the next caller tries again.
      read.catch(() => entries.delete(cacheKey));
      if (entries.size > maxEntries) {
        for (const [k, entry] of entries) if (entry.expiresAt <= now || entries.size > maxEntries) entries.delete(k);
      }
      return read;
    },
    getLatestProperties: (name, callOptions) => inner.getLatestProperties(name, callOptions),
    getVersionProperties: (name, version, callOptions) => inner.getVersionProperties(name, version, callOptions),
    getProperties: (name, version, callOptions) => inner.getProperties(name, version, callOptions),
    listSecrets: (callOptions) => inner.listSecrets(callOptions),
    ...(inner.listDeletedSecrets ? { listDeletedSecrets: (callOptions?: Parameters<NonNullable<SourceVault['listDeletedSecrets']>>[0]) => inner.listDeletedSecrets!(callOptions) } : {}),
    setNewVersion: (name, value, callOptions) => inner.setNewVersion(name, value, callOptions),
  };
}
