import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Keys as the Functions host keeps them (values are local keys of this host, not product secrets). */
export interface HostKeys {
  /** Accepted for `function`-level HTTP functions (name → value). */
  functionKeys: Record<string, string>;
  /** The master (`_master`) key: accepted everywhere, required for `admin` level. */
  masterKey: string;
  /** The `durabletask_extension` system key: required (or the master key) by `/runtime/webhooks/durabletask/*`. */
  durableTaskKey: string;
  /** The `eventgrid_extension` system key: required (or the master key) by `/runtime/webhooks/eventgrid`. */
  eventGridKey: string;
  /**
   * Path token of the local durable RPC endpoint (`/durabletask/<token>/`). In Azure that endpoint (the extension's
   * LocalHttpListener) listens on a loopback port of the instance that no one outside reaches; here it shares the
   * host's port, so only a caller given `rpcBaseUrl` (the app's durable client) reaches it.
   */
  rpcToken: string;
}

/** Keys passed to `startHost`; missing ones come from settings, else are generated. */
export interface HostKeysOptions {
  functionKey?: string;
  masterKey?: string;
  durableTaskKey?: string;
  eventGridKey?: string;
}

/** Settings the host reads its keys from. */
export const KEY_SETTINGS = {
  functionKey: 'LOCAL_HOST_FUNCTION_KEY',
  masterKey: 'LOCAL_HOST_MASTER_KEY',
  durableTaskKey: 'LOCAL_HOST_DURABLETASK_KEY',
  eventGridKey: 'LOCAL_HOST_EVENTGRID_KEY',
} as const;

/** Shortest key the host accepts from options or settings. */
export const MIN_KEY_LENGTH = 16;

function generateKey(): string {
  return randomBytes(30).toString('base64url');
}

/** Resolves the host keys: explicit option, then setting, then a freshly generated value. */
export function resolveKeys(options: HostKeysOptions | undefined, settings: Record<string, string | undefined>): HostKeys & { generated: string[] } {
  const generated: string[] = [];
  const pick = (name: keyof typeof KEY_SETTINGS): string => {
    const value = options?.[name] ?? settings[KEY_SETTINGS[name]];
    if (value) {
      // A short key is guessable, and the log redaction skips short strings (they would blank ordinary words).
      if (value.length < MIN_KEY_LENGTH) {
        throw new Error(`${KEY_SETTINGS[name]} (${name}) is ${value.length} characters long; a host key needs at least ${MIN_KEY_LENGTH}`);
      }
      return value;
    }
    generated.push(name);
    return generateKey();
  };
  return {
    functionKeys: { default: pick('functionKey') },
    masterKey: pick('masterKey'),
    durableTaskKey: pick('durableTaskKey'),
    eventGridKey: pick('eventGridKey'),
    rpcToken: generateKey(),
    generated,
  };
}

/** Every key value of the host (to redact them from logs). */
export function keyValues(keys: HostKeys): string[] {
  return [...Object.values(keys.functionKeys), keys.masterKey, keys.durableTaskKey, keys.eventGridKey, keys.rpcToken];
}

/** The key a request presents: `code` query parameter, else `x-functions-key` header. */
export function presentedKey(url: URL, headers: Record<string, string | string[] | undefined>): string | undefined {
  const fromQuery = url.searchParams.get('code');
  if (fromQuery) return fromQuery;
  const header = headers['x-functions-key'];
  return Array.isArray(header) ? header[0] : header;
}

/** Constant-time comparison of a presented key with a known one. */
export function sameKey(presented: string | undefined, known: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(known);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a presented key satisfies an HTTP function's `authLevel` (`anonymous`, `function`, `admin`). */
export function isAuthorized(authLevel: string, key: string | undefined, keys: HostKeys): boolean {
  const level = authLevel.toLowerCase();
  if (level === 'anonymous') return true;
  if (sameKey(key, keys.masterKey)) return true;
  if (level === 'admin') return false;
  return Object.values(keys.functionKeys).some((candidate) => sameKey(key, candidate));
}

/** Whether a presented key is the given system key or the master key (what a system webhook accepts). */
export function isSystemKey(key: string | undefined, systemKey: string, keys: HostKeys): boolean {
  return sameKey(key, systemKey) || sameKey(key, keys.masterKey);
}
