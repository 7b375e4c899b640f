import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import type { ContainerClient } from '@azure/storage-blob';
import { createActivities, type Activities } from './activities.js';
import { auditContainerFromSettings, auditSettingsFrom, buildRecordContent, createAuditLog, type AuditLog, type AuditRecordInput } from './audit/index.js';
import { validateConfig, type RelayConfig, type TargetConfig } from './domain/config.js';
import { fingerprintKeyFrom, type FingerprintKey } from './domain/fingerprint.js';
import type { AuditEntry, ReconcileReport } from './orchestrations/types.js';
import { generateValue } from './rotation/index.js';
import { blobLeaseLocks } from './locks/index.js';
import type { AuditPort, RelayLog, RelayRuntime, ReportPort, SourcePort } from './runtime.js';
import { cachedSourceVault } from './sources/cachedSourceVault.js';
import { createSourceVault } from './sources/index.js';
import type { TargetClient } from './targets/contract.js';
import { KeyVaultTarget } from './targets/keyVault/index.js';
import { SecretClient } from '@azure/keyvault-secrets';
import { createKubernetesTarget } from './targets/kubernetes/index.js';

/** Every setting the app reads (documented in docs/deployment.md; local values in local.settings.sample.json). */
export const SETTINGS = {
  configPath: 'RELAY_CONFIG_PATH',
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
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** A setting is missing or invalid; the message names it (never its value). */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Builds the relay runtime from settings: the only place SDK clients are constructed. Production and the local
 * stack run the same code; the stack only sets the endpoints, the token endpoint and the CA to local values.
 */
export function createRuntime(env: Env = process.env, options: { log?: RelayLog } = {}): RelayRuntime {
  const config = loadConfig(env);
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
      });
    }
    const auth = configured.cluster.auth;
    return createKubernetesTarget({
      targetId: configured.id,
      cluster: configured.cluster,
      namespace: configured.namespace,
      fingerprintKey,
      writeBudget: configured.writeBudget,
      log,
      ...(auth.type === 'aad' ? { credential: credentialFor(auth.identity?.clientId) } : {}),
      readSecretValue: async (sourceId: string, name: string) => {
        const port = source(sourceId);
        const latest = await port.getLatestProperties(name);
        if (!latest) throw new Error(`cluster credential ${sourceId}/${name} does not exist`);
        return (await port.readVersion(name, latest.version, fingerprintKey)).value;
      },
    });
  }

  const auditContainer = auditContainerFromSettings(env);
  const auditLog = createAuditLog({ containerClient: auditContainer, ...shardsOf(env) });
  // Drift reports live beside the audit container, in the same account and with the same access.
  const reportsContainer = auditContainerFromSettings({ ...env, AUDIT_CONTAINER: env[SETTINGS.reportsContainer] || 'reports' });

  return {
    config,
    fingerprintKey,
    source,
    target,
    audit: auditPort(auditLog),
    reports: reportPort(reportsContainer),
    // Delivery locks live in the reports container (same account and access), under `locks/`.
    locks: blobLeaseLocks(reportsContainer),
    limits: {
      maxConcurrent: intSetting(env, SETTINGS.maxConcurrentDeliveries, 50, 1, 1000),
      maxPerEndpoint: intSetting(env, SETTINGS.maxConcurrentPerTarget, 4, 1, 100),
    },
    checkTimeLimitInMs: intSetting(env, SETTINGS.checkTimeLimitInMs, 30_000, 100, 600_000),
    generateValue,
    log,
    now: () => new Date(),
  };
}

let runtime: RelayRuntime | undefined;
let activities: Activities | undefined;

/** The process-wide runtime, built on first use from `process.env`. */
export function getRuntime(): RelayRuntime {
  runtime ??= createRuntime();
  return runtime;
}

/** The process-wide activities over `getRuntime()`. */
export function getActivities(): Activities {
  activities ??= createActivities(getRuntime());
  return activities;
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

function shardsOf(env: Env): { shards?: number } {
  const settings = auditSettingsFrom(env);
  return settings.shards ? { shards: settings.shards } : {};
}

/** Turns the orchestrations' audit entries into audit records (closed schema; messages only for failures). */
export function auditPort(log: AuditLog): AuditPort {
  return {
    async append(entries: readonly AuditEntry[]) {
      for (const entry of entries) await log.append(toRecordInput(entry));
    },
    validate(entries: readonly AuditEntry[]) {
      for (const entry of entries) buildRecordContent(toRecordInput(entry));
    },
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
  };
}

const consoleLog: RelayLog = {
  info: (message) => console.info(`[relay] ${message}`),
  warn: (message) => console.warn(`[relay] ${message}`),
  error: (message) => console.error(`[relay] ${message}`),
};
