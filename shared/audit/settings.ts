import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { fingerprintKeyFrom, type FingerprintKey } from '../domain/fingerprint.js';

/** Setting names read by {@link auditSettingsFrom}. */
export const AUDIT_SETTING_NAMES = {
  connectionString: 'AUDIT_STORAGE_CONNECTION_STRING',
  blobServiceUri: 'AUDIT_BLOB_SERVICE_URI',
  identityClientId: 'AUDIT_IDENTITY_CLIENT_ID',
  container: 'AUDIT_CONTAINER',
  shards: 'AUDIT_SHARDS',
  chainKey: 'AUDIT_CHAIN_KEY',
  chainKeyId: 'AUDIT_CHAIN_KEY_ID',
  sealContainer: 'AUDIT_SEAL_CONTAINER',
  sealIntervalSeconds: 'AUDIT_SEAL_INTERVAL_SECONDS',
} as const;

export const DEFAULT_AUDIT_CONTAINER = 'audit';
export const DEFAULT_SEAL_CONTAINER = 'audit-seals';
export const DEFAULT_CHAIN_KEY_ID = 'ck1';

/** The keyed chain and its seals, as read from settings; absent when no chain key is configured (plain chain). */
export interface AuditChainSettings {
  readonly chainKey: FingerprintKey;
  readonly sealContainer: string;
  readonly sealIntervalInMs: number;
}

/** Where the audit trail lives, as read from settings. Holds no key other than inside `connectionString`. */
export type AuditSettings =
  | { readonly mode: 'connectionString'; readonly connectionString: string; readonly container: string; readonly shards?: number }
  | { readonly mode: 'identity'; readonly blobServiceUri: string; readonly identityClientId?: string; readonly container: string; readonly shards?: number };

/** Thrown when the audit settings are missing or invalid; names settings, never their values. */
export class AuditSettingsError extends Error {
  override readonly name = 'AuditSettingsError';
}

/**
 * Reads the audit settings: `AUDIT_STORAGE_CONNECTION_STRING` (local/Azurite), or `AUDIT_BLOB_SERVICE_URI` with an
 * optional `AUDIT_IDENTITY_CLIENT_ID` (user-assigned managed identity); `AUDIT_CONTAINER` (default `audit`);
 * `AUDIT_SHARDS` (optional, 1–100). The connection string wins when both are set.
 */
export function auditSettingsFrom(env: Readonly<Record<string, string | undefined>>): AuditSettings {
  const container = env[AUDIT_SETTING_NAMES.container]?.trim() || DEFAULT_AUDIT_CONTAINER;
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
    throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.container} is not a valid container name (3-63 lowercase letters, digits, single dashes)`);
  }
  const shardsText = env[AUDIT_SETTING_NAMES.shards]?.trim();
  const shards = shardsText ? Number(shardsText) : undefined;
  if (shards !== undefined && (!Number.isInteger(shards) || shards < 1 || shards > 100)) {
    throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.shards} must be an integer 1-100`);
  }
  const extra = shards === undefined ? {} : { shards };
  const connectionString = env[AUDIT_SETTING_NAMES.connectionString]?.trim();
  if (connectionString) return { mode: 'connectionString', connectionString, container, ...extra };
  const blobServiceUri = env[AUDIT_SETTING_NAMES.blobServiceUri]?.trim();
  if (!blobServiceUri) {
    throw new AuditSettingsError(
      `set ${AUDIT_SETTING_NAMES.connectionString}, or ${AUDIT_SETTING_NAMES.blobServiceUri} (with ${AUDIT_SETTING_NAMES.identityClientId} for a user-assigned identity)`,
    );
  }
  try {
    const url = new URL(blobServiceUri);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
  } catch {
    throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.blobServiceUri} is not an http(s) URL`);
  }
  const identityClientId = env[AUDIT_SETTING_NAMES.identityClientId]?.trim() || undefined;
  return { mode: 'identity', blobServiceUri, container, ...(identityClientId ? { identityClientId } : {}), ...extra };
}

const CONTAINER_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * Reads the keyed-chain settings: `AUDIT_CHAIN_KEY` (base64 of at least 32 random bytes; in Azure a Key Vault
 * reference to the relay vault), `AUDIT_CHAIN_KEY_ID` (default `ck1`, recorded in every line's `chain`),
 * `AUDIT_SEAL_CONTAINER` (default `audit-seals`, must differ from the audit container) and
 * `AUDIT_SEAL_INTERVAL_SECONDS` (default 60, 1-3600). Undefined when no chain key is set. Errors name settings,
 * never values.
 */
export function auditChainSettingsFrom(env: Readonly<Record<string, string | undefined>>): AuditChainSettings | undefined {
  const encoded = env[AUDIT_SETTING_NAMES.chainKey]?.trim();
  if (!encoded) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.byteLength < 32) throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.chainKey} must be base64 of at least 32 bytes`);
  const keyId = env[AUDIT_SETTING_NAMES.chainKeyId]?.trim() || DEFAULT_CHAIN_KEY_ID;
  if (!/^[A-Za-z0-9-]{1,32}$/.test(keyId)) throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.chainKeyId} must be 1-32 letters, digits or dashes`);
  const sealContainer = env[AUDIT_SETTING_NAMES.sealContainer]?.trim() || DEFAULT_SEAL_CONTAINER;
  if (!CONTAINER_NAME.test(sealContainer)) {
    throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.sealContainer} is not a valid container name (3-63 lowercase letters, digits, single dashes)`);
  }
  const auditContainer = env[AUDIT_SETTING_NAMES.container]?.trim() || DEFAULT_AUDIT_CONTAINER;
  if (sealContainer === auditContainer) {
    throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.sealContainer} must name a container other than ${AUDIT_SETTING_NAMES.container}: seals anchor the audit outside it`);
  }
  const intervalText = env[AUDIT_SETTING_NAMES.sealIntervalSeconds]?.trim();
  const interval = intervalText ? Number(intervalText) : 60;
  if (!Number.isInteger(interval) || interval < 1 || interval > 3600) {
    throw new AuditSettingsError(`${AUDIT_SETTING_NAMES.sealIntervalSeconds} must be an integer 1-3600`);
  }
  return { chainKey: fingerprintKeyFrom(keyId, bytes), sealContainer, sealIntervalInMs: interval * 1000 };
}

/**
 * Builds the audit ContainerClient from settings: a connection string locally, otherwise the blob service URI with
 * a managed identity (`ManagedIdentityCredential` with `AUDIT_IDENTITY_CLIENT_ID`) or `DefaultAzureCredential`.
 * Makes no request. The identity needs `Storage Blob Data Contributor` on the container to write, `Reader` to verify.
 */
export function auditContainerFromSettings(
  env: Readonly<Record<string, string | undefined>>,
  options: { credential?: TokenCredential } = {},
): ContainerClient {
  const settings = auditSettingsFrom(env);
  if (settings.mode === 'connectionString') {
    return BlobServiceClient.fromConnectionString(settings.connectionString).getContainerClient(settings.container);
  }
  const credential =
    options.credential ??
    (settings.identityClientId
      ? new ManagedIdentityCredential({ clientId: settings.identityClientId })
      : new DefaultAzureCredential());
  return new BlobServiceClient(settings.blobServiceUri, credential).getContainerClient(settings.container);
}
