/**
 * Key Vault events, as Event Grid delivers them: in the Event Grid schema or as CloudEvents 1.0. This is the one place
 * the wire shape (PascalCase `data`, sometimes camelCase, keys with stray spaces, NBF/EXP as number, string or null)
 * becomes the relay's own {@link KeyVaultEvent}. Pure: no I/O, no SDK.
 */

export const KEY_VAULT_EVENT_TYPES = [
  'SecretNewVersionCreated',
  'SecretNearExpiry',
  'SecretExpired',
  'KeyNewVersionCreated',
  'KeyNearExpiry',
  'KeyExpired',
  'CertificateNewVersionCreated',
  'CertificateNearExpiry',
  'CertificateExpired',
] as const;
/** Key Vault event types about one object version (the prefix `Microsoft.KeyVault.` removed). */
export type KeyVaultEventType = (typeof KEY_VAULT_EVENT_TYPES)[number];

/** Key Vault event types without an object (recognized, then rejected as unsupported). */
const VAULT_LEVEL_TYPES = ['VaultAccessPolicyChanged'];

const TYPE_PREFIX = 'Microsoft.KeyVault.';

export interface KeyVaultEvent {
  /** Event id (Event Grid `id`): the dedup key of a delivery. */
  readonly id: string;
  readonly type: KeyVaultEventType;
  readonly schema: 'eventGrid' | 'cloudEvents';
  readonly objectType: 'Secret' | 'Key' | 'Certificate';
  /** Vault name (first DNS label of the vault host), as the event states it. */
  readonly vaultName: string;
  /** The object version URL (`data.Id`): `https://{vault}.vault.azure.net/secrets/{name}/{version}`. */
  readonly secretId: string;
  /** The vault origin taken from `secretId`, e.g. `https://platform.vault.azure.net`. */
  readonly vaultUrl: string;
  readonly objectName: string;
  /** 32 hex characters. */
  readonly version: string;
  /** Unix seconds. */
  readonly notBefore?: number;
  /** Unix seconds. */
  readonly expiresOn?: number;
  /** As sent (ISO 8601). */
  readonly eventTime: string;
}

export const EVENT_REJECT_REASONS = [
  'NotAnObject',
  'MissingId',
  'BadId',
  'MissingType',
  'NotKeyVaultEvent',
  'UnsupportedEventType',
  'MissingData',
  'ObjectTypeMismatch',
  'MissingVault',
  'VaultMismatch',
  'BadObjectId',
  'MissingObjectName',
  'BadObjectName',
  'ObjectMismatch',
  'BadVersion',
  'BadTimestamp',
  'BadEventTime',
] as const;
export type EventRejectReason = (typeof EVENT_REJECT_REASONS)[number];

export type ParseEventResult =
  | { readonly ok: true; readonly event: KeyVaultEvent }
  | { readonly ok: false; readonly reason: EventRejectReason; readonly detail: string };

const VERSION = /^[0-9a-f]{32}$/i;
/** Key Vault object names: 1-127 ASCII letters, digits and dashes. */
const OBJECT_NAME = /^[0-9A-Za-z-]{1,127}$/;
/**
 * Event ids the audit accepts as `cause.eventId` (shared/audit/schema.ts: 1-256 printable ASCII, no spaces): an event
 * whose id could not be audited is refused before anything is written.
 */
export const AUDITABLE_EVENT_ID = /^[\x21-\x7e]{1,256}$/;
const OBJECT_PATH = /^\/(secrets|keys|certificates)\/([^/]+)\/([^/]+)\/?$/i;
const RESOURCE_VAULT = /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)/i;
const OBJECT_TYPES = { secrets: 'Secret', keys: 'Key', certificates: 'Certificate' } as const;

const reject = (reason: EventRejectReason, detail: string): ParseEventResult => ({ ok: false, reason, detail });

/**
 * Parses one Key Vault event, in the Event Grid schema (`eventType`, `topic`, `eventTime`) or CloudEvents 1.0
 * (`specversion`, `type`, `source`, `time`). `data` keys are read case-insensitively and trimmed. Anything else is
 * rejected with a constant reason; the detail never contains more than names, versions and ids.
 */
export function parseKeyVaultEvent(input: unknown): ParseEventResult {
  if (!isRecord(input)) return reject('NotAnObject', 'an event must be a JSON object');
  const envelope = lookup(input);
  const schema = envelope('specversion') !== undefined ? 'cloudEvents' : 'eventGrid';
  const id = envelope('id');
  if (typeof id !== 'string' || id.trim() === '') return reject('MissingId', 'the event has no id');
  if (!AUDITABLE_EVENT_ID.test(id)) return reject('BadId', 'the event id must be 1-256 printable ASCII characters without spaces');
  const fullType = schema === 'cloudEvents' ? envelope('type') : envelope('eventType');
  if (typeof fullType !== 'string' || fullType === '') return reject('MissingType', `the event has no ${schema === 'cloudEvents' ? 'type' : 'eventType'}`);
  if (!fullType.startsWith(TYPE_PREFIX)) return reject('NotKeyVaultEvent', `event type "${fullType}" is not a Key Vault event`);
  const shortType = fullType.slice(TYPE_PREFIX.length);
  if (!(KEY_VAULT_EVENT_TYPES as readonly string[]).includes(shortType)) {
    const known = VAULT_LEVEL_TYPES.includes(shortType) ? 'is not about a secret' : 'is not a known Key Vault event type';
    return reject('UnsupportedEventType', `event type "${fullType}" ${known}`);
  }
  const type = shortType as KeyVaultEventType;
  const rawData = envelope('data');
  if (!isRecord(rawData)) return reject('MissingData', 'the event has no data object');
  const data = lookup(rawData);

  const expectedObjectType = type.startsWith('Secret') ? 'Secret' : type.startsWith('Key') ? 'Key' : 'Certificate';
  const objectType = data('ObjectType');
  if (objectType !== undefined && (typeof objectType !== 'string' || objectType.trim().toLowerCase() !== expectedObjectType.toLowerCase())) {
    return reject('ObjectTypeMismatch', `a ${type} event must have ObjectType "${expectedObjectType}"`);
  }

  const objectUrl = data('Id');
  if (typeof objectUrl !== 'string') return reject('BadObjectId', 'data.Id (the object version URL) is missing');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(objectUrl.trim());
  } catch {
    return reject('BadObjectId', 'data.Id is not a URL');
  }
  const pathMatch = OBJECT_PATH.exec(parsedUrl.pathname);
  if (!['https:', 'http:'].includes(parsedUrl.protocol) || !pathMatch) {
    return reject('BadObjectId', 'data.Id must look like https://{vault}.vault.azure.net/secrets/{name}/{version}');
  }
  const [, collection = '', idName = '', idVersion = ''] = pathMatch;
  if (OBJECT_TYPES[collection.toLowerCase() as keyof typeof OBJECT_TYPES] !== expectedObjectType) {
    return reject('ObjectTypeMismatch', `data.Id points at /${collection}/, not at a ${expectedObjectType.toLowerCase()}`);
  }

  const vault = vaultNameOf(data('VaultName'), schema === 'cloudEvents' ? envelope('source') : envelope('topic'), parsedUrl);
  if (!vault.ok) return vault.result;

  const nameInId = safeDecode(idName);
  if (nameInId === undefined) return reject('BadObjectId', 'data.Id has a malformed percent-encoding');
  const objectName = stringOr(data('ObjectName')) ?? stringOr(envelope('subject')) ?? nameInId;
  if (!objectName) return reject('MissingObjectName', 'the event names no object');
  if (!OBJECT_NAME.test(objectName)) {
    return reject('BadObjectName', `ObjectName must be 1-127 ASCII letters, digits or dashes (Key Vault's rule); got ${objectName.length} character(s)`);
  }
  if (objectName.toLowerCase() !== nameInId.toLowerCase()) {
    return reject('ObjectMismatch', `ObjectName "${objectName}" differs from the name in data.Id`);
  }
  const version = stringOr(data('Version')) ?? idVersion;
  if (!VERSION.test(version)) return reject('BadVersion', 'Version must be 32 hexadecimal characters');
  if (version.toLowerCase() !== idVersion.toLowerCase()) return reject('ObjectMismatch', 'Version differs from the version in data.Id');

  const notBefore = unixSeconds(data('NBF'));
  const expiresOn = unixSeconds(data('EXP'));
  if (notBefore === false) return reject('BadTimestamp', 'NBF must be a number, a numeric string or null');
  if (expiresOn === false) return reject('BadTimestamp', 'EXP must be a number, a numeric string or null');

  const eventTime = schema === 'cloudEvents' ? envelope('time') : envelope('eventTime');
  if (typeof eventTime !== 'string' || Number.isNaN(Date.parse(eventTime))) {
    return reject('BadEventTime', `${schema === 'cloudEvents' ? 'time' : 'eventTime'} must be an ISO 8601 date-time`);
  }

  return {
    ok: true,
    event: {
      id,
      type,
      schema,
      objectType: expectedObjectType,
      vaultName: vault.name,
      secretId: parsedUrl.href,
      vaultUrl: parsedUrl.origin,
      objectName,
      version: version.toLowerCase(),
      ...(notBefore !== undefined ? { notBefore } : {}),
      ...(expiresOn !== undefined ? { expiresOn } : {}),
      eventTime,
    },
  };
}

/** Parses a delivery body: an array of events (Event Grid and CloudEvents batches) or a single event. */
export function parseKeyVaultEvents(input: unknown): ParseEventResult[] {
  return Array.isArray(input) ? input.map(parseKeyVaultEvent) : [parseKeyVaultEvent(input)];
}

function vaultNameOf(
  fromData: unknown,
  resourceId: unknown,
  objectUrl: URL,
): { ok: true; name: string } | { ok: false; result: ParseEventResult } {
  const dataName = stringOr(fromData);
  const resourceName = typeof resourceId === 'string' ? RESOURCE_VAULT.exec(resourceId)?.[1] : undefined;
  if (dataName && resourceName && dataName.toLowerCase() !== resourceName.toLowerCase()) {
    return { ok: false, result: reject('VaultMismatch', `VaultName "${dataName}" differs from the vault "${resourceName}" of the event source`) };
  }
  const urlName = objectUrl.hostname.split('.')[0];
  const name = dataName ?? resourceName ?? (objectUrl.hostname.includes('.') && !/^\d+$/.test(urlName ?? '') ? urlName : undefined);
  if (!name) return { ok: false, result: reject('MissingVault', 'the event names no vault (VaultName, topic/source or data.Id)') };
  return { ok: true, name };
}

/** Unix seconds from a number, a numeric string, or null/absent (undefined); false when it is none of those. */
function unixSeconds(value: unknown): number | undefined | false {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : false;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return undefined;
    return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : false;
  }
  return false;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Case-insensitive, whitespace-trimmed key lookup; an exact key wins over a loose one. */
function lookup(record: Record<string, unknown>): (key: string) => unknown {
  const loose = new Map<string, unknown>();
  for (const [key, value] of Object.entries(record)) {
    const normal = key.trim().toLowerCase();
    if (!loose.has(normal) || key === key.trim()) loose.set(normal, value);
  }
  return (key) => (Object.hasOwn(record, key) ? record[key] : loose.get(key.toLowerCase()));
}
