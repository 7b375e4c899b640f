import type { TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, createHttpHeaders, createPipelineFromOptions, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { keyVaultAuthenticationPolicy } from '@azure/keyvault-common';
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
  SecretClientOptions,
  SecretProperties,
  SetSecretOptions,
  UpdateSecretPropertiesOptions,
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
  /**
   * A soft-deleted secret's metadata (`GET /deletedsecrets/{name}`, no value). Permission: access policy get;
   * RBAC `Microsoft.KeyVault/vaults/secrets/readMetadata/action` (docs/deployment.md "Permissions": evidence).
   */
  getDeletedSecret(name: string, options?: GetDeletedSecretOptions): Promise<DeletedSecret>;
  /**
   * Updates a version's properties (`PATCH /secrets/{name}/{version}`; an empty version is the current one) and
   * answers its properties, never the value. With no property given it changes nothing (the service may bump
   * `updated`): the delivery's one-call read of the current version's tags. Permission: secrets/update (access
   * policy: set).
   */
  updateSecretProperties(name: string, version: string, options?: UpdateSecretPropertiesOptions): Promise<SecretProperties>;
  /** Writes a new version. Permission: secrets/setSecret. */
  setSecret(name: string, value: string, options?: SetSecretOptions): Promise<KeyVaultSecret>;
  /**
   * Recovers a soft-deleted name. Permission: secrets/recover. When the api also has `recoverDeletedSecret`
   * ({@link KeyVaultRecoveryApi}), the target uses that instead: the SDK poller behind this call reads values.
   */
  beginRecoverDeletedSecret(
    name: string,
    options?: BeginRecoverDeletedSecretOptions,
  ): Promise<{ pollUntilDone(): Promise<unknown> }>;
  /** Soft-deletes a secret (all versions). Permission: secrets/delete. */
  beginDeleteSecret(name: string, options?: BeginDeleteSecretOptions): Promise<unknown>;
  /** Reads a value (sources only). Permission: secrets/getSecret. */
  getSecret(name: string, options?: GetSecretOptions): Promise<KeyVaultSecret>;
}

/** Recovery of a soft-deleted name by its one REST call, without the SDK poller's value reads. */
export interface KeyVaultRecoveryApi {
  /**
   * `POST /deletedsecrets/{name}/recover`, answered once the vault accepted the recovery (the name may stay busy,
   * `409 ObjectIsBeingRecovered`, for a moment). The response body (a secret bundle) is dropped unread.
   * Permission: secrets/recover (RBAC `Microsoft.KeyVault/vaults/secrets/recover/action`). Repeating it after it
   * succeeded answers 404 (nothing deleted under that name).
   */
  recoverDeletedSecret(name: string, options?: { abortSignal?: AbortSignal | undefined }): Promise<void>;
}

/** What {@link metadataOnlyRecovery} needs: the vault, a credential, and the SecretClient's TLS/challenge options. */
export interface MetadataOnlyRecoveryOptions {
  readonly vaultUrl: string;
  readonly credential: TokenCredential;
  readonly clientOptions?: Pick<SecretClientOptions, 'tlsOptions' | 'disableChallengeResourceVerification' | 'serviceVersion'>;
}

/**
 * Recovers with one request through a Key Vault challenge-auth pipeline (the same policy `SecretClient` uses), no
 * retries of its own (the target's ladder classifies and retries), and no `GET /secrets/{name}/`: the SDK's
 * `beginRecoverDeletedSecret` poller reads the value before and after recovering, which a writer role without
 * secrets/getSecret answers with 403 and records as a denied read in the customer's logs.
 */
export function metadataOnlyRecovery(options: MetadataOnlyRecoveryOptions): KeyVaultRecoveryApi {
  const pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 0 }, ...(options.clientOptions?.tlsOptions ? { tlsOptions: options.clientOptions.tlsOptions } : {}) });
  pipeline.addPolicy(
    keyVaultAuthenticationPolicy(options.credential, {
      ...(options.clientOptions?.disableChallengeResourceVerification ? { disableChallengeResourceVerification: true } : {}),
    }),
  );
  const httpClient = createDefaultHttpClient();
  const base = options.vaultUrl.replace(/\/+$/, '');
  const apiVersion = options.clientOptions?.serviceVersion ?? KEY_VAULT_API_VERSION;
  return {
    async recoverDeletedSecret(name, callOptions = {}) {
      const request = createPipelineRequest({
        url: `${base}/deletedsecrets/${encodeURIComponent(name)}/recover?api-version=${apiVersion}`,
        method: 'POST',
        headers: createHttpHeaders({ accept: 'application/json' }),
        ...(callOptions.abortSignal ? { abortSignal: callOptions.abortSignal } : {}),
      });
      const response = await pipeline.sendRequest(httpClient, request);
      if (response.status >= 200 && response.status < 300) return;
      let details: unknown;
      try {
        details = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
      } catch {
        details = undefined;
      }
      const code = (details as { error?: { code?: unknown } } | undefined)?.error?.code;
      const error = new RestError(`recoverDeletedSecret answered ${response.status}`, {
        statusCode: response.status,
        ...(typeof code === 'string' ? { code } : {}),
        request,
        response,
      });
      error.details = details;
      throw error;
    },
  };
}

/** The Key Vault REST api-version `@azure/keyvault-secrets` 4.12 sends (platform-facts §7.9). */
export const KEY_VAULT_API_VERSION = '2026-04-01';
