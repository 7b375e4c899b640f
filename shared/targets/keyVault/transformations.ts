import type { DeletedSecret, SecretProperties } from '@azure/keyvault-secrets';
import type { OwnershipMarks } from '../../domain/decision.js';

/**
 * The one place where Key Vault wire models (SDK `SecretProperties`, `DeletedSecret`, tag maps) become the relay's
 * own shapes and back. Times are unix seconds everywhere inside the relay.
 */

/** Tag names of the ownership marks on a Key Vault secret. */
export const TAG_MANAGED_BY = 'managed-by';
export const MANAGED_BY_RELAY = 'secret-relay';
export const TAG_SOURCE = 'relay-source';
export const TAG_SOURCE_VERSION = 'relay-source-version';
export const TAG_SOURCE_CREATED = 'relay-source-created';
export const TAG_FINGERPRINT = 'relay-fingerprint';
/**
 * Written only when the relay writes over a foreign current version (adoption, repair): that version's id. Creation
 * times have 1-second resolution, so this is how a reader tells that the relay's version came after the foreign one
 * when both were created in the same second.
 */
export const TAG_REPLACES = 'relay-replaces';

/** Metadata of one secret version, without its value. */
export interface SecretVersionInfo {
  readonly name: string;
  readonly version: string;
  /** Unix seconds; 0 when the service did not say. */
  readonly createdOn: number;
  readonly enabled: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly contentType?: string;
  /** Unix seconds. */
  readonly expiresOn?: number;
  /** Unix seconds. */
  readonly notBefore?: number;
}

/** Metadata of a soft-deleted secret (its latest version at deletion). */
export interface DeletedSecretInfo {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Unix seconds. */
  readonly deletedOn?: number;
  /** Unix seconds. */
  readonly scheduledPurgeOn?: number;
}

export function unixSecondsFrom(date: Date | undefined): number | undefined {
  if (date === undefined) return undefined;
  const ms = date.getTime();
  return Number.isNaN(ms) || ms <= 0 ? undefined : Math.floor(ms / 1_000);
}

export function dateFromUnixSeconds(seconds: number | undefined): Date | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1_000);
}

export function versionInfoFrom(properties: SecretProperties): SecretVersionInfo {
  return {
    name: properties.name,
    version: properties.version ?? '',
    createdOn: unixSecondsFrom(properties.createdOn) ?? 0,
    enabled: properties.enabled !== false,
    tags: { ...(properties.tags ?? {}) },
    ...optional('contentType', properties.contentType),
    ...optional('expiresOn', unixSecondsFrom(properties.expiresOn)),
    ...optional('notBefore', unixSecondsFrom(properties.notBefore)),
  };
}

export function deletedInfoFrom(deleted: DeletedSecret): DeletedSecretInfo {
  return {
    name: deleted.name,
    tags: { ...(deleted.properties.tags ?? {}) },
    ...optional('deletedOn', unixSecondsFrom(deleted.properties.deletedOn)),
    ...optional('scheduledPurgeOn', unixSecondsFrom(deleted.properties.scheduledPurgeDate)),
  };
}

/**
 * Reads ownership marks from tags. Undefined unless `managed-by=secret-relay` and the source and source version are
 * present. The owner is lower-cased (Key Vault names are case-insensitive; `ownerOf` lower-cases too).
 */
export function marksFromTags(tags: Readonly<Record<string, string>> | undefined): OwnershipMarks | undefined {
  if (!tags || tags[TAG_MANAGED_BY] !== MANAGED_BY_RELAY) return undefined;
  const source = tags[TAG_SOURCE];
  const sourceVersion = tags[TAG_SOURCE_VERSION];
  if (!source || !sourceVersion) return undefined;
  const created = Number(tags[TAG_SOURCE_CREATED]);
  return {
    source: source.toLowerCase(),
    sourceVersion,
    ...optional('sourceCreatedOn', Number.isInteger(created) && created > 0 ? created : undefined),
    ...optional('fingerprint', tags[TAG_FINGERPRINT]),
  };
}

/** The tags the relay writes on every version it delivers. */
export function tagsFromMarks(marks: OwnershipMarks): Record<string, string> {
  return {
    [TAG_MANAGED_BY]: MANAGED_BY_RELAY,
    [TAG_SOURCE]: marks.source,
    [TAG_SOURCE_VERSION]: marks.sourceVersion,
    ...(marks.sourceCreatedOn !== undefined ? { [TAG_SOURCE_CREATED]: String(marks.sourceCreatedOn) } : {}),
    ...(marks.fingerprint !== undefined ? { [TAG_FINGERPRINT]: marks.fingerprint } : {}),
  };
}

/**
 * The current version among a secret's versions: the newest by creation time. Key Vault times have 1-second
 * resolution, so two versions created in the same second tie. A version whose `relay-replaces` names the other tied
 * version is the newer; otherwise the tie goes to the version without relay marks (an overwrite behind the
 * relay's back is then repaired, at worst with one extra write), then to the newest recorded source version. That
 * last rule is a guess: when tied heads hold different source versions (`ambiguousHeads`) the Key Vault target asks
 * the vault instead. Undefined for an empty list.
 */
export function latestVersionOf(versions: readonly SecretVersionInfo[]): SecretVersionInfo | undefined {
  const newest = Math.max(...versions.map((v) => v.createdOn));
  const tied = versions.filter((v) => v.createdOn === newest);
  // Within a same-second tie, a version another tied version replaced is not the current one (a chain of writes).
  const replaced = new Set(tied.map((v) => v.tags[TAG_REPLACES]).filter((id): id is string => !!id));
  const heads = tied.filter((v) => !replaced.has(v.version));
  let best: SecretVersionInfo | undefined;
  for (const candidate of heads.length > 0 ? heads : tied) {
    if (!best || compareForLatest(candidate, best) > 0) best = candidate;
  }
  return best;
}

/**
 * The same-second heads that carry relay marks of *different* source versions (two writers raced, each replacing the
 * same version): the version list cannot tell which the vault serves as current, only the vault can. Empty when
 * `latestVersionOf` is unambiguous.
 */
export function ambiguousHeads(versions: readonly SecretVersionInfo[]): SecretVersionInfo[] {
  if (versions.length < 2) return [];
  const newest = Math.max(...versions.map((v) => v.createdOn));
  const tied = versions.filter((v) => v.createdOn === newest);
  const replaced = new Set(tied.map((v) => v.tags[TAG_REPLACES]).filter((id): id is string => !!id));
  const heads = tied.filter((v) => !replaced.has(v.version));
  if (heads.length < 2 || heads.some((v) => !marksFromTags(v.tags))) return [];
  const sourceVersions = new Set(heads.map((v) => marksFromTags(v.tags)?.sourceVersion));
  return sourceVersions.size > 1 ? heads : [];
}

/** Among ambiguous heads, the one holding the oldest source version: what to assume when the vault cannot say. */
export function oldestSourceAmong(heads: readonly SecretVersionInfo[]): SecretVersionInfo | undefined {
  let best: SecretVersionInfo | undefined;
  for (const head of heads) {
    const created = marksFromTags(head.tags)?.sourceCreatedOn ?? 0;
    if (!best || created < (marksFromTags(best.tags)?.sourceCreatedOn ?? 0)) best = head;
  }
  return best;
}

/** True when two tag maps are equal (the vault's secret list carries the current version's tags, not its id). */
export function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function compareForLatest(a: SecretVersionInfo, b: SecretVersionInfo): number {
  if (a.createdOn !== b.createdOn) return a.createdOn - b.createdOn;
  const marksA = marksFromTags(a.tags);
  const marksB = marksFromTags(b.tags);
  if (b.version && a.tags[TAG_REPLACES] === b.version) return 1;
  if (a.version && b.tags[TAG_REPLACES] === a.version) return -1;
  if (!marksA !== !marksB) return marksA ? -1 : 1;
  return (marksA?.sourceCreatedOn ?? 0) - (marksB?.sourceCreatedOn ?? 0);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
