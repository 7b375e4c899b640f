import type {
  BeginDeleteSecretOptions,
  BeginRecoverDeletedSecretOptions,
  DeletedSecret,
  GetDeletedSecretOptions,
  GetSecretOptions,
  KeyVaultSecret,
  ListDeletedSecretsOptions,
  ListPropertiesOfSecretsOptions,
  ListPropertiesOfSecretVersionsOptions,
  SecretProperties,
  SetSecretOptions,
} from '@azure/keyvault-secrets';

/**
 * The part of `SecretClient` the relay uses, owned by the relay (a real `SecretClient` satisfies it structurally).
 * Keeping it narrow documents the permissions the relay needs and keeps the SDK's wire models at the edge: only
 * `transformations.ts` reads the shapes these calls return.
 */
export interface KeyVaultSecretsApi {
  /** Metadata of every version, no values. Permission: secrets/readMetadata (access policy: list). */
  listPropertiesOfSecretVersions(name: string, options?: ListPropertiesOfSecretVersionsOptions): AsyncIterable<SecretProperties>;
  /** Metadata of every secret's latest version (sources only). Permission: secrets/readMetadata. */
  listPropertiesOfSecrets(options?: ListPropertiesOfSecretsOptions): AsyncIterable<SecretProperties>;
  /** Soft-deleted secrets (sources only; optional for fakes). Permission: secrets/readMetadata (access policy: list). */
  listDeletedSecrets?(options?: ListDeletedSecretsOptions): AsyncIterable<DeletedSecret>;
  /** A soft-deleted secret's metadata. Permission: access policy get (RBAC: see docs/keyvault-target.md). */
  getDeletedSecret(name: string, options?: GetDeletedSecretOptions): Promise<DeletedSecret>;
  /** Writes a new version. Permission: secrets/setSecret. */
  setSecret(name: string, value: string, options?: SetSecretOptions): Promise<KeyVaultSecret>;
  /** Recovers a soft-deleted name. Permission: secrets/recover. */
  beginRecoverDeletedSecret(
    name: string,
    options?: BeginRecoverDeletedSecretOptions,
  ): Promise<{ pollUntilDone(): Promise<unknown> }>;
  /** Soft-deletes a secret (all versions). Permission: secrets/delete. */
  beginDeleteSecret(name: string, options?: BeginDeleteSecretOptions): Promise<unknown>;
  /** Reads a value (sources only). Permission: secrets/getSecret. */
  getSecret(name: string, options?: GetSecretOptions): Promise<KeyVaultSecret>;
}
