/**
 * Starts the Key Vault emulator in-process: one HTTPS origin per vault, a plain-http admin origin, TLS material in
 * the state directory, counters, faults and event delivery.
 */
import { mkdtemp } from 'node:fs/promises';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminServer } from './admin-server.js';
import { DEFAULT_TENANT_ID } from './auth.js';
import { loadOrCreateTls } from './certs.js';
import { CounterBook } from './counters.js';
import { EventPublisher, vaultTopic, type EventDeliveryOptions } from './events.js';
import { FaultInjector } from './faults.js';
import { closeServer, listen, urlHost } from './http.js';
import { VaultStore, type StoredSecret, type StoredVersion } from './store.js';
import type {
  ActiveFault,
  AdminSecretProperties,
  CreateSecretOptions,
  DeliveryRecord,
  EventSchema,
  EventSubscription,
  FaultRule,
  KeyVaultSecretEventType,
  VaultCounters,
  VaultInfo,
} from './types.js';
import { isValidVaultName, optionalBoolean, optionalUnixSeconds } from './validation.js';
import { secretId } from './wire.js';
import { createVaultServer } from './vault-server.js';

export interface KeyVaultEmulatorOptions {
  /** Vault names (3–24 of [A-Za-z0-9-]); each gets its own HTTPS origin. */
  vaults: readonly string[];
  /** Where the CA and leaf certificate live (created when missing). Default: a fresh temporary directory. */
  stateDir?: string;
  /** Listen address of every origin (default 127.0.0.1). */
  host?: string;
  /** Port per vault name (default 0 = any free port). */
  ports?: Readonly<Record<string, number>>;
  /** Port of the admin origin (default 0). */
  adminPort?: number;
  /** Tenant named in the 401 challenge (default a fixed local GUID). */
  tenantId?: string;
  /** Delay before a deletion is visible at GET /deletedsecrets/{n} (default 0). */
  deleteDelayInMs?: number;
  /** Delay before a recovered secret is visible at GET /secrets/{n} (default 0). */
  recoverDelayInMs?: number;
  /** Soft-delete retention in days reported as recoverableDays and used for scheduledPurgeDate (default 90). */
  recoverableDays?: number;
  eventDelivery?: EventDeliveryOptions;
}

/** A running emulator. Every method is synchronous except waiting for events and closing. */
export interface KeyVaultEmulator {
  /** Vault name → `https://127.0.0.1:<port>` (no trailing slash). */
  readonly vaultUrls: Readonly<Record<string, string>>;
  /** `http://127.0.0.1:<port>` of the admin API. */
  readonly adminUrl: string;
  readonly caCertPem: string;
  readonly caCertPath: string;
  readonly stateDir: string;
  readonly tenantId: string;
  /** Vault name → the Event Grid `topic` (ARM id) its events carry. */
  readonly eventTopics: Readonly<Record<string, string>>;
  vaults(): VaultInfo[];
  counters(): Record<string, VaultCounters>;
  counters(vault: string): VaultCounters;
  resetCounters(): void;
  /** The most authenticated requests of one vault served at once (injected latency included) since the last reset. */
  peakInFlight(vault: string): number;
  /** Replaces every fault rule. */
  setFaults(rules: readonly FaultRule[]): ActiveFault[];
  addFault(rule: FaultRule): ActiveFault;
  removeFault(id: string): boolean;
  listFaults(): ActiveFault[];
  clearFaults(): void;
  /** Registers a webhook for the vault's secret events; the same endpoint+schema twice is one subscription. */
  subscribe(vault: string, endpoint: string, schema?: EventSchema): EventSubscription;
  unsubscribe(id: string): boolean;
  subscriptions(vault?: string): EventSubscription[];
  deliveries(): DeliveryRecord[];
  /** Resolves when every event delivery started so far has succeeded or given up. */
  whenEventsDelivered(): Promise<void>;
  /** Creates a new secret version directly (test setup; no auth, no counters, no faults). Emits an event unless told not to. */
  createSecret(vault: string, name: string, value: string, options?: CreateSecretOptions): AdminSecretProperties;
  /** Enables or disables a version (latest when `version` is omitted). */
  setSecretEnabled(vault: string, name: string, enabled: boolean, options?: { version?: string }): AdminSecretProperties;
  /** Latest-version properties of every live secret (never values). */
  listSecretProperties(vault: string): AdminSecretProperties[];
  /** Emits an event for a secret version now (e.g. SecretNearExpiry); returns the event id. */
  emitEvent(vault: string, name: string, eventType: KeyVaultSecretEventType, options?: { version?: string }): string;
  close(): Promise<void>;
}

interface VaultRuntime {
  name: string;
  url: string;
  store: VaultStore;
  server: Server;
}

/** Starts the emulator. Call `close()` when done; it stops every listener and all event retries. */
export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions): Promise<KeyVaultEmulator> {
  if (options.vaults.length === 0) throw new TypeError('at least one vault is required');
  const seen = new Set<string>();
  for (const v of options.vaults) {
    if (!isValidVaultName(v)) throw new TypeError(`invalid vault name ${JSON.stringify(v)} (3-24 of A-Z a-z 0-9 -)`);
    if (seen.has(v.toLowerCase())) throw new TypeError(`duplicate vault name ${v}`);
    seen.add(v.toLowerCase());
  }
  const host = options.host ?? '127.0.0.1';
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'kv-emulator-')));
  const tls = await loadOrCreateTls(stateDir, [host]);
  const counters = new CounterBook(options.vaults);
  const faults = new FaultInjector();
  const events = new EventPublisher(options.eventDelivery);
  const runtimes = new Map<string, VaultRuntime>();
  const started: Server[] = [];

  const vaultOf = (vault: string): VaultRuntime => {
    const rt = runtimes.get(vault.toLowerCase());
    if (!rt) throw new TypeError(`unknown vault ${vault}`);
    return rt;
  };
  const newVersionEvent = (rt: VaultRuntime, secret: StoredSecret, version: StoredVersion): void => {
    events.publish({
      vault: rt.name,
      vaultUrl: rt.url,
      eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
      name: secret.name,
      version: version.version,
      ...(version.notBefore === undefined ? {} : { notBefore: version.notBefore }),
      ...(version.expiresOn === undefined ? {} : { expiresOn: version.expiresOn }),
    });
  };
  const adminProps = (rt: VaultRuntime, secret: StoredSecret, v: StoredVersion): AdminSecretProperties => ({
    vault: rt.name,
    name: secret.name,
    version: v.version,
    id: secretId(rt.url, secret.name, v.version),
    enabled: v.enabled,
    createdOn: v.createdOn,
    updatedOn: v.updatedOn,
    ...(v.contentType === undefined ? {} : { contentType: v.contentType }),
    ...(v.tags === undefined ? {} : { tags: { ...v.tags } }),
    ...(v.notBefore === undefined ? {} : { notBefore: v.notBefore }),
    ...(v.expiresOn === undefined ? {} : { expiresOn: v.expiresOn }),
  });

  try {
    for (const name of options.vaults) {
      const store = new VaultStore({
        ...(options.deleteDelayInMs === undefined ? {} : { deleteDelayInMs: options.deleteDelayInMs }),
        ...(options.recoverDelayInMs === undefined ? {} : { recoverDelayInMs: options.recoverDelayInMs }),
        ...(options.recoverableDays === undefined ? {} : { recoverableDays: options.recoverableDays }),
      });
      const rt: VaultRuntime = { name, url: '', store, server: undefined as unknown as Server };
      rt.server = createVaultServer({
        vault: name,
        store,
        counters,
        faults,
        tenantId,
        tls: { key: tls.serverKeyPem, cert: tls.serverCertPem },
        onNewVersion: (secret, version) => newVersionEvent(rt, secret, version),
      });
      const port = await listen(rt.server, options.ports?.[name] ?? 0, host);
      started.push(rt.server);
      rt.url = `https://${urlHost(host)}:${port}`;
      runtimes.set(name.toLowerCase(), rt);
    }
  } catch (error) {
    await Promise.all(started.map((s) => closeServer(s)));
    throw error;
  }

  const vaultUrls = Object.fromEntries([...runtimes.values()].map((rt) => [rt.name, rt.url]));

  function counterView(): Record<string, VaultCounters>;
  function counterView(vault: string): VaultCounters;
  function counterView(vault?: string): Record<string, VaultCounters> | VaultCounters {
    return vault === undefined ? counters.all() : counters.get(vaultOf(vault).name);
  }

  const emulator: KeyVaultEmulator = {
    vaultUrls,
    adminUrl: '',
    caCertPem: tls.caCertPem,
    caCertPath: tls.caCertPath,
    stateDir,
    tenantId,
    eventTopics: Object.fromEntries([...runtimes.values()].map((rt) => [rt.name, vaultTopic(rt.name, options.eventDelivery)])),
    vaults: () => [...runtimes.values()].map((rt) => ({ name: rt.name, url: rt.url })),
    counters: counterView,
    resetCounters: () => counters.reset(),
    peakInFlight: (vault) => counters.peakInFlight(vaultOf(vault).name),
    setFaults: (rules) => faults.set(rules.map((r) => normalizeVault(r))),
    addFault: (rule) => faults.add(normalizeVault(rule)),
    removeFault: (id) => faults.remove(id),
    listFaults: () => faults.list(),
    clearFaults: () => faults.clear(),
    subscribe: (vault, endpoint, schema = 'eventGrid') => events.subscribe(vaultOf(vault).name, endpoint, schema),
    unsubscribe: (id) => events.unsubscribe(id),
    subscriptions: (vault) => events.list(vault === undefined ? undefined : vaultOf(vault).name),
    deliveries: () => events.deliveries(),
    whenEventsDelivered: () => events.idle(),
    createSecret(vault, name, value, opts = {}) {
      const rt = vaultOf(vault);
      const enabled = optionalBoolean(opts.enabled, 'enabled');
      const notBefore = optionalUnixSeconds(opts.notBefore, 'notBefore');
      const expiresOn = optionalUnixSeconds(opts.expiresOn, 'expiresOn');
      const { secret, version } = rt.store.setSecret(name, {
        value,
        contentType: opts.contentType,
        tags: opts.tags,
        ...(enabled === undefined ? {} : { enabled }),
        ...(notBefore === undefined ? {} : { notBefore }),
        ...(expiresOn === undefined ? {} : { expiresOn }),
      });
      if (opts.emitEvent !== false) newVersionEvent(rt, secret, version);
      return adminProps(rt, secret, version);
    },
    setSecretEnabled(vault, name, enabled, opts = {}) {
      const rt = vaultOf(vault);
      const { secret, version } = rt.store.updateProperties(name, opts.version, { enabled });
      return adminProps(rt, secret, version);
    },
    listSecretProperties(vault) {
      const rt = vaultOf(vault);
      return rt.store.listSecrets().map((s) => {
        const latest = s.versions.at(-1) as StoredVersion;
        return adminProps(rt, s, latest);
      });
    },
    emitEvent(vault, name, eventType, opts = {}) {
      const rt = vaultOf(vault);
      const { secret, version } = rt.store.getVersion(name, opts.version);
      return events.publish({
        vault: rt.name,
        vaultUrl: rt.url,
        eventType,
        name: secret.name,
        version: version.version,
        ...(version.notBefore === undefined ? {} : { notBefore: version.notBefore }),
        ...(version.expiresOn === undefined ? {} : { expiresOn: version.expiresOn }),
      });
    },
    async close() {
      events.close();
      await Promise.all([...started.map((s) => closeServer(s)), closeServer(adminServer)]);
    },
  };

  const adminServer = createAdminServer(emulator);
  let adminPort: number;
  try {
    adminPort = await listen(adminServer, options.adminPort ?? 0, host);
  } catch (error) {
    await Promise.all(started.map((s) => closeServer(s)));
    throw error;
  }
  (emulator as { adminUrl: string }).adminUrl = `http://${urlHost(host)}:${adminPort}`;
  return emulator;

  function normalizeVault(rule: FaultRule): FaultRule {
    return rule.vault === undefined ? rule : { ...rule, vault: vaultOf(rule.vault).name };
  }
}
