import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { BlobServiceClient, type BlockBlobClient, type ContainerClient } from '@azure/storage-blob';
import { createActivities, type Activities } from './activities.js';
import { blobConfigDocument, createConfigStore, type ConfigRefresh, type ConfigStore } from './config/index.js';
import { auditContainerFromSettings, auditLogFromSettings, buildRecordContent, type AuditLog, type AuditRecordInput } from './audit/index.js';
import { validateConfig, type RelayConfig, type TargetConfig } from './domain/config.js';
import { fingerprintKeyFrom, type FingerprintKey } from './domain/fingerprint.js';
import type { AuditEntry, ReconcileReport } from './orchestrations/types.js';
import { blobLeaseLocks } from './locks/index.js';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PostgresRotatorConfig, WebhookRotatorConfig } from './domain/config.js';
import {
  createPostgresRotator,
  createWebhookRotator,
  generateValue,
  RotatorError,
  type HttpsPost,
  type PgSession,
  type Rotator,
} from './rotation/index.js';
import type { AuditPort, RelayLog, RelayRuntime, ReportPort, SourcePort } from './runtime.js';
import { cachedSourceVault } from './sources/cachedSourceVault.js';
import { createSourceVault } from './sources/index.js';
import type { TargetClient } from './targets/contract.js';
import { KeyVaultTarget, metadataOnlyRecovery, type KeyVaultRecoveryApi } from './targets/keyVault/index.js';
import { SecretClient } from '@azure/keyvault-secrets';
import {
  createClusterAccess,
  createKubernetesTarget,
  loadKubernetesClient,
  STORED_CREDENTIAL_TTL_IN_MS,
  type ClusterAccess,
  type KubernetesClusterConfig,
} from './targets/kubernetes/index.js';
import type { PreflightPorts } from './control/index.js';
import { startAzureMonitor, type AzureMonitorTelemetry } from './telemetry/index.js';
import { useSharedWriteTokens } from './targets/writeBudget.js';
import { blobWriteTokens } from './targets/blobWriteTokens.js';
import type { FleetListingPort } from './fleet/types.js';
import { latestDriftReportIn } from './fleet/reports.js';
import { listDeletedSecretPages, listSecretPages } from './targets/keyVault/listing.js';
import { listManagedSecretPages, type KubernetesListingApi } from './targets/kubernetes/listing.js';

/** Every setting the app reads (documented in docs/deployment.md; local values in local.settings.sample.json). */
export const SETTINGS = {
  configPath: 'RELAY_CONFIG_PATH',
  configBlobServiceUri: 'RELAY_CONFIG_BLOB_SERVICE_URI',
  configStorageConnectionString: 'RELAY_CONFIG_STORAGE_CONNECTION_STRING',
  configBlob: 'RELAY_CONFIG_BLOB',
  configRefreshIntervalInMs: 'RELAY_CONFIG_REFRESH_INTERVAL_MS',
  fingerprintKey: 'RELAY_FINGERPRINT_KEY',
  fingerprintKeyId: 'RELAY_FINGERPRINT_KEY_ID',
  clientId: 'AZURE_CLIENT_ID',
  trustedCaPath: 'RELAY_TRUSTED_CA_PATH',
  disableChallengeResourceVerification: 'RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION',
  maxConcurrentDeliveries: 'RELAY_MAX_CONCURRENT_DELIVERIES',
  maxConcurrentPerTarget: 'RELAY_MAX_CONCURRENT_PER_TARGET',
  reportsContainer: 'RELAY_REPORTS_CONTAINER',
  sourceCacheTtlInMs: 'RELAY_SOURCE_CACHE_TTL_MS',
  checkTimeLimitInMs: 'RELAY_CHECK_TIME_LIMIT_MS',
  logLevel: 'RELAY_LOG_LEVEL',
  writeBudgetScope: 'RELAY_WRITE_BUDGET_SCOPE',
} as const;

/**
 * Retry options of every production `SecretClient`: none. The relay's own ladder (shared/targets/backoff.ts, and the
 * orchestrations' RetryOptions) retries 429 and 5xx with Retry-After; SDK retries underneath would multiply the
 * waits and hide throttling from the ladder. The tests' clients use the same options (test/support, e2e).
 */
export const SECRET_CLIENT_RETRY = { retryOptions: { maxRetries: 0 } } as const satisfies SecretClientOptions;

type Env = Readonly<Record<string, string | undefined>>;

/** A setting is missing or invalid; the message names it (never its value). */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Builds the relay runtime from settings: the only place SDK clients are constructed. Production and the local
 * stack run the same code; the stack only sets the endpoints, the token endpoint and the CA to local values.
 */
export function createRuntime(env: Env = process.env, options: { log?: RelayLog; config?: RelayConfig } = {}): RelayRuntime {
  const config = options.config ?? loadConfig(env);
  const fingerprintKey = fingerprintKeyFromSettings(env);
  const log = options.log ?? consoleLog;
  const credentials = new Map<string, TokenCredential>();
  const credentialFor = (clientId: string | undefined): TokenCredential => {
    const id = clientId ?? env[SETTINGS.clientId] ?? '';
    let credential = credentials.get(id);
    if (!credential) {
      credential = new ManagedIdentityCredential(id ? { clientId: id } : {});
      credentials.set(id, credential);
    }
    return credential;
  };
  const trustedCa = env[SETTINGS.trustedCaPath] ? readFileSync(env[SETTINGS.trustedCaPath]!, 'utf8') : undefined;
  const secretClientOptions: SecretClientOptions = {
    ...(trustedCa ? { tlsOptions: { ca: trustedCa } } : {}),
    ...(env[SETTINGS.disableChallengeResourceVerification] === 'true' ? { disableChallengeResourceVerification: true } : {}),
    ...SECRET_CLIENT_RETRY,
  };
  const ttlInMs = intSetting(env, SETTINGS.sourceCacheTtlInMs, 60_000, 0, 3_600_000);

  const sources = new Map<string, SourcePort>();
  const source = (sourceId: string): SourcePort => {
    let port = sources.get(sourceId);
    if (!port) {
      const configured = config.sources.find((s) => s.id === sourceId);
      if (!configured) throw new Error(`source "${sourceId}" is not in the relay config`);
      port = cachedSourceVault(
        createSourceVault({
          sourceId,
          vaultUrl: configured.vaultUrl,
          credential: credentialFor(configured.identity?.clientId),
          clientOptions: secretClientOptions,
        }),
        { ttlInMs },
      );
      sources.set(sourceId, port);
    }
    return port;
  };

  // One SecretClient per vault and identity, shared by every target in that vault: one token, one challenge.
  const secretClients = new Map<string, SecretClient>();
  const secretClientFor = (vaultUrl: string, clientId: string | undefined): SecretClient => {
    const key = `${new URL(vaultUrl).host.toLowerCase()}|${clientId ?? ''}`;
    let client = secretClients.get(key);
    if (!client) {
      client = new SecretClient(vaultUrl, credentialFor(clientId), secretClientOptions);
      secretClients.set(key, client);
    }
    return client;
  };

  const recoveries = new Map<string, KeyVaultRecoveryApi>();
  const recoveryFor = (vaultUrl: string, clientId: string | undefined): KeyVaultRecoveryApi => {
    const key = `${new URL(vaultUrl).host.toLowerCase()}|${clientId ?? ''}`;
    let recovery = recoveries.get(key);
    if (!recovery) {
      recovery = metadataOnlyRecovery({ vaultUrl, credential: credentialFor(clientId), clientOptions: secretClientOptions });
      recoveries.set(key, recovery);
    }
    return recovery;
  };

  const targets = new Map<string, TargetClient>();
  const target = (targetId: string): TargetClient => {
    let client = targets.get(targetId);
    if (!client) {
      const configured = config.targets.find((t) => t.id === targetId);
      if (!configured) throw new Error(`target "${targetId}" is not in the relay config`);
      client = buildTarget(configured);
      targets.set(targetId, client);
    }
    return client;
  };

  function buildTarget(configured: TargetConfig): TargetClient {
    if (configured.kind === 'keyVault') {
      return new KeyVaultTarget(secretClientFor(configured.vaultUrl, configured.identity?.clientId), {
        targetId: configured.id,
        vaultUrl: configured.vaultUrl,
        writeBudget: configured.writeBudget,
        recovery: recoveryFor(configured.vaultUrl, configured.identity?.clientId),
      });
    }
    return createKubernetesTarget({
      targetId: configured.id,
      cluster: configured.cluster,
      namespace: configured.namespace,
      fingerprintKey,
      writeBudget: configured.writeBudget,
      log,
      access: clusterAccessFor(configured.cluster),
    });
  }

  // One access per cluster (same server, credential and CA), whatever the number of its namespaces and customers:
  // one stored-credential read or token, and one connection pool.
  const clusterAccesses = new Map<string, ClusterAccess>();
  function clusterAccessFor(cluster: KubernetesClusterConfig): ClusterAccess {
    const key = JSON.stringify(cluster);
    let access = clusterAccesses.get(key);
    if (!access) {
      const auth = cluster.auth;
      access = createClusterAccess({
        cluster,
        ...(auth.type === 'aad' ? { credential: credentialFor(auth.identity?.clientId) } : {}),
        readSecretValue: readClusterCredential,
        storedCredentialTtlInMs: STORED_CREDENTIAL_TTL_IN_MS,
      });
      clusterAccesses.set(key, access);
    }
    return access;
  }

  async function readClusterCredential(sourceId: string, name: string): Promise<string> {
    // One call: the current version's value (no version listing).
    return (await source(sourceId).readCurrentValue(name)).value;
  }

  // `target check`: the target's own SecretClient, or a SelfSubjectAccessReview with the cluster credential.
  const preflight = (targetId: string): PreflightPorts => {
    const configured = config.targets.find((t) => t.id === targetId);
    if (!configured) throw new Error(`target "${targetId}" is not in the relay config`);
    if (configured.kind === 'keyVault') {
      const client = secretClientFor(configured.vaultUrl, configured.identity?.clientId);
      return {
        keyVault: {
          async listOnePage(options = {}) {
            await client.listPropertiesOfSecrets(options).byPage({ maxPageSize: 1 }).next();
          },
          async setSecret(name, value, options) {
            await client.setSecret(name, value, options);
          },
          async deleteSecret(name, options = {}) {
            await client.beginDeleteSecret(name, options);
          },
        },
      };
    }
    const auth = configured.cluster.auth;
    const access = createClusterAccess({
      cluster: configured.cluster,
      ...(auth.type === 'aad' ? { credential: credentialFor(auth.identity?.clientId) } : { readSecretValue: readClusterCredential }),
    });
    return {
      kubernetes: {
        async review(resourceAttributes, options = {}) {
          const { AuthorizationV1Api } = await loadKubernetesClient({ log });
          const kc = await access.kubeConfig(options);
          const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
            body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } },
          });
          return { allowed: review.status?.allowed === true, ...(review.status?.reason ? { reason: review.status.reason } : {}) };
        },
      },
    };
  };

  // Rotators of routes that change a credential at its owner; their connection secrets are read by reference.
  const rotators = new Map<string, Rotator | undefined>();
  const rotator = (routeId: string): Rotator | undefined => {
    if (!rotators.has(routeId)) {
      const configured = config.routes.find((r) => r.id === routeId)?.rotation?.rotator;
      rotators.set(
        routeId,
        configured && configured.kind !== 'generate'
          ? rotatorFromConfig(configured, {
              readSecretReference: async (reference) => {
                const port = source(reference.source);
                const latest = await port.getLatestProperties(reference.secret);
                if (!latest) throw new Error(`the secret ${reference.source}/${reference.secret} does not exist`);
                return (await port.readVersion(reference.secret, latest.version, fingerprintKey)).value;
              },
              token: async (scope, clientId) => {
                const token = await credentialFor(clientId).getToken(scope);
                if (!token) throw new Error(`no token for scope ${scope}`);
                return token.token;
              },
              readOwnerSecret: async (vaultUrl, name, version) => {
                const secret = await secretClientFor(vaultUrl, undefined).getSecret(name, version ? { version } : {});
                if (secret.value === undefined) throw new Error(`${name} has no value`);
                return secret.value;
              },
              ...(trustedCa ? { trustedCa } : {}),
            })
          : undefined,
      );
    }
    return rotators.get(routeId);
  };

  // List-page readers over the same clients and cluster access as the targets (shared/fleet).
  const listingTimeLimit = intSetting(env, SETTINGS.checkTimeLimitInMs, 30_000, 100, 600_000);
  const configuredTarget = (targetId: string) => {
    const configured = config.targets.find((t) => t.id === targetId);
    if (!configured) throw new Error(`target "${targetId}" is not in the relay config`);
    return configured;
  };
  const configuredSource = (sourceId: string) => {
    const configured = config.sources.find((s) => s.id === sourceId);
    if (!configured) throw new Error(`source "${sourceId}" is not in the relay config`);
    return configured;
  };
  const vaultListing = (vaultUrl: string, clientId: string | undefined) => secretClientFor(vaultUrl, clientId);
  const listing: FleetListingPort = {
    sourceSecrets: (sourceId, callOptions = {}) => {
      const s = configuredSource(sourceId);
      return listSecretPages(vaultListing(s.vaultUrl, s.identity?.clientId), new URL(s.vaultUrl).host, { pageTimeLimitInMs: listingTimeLimit, ...callOptions });
    },
    sourceDeletedSecrets: (sourceId, callOptions = {}) => {
      const s = configuredSource(sourceId);
      return listDeletedSecretPages(vaultListing(s.vaultUrl, s.identity?.clientId), new URL(s.vaultUrl).host, { pageTimeLimitInMs: listingTimeLimit, ...callOptions });
    },
    vaultSecrets: (targetId, callOptions = {}) => {
      const t = configuredTarget(targetId);
      if (t.kind !== 'keyVault') throw new Error(`target "${targetId}" is not a Key Vault`);
      return listSecretPages(vaultListing(t.vaultUrl, t.identity?.clientId), new URL(t.vaultUrl).host, { pageTimeLimitInMs: listingTimeLimit, ...callOptions });
    },
    vaultDeletedSecrets: (targetId, callOptions = {}) => {
      const t = configuredTarget(targetId);
      if (t.kind !== 'keyVault') throw new Error(`target "${targetId}" is not a Key Vault`);
      return listDeletedSecretPages(vaultListing(t.vaultUrl, t.identity?.clientId), new URL(t.vaultUrl).host, { pageTimeLimitInMs: listingTimeLimit, ...callOptions });
    },
    clusterSecrets: (targetId, callOptions = {}) => {
      const t = configuredTarget(targetId);
      if (t.kind !== 'kubernetes') throw new Error(`target "${targetId}" is not a Kubernetes target`);
      // The cluster's access, shared with its delivery targets: a stored token is read at most every 5 minutes
      // (STORED_CREDENTIAL_TTL_IN_MS; each read costs a source call). A failed listing drops it, so a rotated token
      // is picked up by the next listing.
      const access = clusterAccessFor(t.cluster);
      return (async function* () {
        const { CoreV1Api } = await loadKubernetesClient({ log });
        const api: KubernetesListingApi = (await access.kubeConfig()).makeApiClient(CoreV1Api);
        try {
          yield* listManagedSecretPages(api, t.namespace, `${t.cluster.name}/${t.namespace}`, { pageTimeLimitInMs: listingTimeLimit, ...callOptions });
        } catch (error) {
          access.invalidate();
          throw error;
        }
      })();
    },
  };

  // With AUDIT_CHAIN_KEY the chain is keyed and sealed outside the audit container (docs/security.md).
  const auditLog = auditLogFromSettings(env, {
    onSealError: (error) => log.warn(`audit seal not written (its heads are sealed with the next one): ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`),
  });
  // Drift reports live beside the audit container, in the same account and with the same access.
  const reportsContainer = auditContainerFromSettings({ ...env, AUDIT_CONTAINER: env[SETTINGS.reportsContainer] || 'reports' });
  // Write budgets hold across instances: every instance claims its tokens from one bucket per vault or cluster,
  // kept in the reports container under `write-budgets/` (docs/deployment.md, "Write budgets across instances").
  const scope = env[SETTINGS.writeBudgetScope] || 'shared';
  if (scope !== 'shared' && scope !== 'instance') {
    throw new SettingsError(`${SETTINGS.writeBudgetScope} must be "shared" or "instance"`);
  }
  useSharedWriteTokens(scope === 'shared' ? blobWriteTokens(reportsContainer) : undefined);

  return {
    config,
    fingerprintKey,
    source,
    target,
    audit: auditPort(auditLog),
    reports: reportPort(reportsContainer),
    // Delivery locks live in the reports container (same account and access), under `locks/`.
    locks: blobLeaseLocks(reportsContainer, { onLeaseError: (message) => log.warn(message) }),
    limits: {
      maxConcurrent: intSetting(env, SETTINGS.maxConcurrentDeliveries, 50, 1, 1000),
      maxPerEndpoint: intSetting(env, SETTINGS.maxConcurrentPerTarget, 4, 1, 100),
    },
    checkTimeLimitInMs: intSetting(env, SETTINGS.checkTimeLimitInMs, 30_000, 100, 600_000),
    listing,
    generateValue,
    rotator,
    preflight,
    log,
    now: () => new Date(),
  };
}

/**
 * Starts this process's telemetry: with `APPLICATIONINSIGHTS_CONNECTION_STRING`, metrics and spans go to Application
 * Insights through the Azure Monitor exporters (loaded only then), authenticated as the relay identity
 * (`AZURE_CLIENT_ID`; Monitoring Metrics Publisher on the resource, whose local auth is disabled). Without it,
 * nothing (the local stack registers its own Prometheus reader). Once per process; a failure is logged, never thrown.
 * Resolves to the started exporters, or undefined when telemetry is not configured or could not start.
 */
export async function startTelemetry(env: Env = process.env, options: { log?: RelayLog } = {}): Promise<AzureMonitorTelemetry | undefined> {
  const connectionString = env['APPLICATIONINSIGHTS_CONNECTION_STRING']?.trim();
  if (!connectionString) return undefined;
  try {
    const clientId = env[SETTINGS.clientId];
    const interval = Number(env['OTEL_METRIC_EXPORT_INTERVAL']);
    return await startAzureMonitor({
      connectionString,
      credential: new ManagedIdentityCredential(clientId ? { clientId } : {}),
      ...(env[SETTINGS.trustedCaPath] ? { trustedCa: readFileSync(env[SETTINGS.trustedCaPath]!, 'utf8') } : {}),
      ...(Number.isInteger(interval) && interval > 0 ? { metricExportIntervalInMs: interval } : {}),
    });
  } catch (error) {
    (options.log ?? consoleLog).error(`telemetry not started (metrics and traces are not sent): ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

let runtime: RelayRuntime | undefined;
let activities: Activities | undefined;
let configStore: ConfigStore | undefined;

/**
 * The process-wide runtime, built from `process.env` over the config in use. With a config blob
 * (`RELAY_CONFIG_BLOB_SERVICE_URI` or `RELAY_CONFIG_STORAGE_CONNECTION_STRING`) a new runtime is built whenever
 * {@link refreshConfig} loaded a new valid config; before the first load it throws `ConfigNotLoadedError`
 * (retryable). Without one, relay.config.json is read once.
 */
export function getRuntime(): RelayRuntime {
  const store = processConfigStore();
  const config = store ? store.current() : undefined;
  if (!runtime || (config && runtime.config !== config)) runtime = createRuntime(process.env, config ? { config } : {});
  return runtime;
}

/** The process-wide activities over `getRuntime()` (rebuilt with it when the config changed). */
export function getActivities(): Activities {
  const current = getRuntime();
  if (!activities || activityRuntime !== current) {
    activities = createActivities(current);
    activityRuntime = current;
  }
  return activities;
}
let activityRuntime: RelayRuntime | undefined;

/**
 * Reads the config blob when the refresh interval has passed (a conditional read: 304 when unchanged), so the next
 * `getRuntime()` uses a newly pushed valid config. Run before every invocation (functions/configRefresh.ts); never
 * throws. Undefined without a config blob, or when the interval has not passed.
 */
export async function refreshConfig(): Promise<ConfigRefresh | undefined> {
  return processConfigStore()?.refreshIfDue();
}

function processConfigStore(): ConfigStore | undefined {
  if (configStore === undefined && configBlobClientFrom(process.env)) configStore = createConfigStoreFrom(process.env, { log: consoleLog });
  return configStore;
}

/**
 * The config store over the config blob named by the settings (see {@link configBlobClientFrom}); undefined when the
 * config is a file. Makes no request until its first refresh.
 */
export function createConfigStoreFrom(env: Env, options: { log?: RelayLog; credential?: TokenCredential } = {}): ConfigStore | undefined {
  const blob = configBlobClientFrom(env, options);
  if (!blob) return undefined;
  return createConfigStore(blobConfigDocument(blob), {
    log: options.log ?? consoleLog,
    refreshIntervalInMs: intSetting(env, SETTINGS.configRefreshIntervalInMs, 30_000, 0, 3_600_000),
  });
}

/**
 * The config blob client: `RELAY_CONFIG_STORAGE_CONNECTION_STRING` (local, Azurite) or `RELAY_CONFIG_BLOB_SERVICE_URI`
 * with the given credential (default: the relay's managed identity, `AZURE_CLIENT_ID`), and `RELAY_CONFIG_BLOB`
 * (`<container>/<blob>`, default `config/relay.config.json`). Undefined when neither account setting is set.
 * Reading needs Storage Blob Data Reader on the container; `config push` needs Storage Blob Data Contributor.
 */
export function configBlobClientFrom(env: Env, options: { credential?: TokenCredential } = {}): BlockBlobClient | undefined {
  const connectionString = env[SETTINGS.configStorageConnectionString]?.trim();
  const serviceUri = env[SETTINGS.configBlobServiceUri]?.trim();
  if (!connectionString && !serviceUri) return undefined;
  const path = env[SETTINGS.configBlob]?.trim() || 'config/relay.config.json';
  const slash = path.indexOf('/');
  if (slash < 3 || slash === path.length - 1) throw new SettingsError(`${SETTINGS.configBlob} must be <container>/<blob name>`);
  const service = connectionString
    ? BlobServiceClient.fromConnectionString(connectionString)
    : new BlobServiceClient(
        serviceUri!,
        options.credential ?? new ManagedIdentityCredential(env[SETTINGS.clientId] ? { clientId: env[SETTINGS.clientId]! } : {}),
      );
  return service.getContainerClient(path.slice(0, slash)).getBlockBlobClient(path.slice(slash + 1));
}

/** Reads and validates the relay config; a bad config fails with every problem and its JSON path. */
export function loadConfig(env: Env): RelayConfig {
  const path = resolve(env[SETTINGS.configPath] || 'relay.config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SettingsError(`${SETTINGS.configPath}: cannot read ${path} as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const result = validateConfig(raw);
  if (!result.ok) {
    const problems = result.problems.map((p) => `  ${p.path}: ${p.code}: ${p.message}`).join('\n');
    throw new SettingsError(`${path} is not a valid relay config:\n${problems}`);
  }
  return result.config;
}

function fingerprintKeyFromSettings(env: Env): FingerprintKey {
  const encoded = env[SETTINGS.fingerprintKey];
  if (!encoded) throw new SettingsError(`${SETTINGS.fingerprintKey} is not set (base64 of at least 32 random bytes)`);
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.byteLength < 32) throw new SettingsError(`${SETTINGS.fingerprintKey} must decode to at least 32 bytes`);
  return fingerprintKeyFrom(env[SETTINGS.fingerprintKeyId] || 'fp1', bytes);
}

function intSetting(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new SettingsError(`${name} must be an integer ${min}-${max}`);
  return value;
}

/** Turns the orchestrations' audit entries into audit records (closed schema; messages only for failures). */
export function auditPort(log: AuditLog): AuditPort {
  return {
    async append(entries: readonly AuditEntry[]) {
      // One call: the entries are group-committed together (one Append Block when they fit), in order.
      await log.appendMany(entries.map(toRecordInput));
    },
    validate(entries: readonly AuditEntry[]) {
      for (const entry of entries) buildRecordContent(toRecordInput(entry));
    },
    query: (filter) => log.query(filter),
  };
}

export function toRecordInput(entry: AuditEntry): AuditRecordInput {
  const failed = entry.message !== undefined;
  return {
    action: entry.action,
    status: entry.status,
    actor: entry.cause.actor,
    cause: { instanceId: entry.instanceId, ...(entry.cause.eventId ? { eventId: entry.cause.eventId } : {}) },
    ...(entry.ref?.vaultUrl && entry.ref.name
      ? { source: { vault: entry.ref.vaultUrl, name: entry.ref.name, ...(entry.ref.version ? { version: entry.ref.version } : {}) } }
      : {}),
    ...(entry.target ? { target: entry.target } : {}),
    ...(entry.reason ? { reason: entry.reason } : {}),
    ...(entry.fingerprint ? { fingerprint: entry.fingerprint } : {}),
    ...(failed ? { error: { class: entry.reason ?? entry.status, message: entry.message } } : {}),
    time: entry.at,
  } as AuditRecordInput;
}

interface RotatorPorts {
  /** Reads the current value of a secret reference (`{source, secret}`) from a configured source vault. */
  readSecretReference(reference: { source: string; secret: string }): Promise<string>;
  /** A managed-identity token for a scope. */
  token(scope: string, clientId: string | undefined): Promise<string>;
  /** Reads a secret from a credential owner's vault (webhook answers by reference). */
  readOwnerSecret(vaultUrl: string, name: string, version: string | undefined): Promise<string>;
  readonly trustedCa?: string;
}

/** Imports `pg` (once; Node keeps the module). A failed import is a named, retryable rotator failure. */
async function loadPg(): Promise<typeof import('pg').default> {
  try {
    return (await import('pg')).default;
  } catch (error) {
    const cause = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
    throw new RotatorError(`the PostgreSQL client library pg could not be loaded (${cause.slice(0, 300)})`, 'FailedUnavailable', 'client-library-unavailable', true, { cause: error });
  }
}

/**
 * Builds the rotator of a route: PostgreSQL sessions over `pg` (imported by the first session, so a config without a
 * PostgreSQL rotator never loads it), HTTPS calls over `node:https`.
 */
function rotatorFromConfig(configured: PostgresRotatorConfig | WebhookRotatorConfig, ports: RotatorPorts): Rotator {
  if (configured.kind === 'postgres') {
    const ssl =
      configured.tls === 'disable' ? false
      : configured.tls === 'require' ? { rejectUnauthorized: false }
      : { rejectUnauthorized: true, ...(ports.trustedCa ? { ca: ports.trustedCa } : {}) };
    const connect = async (user: string, password: string): Promise<PgSession> => {
      const pg = await loadPg();
      const client = new pg.Client({
        host: configured.host,
        port: configured.port,
        database: configured.database,
        user,
        password,
        ssl,
        connectionTimeoutMillis: 10_000,
        query_timeout: 30_000,
      });
      // An idle client error (server restart) must not crash the host; the call that uses it fails instead.
      client.on('error', () => undefined);
      try {
        await client.connect();
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      return client;
    };
    return createPostgresRotator({
      roles: configured.roles,
      server: { host: configured.host, port: configured.port, database: configured.database },
      connectAdmin: async () => connect(configured.adminUser, await ports.readSecretReference(configured.adminPassword)),
      connectAs: (user, password) => connect(user, password),
    });
  }
  const auth = configured.auth;
  const ownerVault = configured.ownerVaultUrl;
  return createWebhookRotator({
    url: configured.url,
    slots: configured.slots,
    timeoutInMs: configured.timeoutInMs,
    maxAttempts: configured.maxAttempts,
    post: httpsPost(ports.trustedCa),
    auth:
      auth.type === 'managedIdentity'
        ? { type: 'bearer', token: () => ports.token(auth.scope, auth.identity?.clientId) }
        : { type: 'hmac', key: () => ports.readSecretReference(auth.key) },
    ...(ownerVault
      ? {
          readOwnerSecret: async (reference: { vaultUrl: string; name: string; version?: string }) => {
            if (new URL(reference.vaultUrl).host.toLowerCase() !== new URL(ownerVault).host.toLowerCase()) {
              throw new RotatorError(`the owner answered with a reference into ${new URL(reference.vaultUrl).host}, not its configured vault`, 'FailedValidation', 'owner-vault-mismatch', false);
            }
            return ports.readOwnerSecret(ownerVault, reference.name, reference.version);
          },
        }
      : {}),
  });
}

/** One POST over node:https (node:http only for local http:// endpoints), with a timeout and the trusted CA. */
/** Largest owner answer a webhook rotation reads. */
const MAX_OWNER_ANSWER_BYTES = 256 * 1024;

function httpsPost(trustedCa: string | undefined): HttpsPost {
  return (url, body, options) =>
    new Promise((resolvePost, rejectPost) => {
      const target = new URL(url);
      const send = target.protocol === 'http:' ? httpRequest : httpsRequest;
      const req = send(
        target,
        {
          method: 'POST',
          headers: { ...options.headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: options.timeoutInMs,
          ...(trustedCa && target.protocol === 'https:' ? { ca: trustedCa } : {}),
          ...(options.abortSignal ? { signal: options.abortSignal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let received = 0;
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            // An owner's answer is a small JSON document (a Key Vault value is ≤ 25 KiB): a larger one is refused
            // before it fills memory, and its content is never quoted.
            if (received > MAX_OWNER_ANSWER_BYTES) {
              req.destroy(new Error(`the answer is larger than ${MAX_OWNER_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            const headers: Record<string, string | undefined> = {};
            for (const [key, value] of Object.entries(res.headers)) headers[key] = Array.isArray(value) ? value.join(', ') : value;
            resolvePost({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers });
          });
          res.on('error', rejectPost);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${options.timeoutInMs} ms`)));
      req.on('error', rejectPost);
      req.end(body);
    });
}

function reportPort(container: ContainerClient): ReportPort {
  let ensured = false;
  return {
    async writeDriftReport(report: ReconcileReport) {
      if (!ensured) {
        await container.createIfNotExists();
        ensured = true;
      }
      const day = report.startedAt.slice(0, 10).replace(/-/g, '/');
      const name = `drift/${day}/${report.startedAt.replace(/[:.]/g, '')}-${report.instanceId.replace(/[^A-Za-z0-9-]/g, '_')}.json`;
      const body = JSON.stringify(report, null, 2);
      await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      return `${container.containerName}/${name}`;
    },
    latestDriftReport: () => latestDriftReportIn(container),
  };
}

const consoleLog: RelayLog = {
  debug: (message) => {
    if (process.env[SETTINGS.logLevel] === 'debug') console.debug(`[relay] ${message}`);
  },
  info: (message) => console.info(`[relay] ${message}`),
  warn: (message) => console.warn(`[relay] ${message}`),
  error: (message) => console.error(`[relay] ${message}`),
};
