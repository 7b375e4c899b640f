import { randomBytes } from 'node:crypto';

/** Function keys, as the Functions host keeps them (values are local test keys, not product secrets). */
export interface HostKeys {
  /** Accepted for `function`-level HTTP functions (name → value). */
  functionKeys: Record<string, string>;
  /** The master (`_master`) key: accepted everywhere, required for `admin` level. */
  masterKey: string;
  /** The `durabletask_extension` system key for `/runtime/webhooks/durabletask`. */
  durableTaskKey: string;
  /** The `eventgrid_extension` system key; when absent the Event Grid webhook accepts requests without a key. */
  eventGridKey: string | undefined;
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

function generateKey(): string {
  return randomBytes(30).toString('base64url');
}

/** Resolves the host keys: explicit option, then setting, then a freshly generated value (Event Grid key excepted). */
export function resolveKeys(options: HostKeysOptions | undefined, settings: Record<string, string | undefined>): HostKeys & { generated: string[] } {
  const generated: string[] = [];
  const pick = (name: keyof typeof KEY_SETTINGS): string => {
    const value = options?.[name] ?? settings[KEY_SETTINGS[name]];
    if (value) return value;
    generated.push(name);
    return generateKey();
  };
  return {
    functionKeys: { default: pick('functionKey') },
    masterKey: pick('masterKey'),
    durableTaskKey: pick('durableTaskKey'),
    eventGridKey: options?.eventGridKey ?? settings[KEY_SETTINGS.eventGridKey],
    generated,
  };
}

/** The key a request presents: `code` query parameter, else `x-functions-key` header. */
export function presentedKey(url: URL, headers: Record<string, string | string[] | undefined>): string | undefined {
  const fromQuery = url.searchParams.get('code');
  if (fromQuery) return fromQuery;
  const header = headers['x-functions-key'];
  return Array.isArray(header) ? header[0] : header;
}

/** Whether a presented key satisfies an HTTP function's `authLevel` (`anonymous`, `function`, `admin`). */
export function isAuthorized(authLevel: string, key: string | undefined, keys: HostKeys): boolean {
  const level = authLevel.toLowerCase();
  if (level === 'anonymous') return true;
  if (key === undefined) return false;
  if (key === keys.masterKey) return true;
  if (level === 'admin') return false;
  return Object.values(keys.functionKeys).includes(key);
}
