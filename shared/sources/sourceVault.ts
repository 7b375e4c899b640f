import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { fingerprint, type FingerprintKey } from '../domain/fingerprint.js';
import { ownerOf } from '../domain/references.js';
import { withBackoff, type Sleep } from '../targets/backoff.js';
import { TransientTargetError, type SourceVersionFacts } from '../targets/contract.js';
import {
  classifyKeyVaultError,
  dateFromUnixSeconds,
  keyVaultErrorInfo,
  keyVaultRetryHint,
  latestVersionOf,
  TargetFailure,
  versionInfoFrom,
  type KeyVaultSecretsApi,
  type SecretVersionInfo,
} from '../targets/keyVault/index.js';

export interface SourceVaultOptions {
  /** Source id from the config. */
  readonly sourceId: string;
  /** e.g. `https://platform.vault.azure.net`. */
  readonly vaultUrl: string;
  readonly credential: TokenCredential;
  /** SDK options from the composition root (TLS trust, `disableChallengeResourceVerification`, retry options). */
  readonly clientOptions?: SecretClientOptions;
  /** Sleep of the throttling ladder; tests pass a fast one. Default: real time. */
  readonly sleep?: Sleep;
  /** Override of the 1, 2, 4, 8, 16 s ladder. */
  readonly backoffLadderInMs?: readonly number[];
}

export interface SourceCallOptions {
  readonly abortSignal?: AbortSignal;
}

/** Metadata of one source version, without its value. Times in unix seconds. */
export type SourceSecretProperties = SecretVersionInfo;

/** A final failure reading or writing a source vault; transient ones are thrown as `TransientTargetError`. */
export class SourceVaultError extends Error {
  override readonly name = 'SourceVaultError';
  constructor(
    message: string,
    readonly status: 'FailedSourceMissing' | 'FailedAccessDenied' | 'FailedValidation',
    readonly reason: string,
  ) {
    super(message);
  }
}

/** The relay's view of one source vault. No method logs or returns a value except `readVersion`'s `value`. */
export interface SourceVault {
  readonly sourceId: string;
  readonly vaultUrl: string;
  /**
   * Reads one version's value and facts (owner, createdOn, isLatest, contentType, expiry, keyed fingerprint, tags)
   * with at most two calls whatever the secret's history: `GET /secrets/{n}/` (the current version: when it is the
   * one asked for, that is all) and `GET /secrets/{n}/{v}`. A version listing only when the current version is
   * disabled. Permission: secrets/getSecret (+ readMetadata in that case). Throws `SourceVaultError`
   * FailedSourceMissing for a missing or disabled version.
   */
  readVersion(
    name: string,
    version: string,
    fingerprintKey: FingerprintKey,
    options?: SourceCallOptions,
  ): Promise<{ value: string; facts: SourceVersionFacts; tags: Readonly<Record<string, string>> }>;
  /**
   * Reads one version's value only (the delivery's read when the plan already resolved the facts): one
   * `GET /secrets/{n}/{v}`. Permission: secrets/getSecret. Throws `SourceVaultError` FailedSourceMissing for a
   * missing or disabled version.
   */
  readValue(name: string, version: string, options?: SourceCallOptions): Promise<{ value: string }>;
  /**
   * Reads the value of the version the vault serves as current (`GET /secrets/{n}/`, one call): stored credentials
   * such as a cluster token. Permission: secrets/getSecret. Throws `SourceVaultError` FailedSourceMissing when the
   * secret is missing or its current version disabled.
   */
  readCurrentValue(name: string, options?: SourceCallOptions): Promise<{ value: string; version: string }>;
  /**
   * True when `version` is the source's current (latest enabled) version, asked now: one `GET /secrets/{n}/` (the
   * value is dropped); only when the current version is disabled, a version listing. Permission: secrets/getSecret
   * (+ readMetadata in that case).
   */
  isLatest(name: string, version: string, options?: SourceCallOptions): Promise<boolean>;
  /**
   * Properties of the newest version (newest enabled one unless `includeDisabled`), without the value; undefined when
   * the secret has no such version. Permission: secrets/readMetadata.
   */
  getLatestProperties(name: string, options?: SourceCallOptions & { includeDisabled?: boolean }): Promise<SourceSecretProperties | undefined>;
  /** Properties of one version without its value; undefined when missing. Permission: secrets/readMetadata. */
  getVersionProperties(name: string, version: string, options?: SourceCallOptions): Promise<SourceSecretProperties | undefined>;
  /** Same as `getVersionProperties`. */
  getProperties(name: string, version: string, options?: SourceCallOptions): Promise<SourceSecretProperties | undefined>;
  /** Every secret of the vault with its latest version's tags (metadata only). Permission: secrets/readMetadata. */
  listSecrets(options?: SourceCallOptions): AsyncIterable<{ readonly name: string; readonly tags: Readonly<Record<string, string>>; readonly enabled: boolean }>;
  /**
   * Every soft-deleted secret of the vault with its tags at deletion (metadata only). Permission: secrets/readMetadata
   * (access policy: list). Optional for fakes.
   */
  listDeletedSecrets?(options?: SourceCallOptions): AsyncIterable<{ readonly name: string; readonly tags: Readonly<Record<string, string>> }>;
  /**
   * Writes a new version (rotation) and returns its version id. Not idempotent: each call creates a version, so the
   * caller decides once. `expiresOn`/`notBefore` as a Date or unix seconds. Permission: secrets/setSecret.
   */
  setNewVersion(
    name: string,
    value: string,
    options?: SourceCallOptions & {
      contentType?: string;
      expiresOn?: Date | number;
      notBefore?: Date | number;
      tags?: Record<string, string>;
    },
  ): Promise<{ version: string }>;
}

/** Creates the source vault reader/writer over the real `SecretClient`. */
export function createSourceVault(options: SourceVaultOptions): SourceVault {
  const client = new SecretClient(options.vaultUrl, options.credential, options.clientOptions);
  return sourceVaultFromApi(client, options);
}

/** The same over any `KeyVaultSecretsApi` (a `SecretClient` in production). */
export function sourceVaultFromApi(api: KeyVaultSecretsApi, options: Omit<SourceVaultOptions, 'credential' | 'clientOptions'>): SourceVault {
  const host = new URL(options.vaultUrl).host.toLowerCase();
  const backoff = (abortSignal?: AbortSignal) => ({
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.backoffLadderInMs ? { ladderInMs: options.backoffLadderInMs } : {}),
    ...(abortSignal ? { abortSignal } : {}),
  });

  async function call<T>(operation: string, name: string, fn: () => Promise<T>, abortSignal?: AbortSignal, notFound?: () => T): Promise<T> {
    try {
      return await withBackoff(fn, keyVaultRetryHint, backoff(abortSignal));
    } catch (error) {
      const info = keyVaultErrorInfo(error);
      const location = `${host}/${name}`;
      if (info.statusCode === 404) {
        if (notFound) return notFound();
        throw new SourceVaultError(`${operation} on ${location}: not found (404)`, 'FailedSourceMissing', 'source-missing');
      }
      if (info.statusCode === 403 && info.innerCode === 'SecretDisabled') {
        throw new SourceVaultError(`${operation} on ${location}: the version is disabled (403 SecretDisabled)`, 'FailedSourceMissing', 'source-disabled');
      }
      const classified = classifyKeyVaultError(error, { operation, location });
      if (classified instanceof TargetFailure) {
        const status = classified.status === 'FailedAccessDenied' ? 'FailedAccessDenied' : 'FailedValidation';
        throw new SourceVaultError(classified.message, status, classified.reason);
      }
      throw classified;
    }
  }

  async function listVersions(name: string, abortSignal?: AbortSignal): Promise<SecretVersionInfo[]> {
    return call(
      'listPropertiesOfSecretVersions',
      name,
      async () => {
        const found: SecretVersionInfo[] = [];
        for await (const properties of api.listPropertiesOfSecretVersions(name, { abortSignal })) found.push(versionInfoFrom(properties));
        return found;
      },
      abortSignal,
      () => [],
    );
  }

  /**
   * The newest version by creation time. Creation times have 1-second resolution, so when several versions share the
   * newest second the vault itself is asked which one is current (`GET /secrets/{n}/`, which returns a value: the
   * relay holds getSecret on sources anyway, and the value is dropped at once). A disabled current version answers
   * 403 SecretDisabled; then the one disabled candidate is it.
   */
  async function resolveLatest(
    name: string,
    versions: readonly SecretVersionInfo[],
    includeDisabled: boolean,
    abortSignal?: AbortSignal,
  ): Promise<SecretVersionInfo | undefined> {
    const candidates = includeDisabled ? versions : versions.filter((v) => v.enabled);
    const newest = latestVersionOf(candidates);
    if (!newest) return undefined;
    const tied = candidates.filter((v) => v.createdOn === newest.createdOn);
    if (tied.length === 1) return newest;
    let current: string | undefined;
    try {
      current = (await withBackoff(() => api.getSecret(name, { abortSignal }), keyVaultRetryHint, backoff(abortSignal))).properties.version;
    } catch (error) {
      const info = keyVaultErrorInfo(error);
      if (info.statusCode === 403 && info.innerCode === 'SecretDisabled') {
        const disabled = tied.filter((v) => !v.enabled);
        current = disabled.length === 1 ? disabled[0]!.version : undefined;
      } else {
        await call('getSecret', name, () => Promise.reject(error), abortSignal);
      }
    }
    return tied.find((v) => v.version === current) ?? (includeDisabled ? newest : tied.find((v) => v.version !== current) ?? newest);
  }

  /**
   * The version the vault serves as current (`GET /secrets/{n}/`; the value stays in this call's caller): `disabled`
   * when that version is disabled (403 SecretDisabled), `missing` on 404.
   */
  async function readCurrent(
    name: string,
    abortSignal?: AbortSignal,
  ): Promise<{ state: 'enabled'; secret: Awaited<ReturnType<KeyVaultSecretsApi['getSecret']>> } | { state: 'disabled' | 'missing' }> {
    try {
      return { state: 'enabled', secret: await withBackoff(() => api.getSecret(name, { abortSignal }), keyVaultRetryHint, backoff(abortSignal)) };
    } catch (error) {
      const info = keyVaultErrorInfo(error);
      if (info.statusCode === 403 && info.innerCode === 'SecretDisabled') return { state: 'disabled' };
      if (info.statusCode === 404) return { state: 'missing' };
      return call('getSecret', name, () => Promise.reject(error), abortSignal);
    }
  }

  /** The value and properties of a read version; missing value or disabled version → FailedSourceMissing. */
  function usable(name: string, secret: Awaited<ReturnType<KeyVaultSecretsApi['getSecret']>>): { value: string; properties: SecretVersionInfo } {
    if (secret.value === undefined) {
      throw new SourceVaultError(`getSecret on ${host}/${name}: the version has no value`, 'FailedSourceMissing', 'source-missing');
    }
    const properties = versionInfoFrom(secret.properties);
    if (!properties.enabled) {
      throw new SourceVaultError(`getSecret on ${host}/${name}: the version is disabled`, 'FailedSourceMissing', 'source-disabled');
    }
    return { value: secret.value, properties };
  }

  const vault: SourceVault = {
    sourceId: options.sourceId,
    vaultUrl: options.vaultUrl,

    async readVersion(name, version, fingerprintKey, callOptions = {}) {
      const { abortSignal } = callOptions;
      const current = await readCurrent(name, abortSignal);
      const asked = version.toLowerCase();
      const secret =
        current.state === 'enabled' && current.secret.properties.version?.toLowerCase() === asked
          ? current.secret
          : await call('getSecret', name, () => api.getSecret(name, { version, abortSignal }), abortSignal);
      const { value, properties } = usable(name, secret);
      const written = properties.version || version;
      let isLatest: boolean;
      if (current.state === 'enabled') isLatest = current.secret.properties.version?.toLowerCase() === written.toLowerCase();
      else isLatest = (await resolveLatest(name, await listVersions(name, abortSignal), false, abortSignal))?.version === written;
      const facts: SourceVersionFacts = {
        owner: ownerOf(options.vaultUrl, name),
        version: written,
        createdOn: properties.createdOn,
        fingerprint: fingerprint(fingerprintKey, value),
        isLatest,
        ...(properties.contentType !== undefined ? { contentType: properties.contentType } : {}),
        ...(properties.expiresOn !== undefined ? { expiresOn: properties.expiresOn } : {}),
        ...(properties.notBefore !== undefined ? { notBefore: properties.notBefore } : {}),
      };
      return { value, facts, tags: properties.tags };
    },

    async readValue(name, version, callOptions = {}) {
      const { abortSignal } = callOptions;
      const secret = await call('getSecret', name, () => api.getSecret(name, { version, abortSignal }), abortSignal);
      return { value: usable(name, secret).value };
    },

    async readCurrentValue(name, callOptions = {}) {
      const secret = await call('getSecret', name, () => api.getSecret(name, { abortSignal: callOptions.abortSignal }), callOptions.abortSignal);
      const { value, properties } = usable(name, secret);
      return { value, version: properties.version };
    },

    async isLatest(name, version, callOptions = {}) {
      const { abortSignal } = callOptions;
      const current = await readCurrent(name, abortSignal);
      if (current.state === 'enabled') return current.secret.properties.version?.toLowerCase() === version.toLowerCase();
      if (current.state === 'missing') return false;
      return (await resolveLatest(name, await listVersions(name, abortSignal), false, abortSignal))?.version === version;
    },

    async getLatestProperties(name, callOptions = {}) {
      const versions = await listVersions(name, callOptions.abortSignal);
      return resolveLatest(name, versions, callOptions.includeDisabled === true, callOptions.abortSignal);
    },

    async getVersionProperties(name, version, callOptions = {}) {
      const versions = await listVersions(name, callOptions.abortSignal);
      return versions.find((v) => v.version === version);
    },

    getProperties(name, version, callOptions = {}) {
      return vault.getVersionProperties(name, version, callOptions);
    },

    async *listSecrets(callOptions = {}) {
      const { abortSignal } = callOptions;
      const page: Array<{ name: string; tags: Record<string, string>; enabled: boolean }> = [];
      // Collected under the backoff ladder, then yielded: a throttled page is retried from the start.
      await call(
        'listPropertiesOfSecrets',
        '*',
        async () => {
          page.length = 0;
          for await (const properties of api.listPropertiesOfSecrets({ abortSignal })) {
            page.push({ name: properties.name, tags: { ...(properties.tags ?? {}) }, enabled: properties.enabled !== false });
          }
        },
        abortSignal,
      );
      yield* page;
    },

    async *listDeletedSecrets(callOptions = {}) {
      const { abortSignal } = callOptions;
      if (!api.listDeletedSecrets) return;
      const page: Array<{ name: string; tags: Record<string, string> }> = [];
      await call(
        'listDeletedSecrets',
        '*',
        async () => {
          page.length = 0;
          for await (const deleted of api.listDeletedSecrets!({ abortSignal })) page.push({ name: deleted.name, tags: { ...(deleted.properties.tags ?? {}) } });
        },
        abortSignal,
      );
      yield* page;
    },

    async setNewVersion(name, value, callOptions = {}) {
      const { abortSignal, contentType, expiresOn, notBefore, tags } = callOptions;
      const secret = await call(
        'setSecret',
        name,
        () =>
          api.setSecret(name, value, {
            abortSignal,
            ...(contentType !== undefined ? { contentType } : {}),
            ...(expiresOn !== undefined ? { expiresOn: asDate(expiresOn) } : {}),
            ...(notBefore !== undefined ? { notBefore: asDate(notBefore) } : {}),
            ...(tags !== undefined ? { tags } : {}),
          }),
        abortSignal,
      );
      const written = secret.properties.version;
      if (!written) throw new TransientTargetError(`setSecret on ${host}/${name}: no version in the answer`, 'FailedUnavailable');
      return { version: written };
    },
  };
  return vault;
}

function asDate(value: Date | number): Date | undefined {
  return value instanceof Date ? value : dateFromUnixSeconds(value);
}
