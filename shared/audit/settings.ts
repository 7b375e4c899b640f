import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

/** Setting names read by {@link auditSettingsFrom}. */
export const AUDIT_SETTING_NAMES = {
  connectionString: 'AUDIT_STORAGE_CONNECTION_STRING',
  blobServiceUri: 'AUDIT_BLOB_SERVICE_URI',
  identityClientId: 'AUDIT_IDENTITY_CLIENT_ID',
  container: 'AUDIT_CONTAINER',
  shards: 'AUDIT_SHARDS',
} as const;

export const DEFAULT_AUDIT_CONTAINER = 'audit';

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
