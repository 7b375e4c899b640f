import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import { startAzurite, type AzuriteBlob } from './azurite.js';
import { startHost, type LocalHost, type LogEntry } from './host/index.js';
import { startTokenEndpoint, type TokenEndpoint } from './identity/index.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from './keyvault/index.js';
import { startKubernetesEmulator, type KubernetesEmulator } from './kubernetes/index.js';
import { startLocalMetrics } from './telemetry.js';
import { renderPostgresPlaceholders, seedDemoCredential, startDemoPostgres, type LocalPostgres } from './postgres.js';

/** What `.local/stack.json` holds: everything tests, benchmarks and tools need to reach the running stack. */
export interface StackInfo {
  /** `key`: the default function key; `masterKey`: accepted everywhere; `durableTaskKey`: the `durabletask_extension` system key. */
  functions: { baseUrl: string; key: string; masterKey: string; durableTaskKey: string };
  /** Event Grid webhook URLs, each with the `eventgrid_extension` system key as `code`. */
  webhooks: { keyVaultEvents: string; credentialRotationEvents: string };
  keyVault: { caCertPath: string; adminUrl: string; vaults: Record<string, string> };
  kubernetes: { clusters: Record<string, { server: string; token: string; adminToken: string; caCertPath: string; adminUrl: string }> };
  identity: { endpoint: string };
  storage: { connectionString: string; auditContainer: string; reportsContainer: string; sealContainer: string };
  /** The keyed audit chain: its key id and the file holding the key (base64), as `AUDIT_CHAIN_KEY` gets it. */
  audit: { chainKeyId: string; chainKeyPath: string };
  /** The relay's OpenTelemetry metrics in Prometheus text format (`GET`, no key). */
  metrics: { url: string };
  /** The web console, with the function key in the URL (`code`) so the link opens as printed (docs/console.md). */
  dashboard: { url: string };
  configPath: string;
  durableDir: string;
  /** The demo PostgreSQL server (absent when PostgreSQL is not installed). */
  postgres?: { host: string; port: number; database: string };
}

export interface StartStackOptions {
  /** Folder for state and stack.json (default `.local`). */
  stateDir?: string;
  /** Port of the Functions host (default 7071; 0 picks a free one). */
  port?: number;
  /** Config template with `{{vault:<name>}}` / `{{cluster:<name>:server|caCertPath}}` placeholders. */
  configTemplate?: string;
  /** Modules of the function app (default: every file of functions/ next to this module). */
  app?: string[];
  /** Host and invocation logs (default: printed to stderr). */
  log?: (entry: LogEntry) => void;
  /** Extra settings for the app (override the stack's). */
  settings?: Record<string, string>;
  /** Durable timers and retry back-off run this many times faster (tests). */
  timeScale?: number;
  /** Emulated vaults (default platform, contoso, fabrikam; `platform` is always the event source). */
  vaults?: readonly string[];
  /** Namespaces of the emulated cluster (default apps). */
  namespaces?: readonly string[];
  /** Start the demo PostgreSQL server when installed (default: when the config template has `{{postgres:…}}`). */
  postgres?: boolean;
}

export interface Stack {
  readonly info: StackInfo;
  readonly host: LocalHost;
  readonly keyVault: KeyVaultEmulator;
  readonly kubernetes: KubernetesEmulator;
  readonly azurite: AzuriteBlob;
  /** The settings the app runs with (what `startHost` got), e.g. to run the app in another process against this stack. */
  readonly settings: Readonly<Record<string, string>>;
  /** The demo database (docs/rotation.md), when PostgreSQL is installed. */
  readonly postgres?: LocalPostgres;
  close(): Promise<void>;
}

export const DEMO_VAULTS = ['platform', 'contoso', 'fabrikam'] as const;
export const DEMO_CLUSTER = 'edge-1';
export const DEMO_NAMESPACE = 'apps';
export const DEMO_DEPLOYMENT = 'api';
const here = dirname(fileURLToPath(import.meta.url));
/** The project root, whether this runs from local/ (tsx, tests) or from dist/local/ (npm start). */
const projectRoot = here.endsWith(join('dist', 'local')) ? resolve(here, '..', '..') : resolve(here, '..');

/**
 * Starts the whole app on one machine: Azurite, the Key Vault emulator (platform, contoso, fabrikam), the
 * Kubernetes emulator (edge-1), a local managed-identity endpoint, and the local Functions host running the app
 * with the demo config; wires the source vault's events to the host's Event Grid webhook; writes stack.json.
 * Production code runs unchanged: only settings point it at the local services.
 */
export async function startStack(options: StartStackOptions = {}): Promise<Stack> {
  const stateDir = resolve(options.stateDir ?? '.local');
  mkdirSync(stateDir, { recursive: true });
  const port = options.port ?? 7071;
  if (port !== 0 && !(await isPortFree(port))) {
    throw new Error(`port ${port} is in use; stop what runs there or start with PORT=<free port> npm start`);
  }
  // Emulated vaults and Azurite keep state in memory, so durable state from an earlier run would point at nothing.
  const durableDir = join(stateDir, 'durable');
  rmSync(durableDir, { recursive: true, force: true });

  const started: { close(): Promise<void> | void }[] = [];
  try {
    // Before the host imports the app: the relay's instruments bind to this provider.
    const localMetrics = await startLocalMetrics();
    started.push(localMetrics);
    const azurite = await startAzurite();
    started.push({ close: () => azurite.stop() });
    const identity: TokenEndpoint = await startTokenEndpoint();
    started.push(identity);
    const keyVault = await startKeyVaultEmulator({ vaults: [...(options.vaults ?? DEMO_VAULTS)], stateDir: join(stateDir, 'keyvault') });
    started.push(keyVault);
    const kubernetes = await startKubernetesEmulator({
      cluster: DEMO_CLUSTER,
      stateDir: join(stateDir, 'kubernetes'),
      namespaces: [...(options.namespaces ?? [DEMO_NAMESPACE])],
    });
    started.push(kubernetes);
    if ((options.namespaces ?? [DEMO_NAMESPACE]).includes(DEMO_NAMESPACE)) await createDemoDeployment(kubernetes);

    // The relay reads the cluster token from the platform vault, as it would in Azure (tokenSecret access mode).
    keyVault.createSecret('platform', 'edge-1-relay-token', kubernetes.tokens.relay!, { emitEvent: false });

    const templatePath = options.configTemplate ?? join(projectRoot, 'local', 'demo.config.json');
    const wantsPostgres = options.postgres ?? readFileSync(templatePath, 'utf8').includes('{{postgres:');
    const postgres = wantsPostgres ? await startDemoPostgres(keyVault, (line) => process.stderr.write(`${line}\n`)) : undefined;
    if (postgres) started.push({ close: () => postgres.stop() });

    const configPath = join(stateDir, 'relay.config.json');
    const configText = renderConfig(templatePath, keyVault, kubernetes);
    writeFileSync(configPath, renderPostgresPlaceholders(configText, postgres));

    const settings: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      TASKHUB_NAME: 'SecretRelayLocal',
      RELAY_CONFIG_PATH: configPath,
      RELAY_FINGERPRINT_KEY: fingerprintKey(stateDir),
      RELAY_FINGERPRINT_KEY_ID: 'local1',
      AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AUDIT_CONTAINER: 'audit',
      // A keyed, sealed chain, as in production (docs/security.md).
      AUDIT_CHAIN_KEY: chainKey(stateDir),
      AUDIT_CHAIN_KEY_ID: CHAIN_KEY_ID,
      AUDIT_SEAL_CONTAINER: 'audit-seals',
      RELAY_REPORTS_CONTAINER: 'reports',
      RELAY_TRUSTED_CA_PATH: keyVault.caCertPath,
      RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
      ...identity.env,
      ...options.settings,
    };
    const host = await startHost({
      app: options.app ?? appModules(),
      hostJsonPath: join(projectRoot, 'host.json'),
      port,
      settings,
      durableDir,
      ...(options.log ? { log: options.log } : {}),
      ...(options.timeScale ? { timeScale: options.timeScale } : {}),
    });
    started.push(host);
    keyVault.subscribe('platform', host.eventGridUrl('keyVaultEvents'), 'eventGrid');
    if (postgres) await seedDemoCredential(keyVault, postgres);

    const info: StackInfo = {
      functions: { baseUrl: host.baseUrl, key: host.functionKey, masterKey: host.masterKey, durableTaskKey: host.durableTaskKey },
      webhooks: {
        keyVaultEvents: host.eventGridUrl('keyVaultEvents'),
        credentialRotationEvents: host.eventGridUrl('credentialRotationEvents'),
      },
      keyVault: { caCertPath: keyVault.caCertPath, adminUrl: keyVault.adminUrl, vaults: { ...keyVault.vaultUrls } },
      kubernetes: {
        clusters: {
          [DEMO_CLUSTER]: {
            server: kubernetes.server,
            token: kubernetes.tokens.relay!,
            adminToken: kubernetes.tokens.admin!,
            caCertPath: kubernetes.caCertPath,
            adminUrl: kubernetes.adminUrl,
          },
        },
      },
      identity: { endpoint: identity.url },
      storage: { connectionString: azurite.connectionString, auditContainer: 'audit', reportsContainer: 'reports', sealContainer: settings['AUDIT_SEAL_CONTAINER'] ?? 'audit-seals' },
      audit: { chainKeyId: settings['AUDIT_CHAIN_KEY_ID'] ?? CHAIN_KEY_ID, chainKeyPath: join(stateDir, 'audit-chain.key') },
      metrics: { url: localMetrics.url },
      dashboard: { url: consoleUrl(host.baseUrl, host.functionKey) },
      configPath,
      durableDir,
      ...(postgres ? { postgres: { host: postgres.host, port: postgres.port, database: postgres.database } } : {}),
    };
    writeFileSync(join(stateDir, 'stack.json'), `${JSON.stringify(info, null, 2)}\n`);
    kubernetes.writeKubeconfig(join(stateDir, 'kubeconfig'), kubernetes.tokens.admin!);

    return {
      info,
      host,
      keyVault,
      kubernetes,
      azurite,
      settings,
      ...(postgres ? { postgres } : {}),
      async close() {
        for (const service of started.reverse()) await service.close();
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await Promise.resolve(service.close()).catch(() => undefined);
    throw error;
  }
}

/** The console's URL with the key the local host checks before serving it. */
export function consoleUrl(baseUrl: string, functionKey: string): string {
  return `${baseUrl.replace(/\/$/, '')}/api/console?code=${encodeURIComponent(functionKey)}`;
}

/** The function app's modules: every .js (built) or .ts (tests, tsx) file in functions/. */
export function appModules(): string[] {
  const dir = resolve(here, '..', 'functions');
  const ext = fileURLToPath(import.meta.url).endsWith('.ts') ? '.ts' : '.js';
  return readdirSync(dir)
    .filter((file) => file.endsWith(ext) && !file.endsWith('.d.ts'))
    .sort()
    .map((file) => join(dir, file));
}

function renderConfig(templatePath: string, keyVault: KeyVaultEmulator, kubernetes: KubernetesEmulator): string {
  const text = readFileSync(templatePath, 'utf8');
  return text.replace(/\{\{(vault|cluster):([^}:]+)(?::([^}]+))?\}\}/g, (match, kind: string, name: string, field?: string) => {
    if (kind === 'vault') {
      const url = keyVault.vaultUrls[name];
      if (!url) throw new Error(`${templatePath}: ${match} names no emulated vault`);
      return url;
    }
    if (name !== kubernetes.cluster) throw new Error(`${templatePath}: ${match} names no emulated cluster`);
    if (field === 'server') return kubernetes.server;
    if (field === 'caCertPath') return kubernetes.caCertPath;
    throw new Error(`${templatePath}: ${match}: use server or caCertPath`);
  });
}

/** A fingerprint key kept across restarts, so fingerprints in audit records stay comparable. */
function fingerprintKey(stateDir: string): string {
  const file = join(stateDir, 'fingerprint.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const CHAIN_KEY_ID = 'local-ck1';

/** The audit chain key, kept across restarts like the fingerprint key (the audit trail of Azurite is in memory, but tools read the file). */
function chainKey(stateDir: string): string {
  const file = join(stateDir, 'audit-chain.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function createDemoDeployment(kubernetes: KubernetesEmulator): Promise<void> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kubernetes.kubeconfig(kubernetes.tokens.admin!));
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace: DEMO_NAMESPACE,
    body: {
      metadata: { name: DEMO_DEPLOYMENT, namespace: DEMO_NAMESPACE },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: DEMO_DEPLOYMENT } },
        template: {
          metadata: { labels: { app: DEMO_DEPLOYMENT } },
          spec: { containers: [{ name: DEMO_DEPLOYMENT, image: 'example/api:1' }] },
        },
      },
    },
  });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort(true)));
  });
}

function tryThis(info: StackInfo, stateDir: string): string {
  const rel = (p: string) => p.replace(`${process.cwd()}/`, '');
  const platform = info.keyVault.vaults.platform!;
  const api = `${info.functions.baseUrl}/api`;
  return [
    '',
    'Secret Relay is running locally:',
    `  Functions host     ${info.functions.baseUrl}  (function key: ${info.functions.key})`,
    `  Console            ${info.dashboard.url}`,
    ...Object.entries(info.keyVault.vaults).map(([name, url]) => `  Key Vault ${name.padEnd(9)}${url}`),
    `  Kubernetes ${DEMO_CLUSTER}    ${info.kubernetes.clusters[DEMO_CLUSTER]!.server}  (kubeconfig: ${rel(join(stateDir, 'kubeconfig'))})`,
    `  Blob Storage       ${info.storage.connectionString.match(/BlobEndpoint=([^;]+)/)?.[1] ?? ''}`,
    `  Metrics            ${info.metrics.url}  (Prometheus text; docs/operations.md)`,
    `  Config             ${rel(info.configPath)}   Stack: ${rel(join(stateDir, 'stack.json'))}`,
    '',
    `${info.postgres ? 'Four' : 'Three'} things to try (in another terminal, from this folder):`,
    '',
    '1. Set a new version of a secret in the platform vault; the relay delivers it to contoso, fabrikam and edge-1:',
    `   curl -s -o /dev/null -w '%{http_code}\\n' --cacert ${rel(info.keyVault.caCertPath)} -X PUT -H 'Authorization: Bearer local' \\`,
    `     -H 'Content-Type: application/json' "${platform}/secrets/cluster-admin-password?api-version=7.4" \\`,
    `     -d "{\\"value\\":\\"$(openssl rand -hex 16)\\"}"`,
    `   curl -s "${api}/secrets/platform/cluster-admin-password?code=${info.functions.key}"`,
    '',
    '2. Rotate it on demand (202 with a status URL), then read the per-target outcomes:',
    `   curl -s -X POST "${api}/rotations?code=${info.functions.key}" -H 'Content-Type: application/json' \\`,
    `     -d '{"source":"platform","name":"cluster-admin-password","mode":"rotate"}'`,
    `   curl -s "${api}/rotations/<id from the answer>?code=${info.functions.key}"`,
    '',
    '3. Read and verify the audit trail (no values in it, only keyed fingerprints):',
    '   npm run secret-relay -- audit query --stack',
    '   npm run secret-relay -- audit verify --stack',
    '',
    ...(info.postgres
      ? [
          '4. Rotate the demo database credential while a client logs in every 100 ms (docs/rotation.md):',
          '   npx tsx local/dbRotationDemo.ts',
          '',
        ]
      : []),
    'Deliveries are logged below as they happen. Ctrl-C stops everything.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const stateDir = resolve(process.env.RELAY_STATE_DIR ?? '.local');
  const port = process.env.PORT ? Number(process.env.PORT) : 7071;
  const stack = await startStack({ stateDir, port });
  process.stdout.write(tryThis(stack.info, stateDir));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping Secret Relay…\n');
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
