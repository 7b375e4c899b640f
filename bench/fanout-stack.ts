import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAzurite } from '../local/azurite.js';
import { startHost, type LocalHost, type LogEntry } from '../local/host/index.js';
import { startTokenEndpoint } from '../local/identity/index.js';
import { createKeyVaultAdminClient, type KeyVaultAdminClient } from '../local/keyvault/admin-client.js';

// The fan-out benchmark's stack with the emulators out of the app's process: the Key Vault and Kubernetes emulators
// run as their standalone programs (local/keyvault/main.ts, local/kubernetes/main.ts) in child processes, Azurite is
// a child process anyway; the app, the local Functions host and the tiny token endpoint stay in this process, so
// this process's RSS is the app's. Same settings as `startStack` (local/stack.ts) for what the fan-out uses.

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

export interface SplitStack {
  readonly host: LocalHost;
  /** `host:port` of Azurite's blob endpoint (locks, write tokens, audit). */
  readonly storageHost: string;
  readonly vaultUrls: Record<string, string>;
  readonly caCertPath: string;
  readonly cluster: { readonly server: string; readonly caCertPath: string; readonly adminKubeconfigPath: string };
  readonly keyVault: KeyVaultAdminClient;
  readonly kubernetes: {
    counters(): Promise<Record<string, number>>;
    resetCounters(): Promise<void>;
    addLatency(latencyInMs: number): Promise<void>;
    clearFaults(): Promise<void>;
  };
  /** CPU time (user + system) of each service process so far, ms: the two emulators and Azurite (Linux; 0 elsewhere). */
  servicesCpuInMs(): { readonly keyVault: number; readonly kubernetes: number; readonly azurite: number };
  /** Peak RSS (VmHWM) of the emulator processes so far, MiB. */
  emulatorPeakRssInMiB(): number;
  close(): Promise<void>;
}

export interface SplitStackOptions {
  readonly stateDir: string;
  readonly configTemplate: string;
  readonly vaults: readonly string[];
  readonly cluster: string;
  readonly namespaces: readonly string[];
  readonly settings: Record<string, string>;
  /** `tsx`: the app's TypeScript modules; `compiled`: dist/functions/*.js (run `npm run build` first). */
  readonly app: 'tsx' | 'compiled';
  readonly log: (entry: LogEntry) => void;
}

export async function startSplitStack(options: SplitStackOptions): Promise<SplitStack> {
  const children: ChildProcess[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const keyVaultInfo = await startChild<{ vaultUrls: Record<string, string>; adminUrl: string; caCertPath: string }>(
      children,
      path.join(root, 'local', 'keyvault', 'main.ts'),
      [...options.vaults.flatMap((v) => ['--vault', v]), '--state-dir', path.join(options.stateDir, 'keyvault')],
    );
    const k8sInfo = await startChild<{ server: string; adminUrl: string; caCertPath: string; tokens: Record<string, string>; kubeconfigs: Record<string, string> }>(
      children,
      path.join(root, 'local', 'kubernetes', 'main.ts'),
      ['--cluster', options.cluster, '--state-dir', path.join(options.stateDir, 'kubernetes'), ...options.namespaces.flatMap((n) => ['--namespace', n])],
    );
    const azurite = await startAzurite();
    closers.push(() => azurite.stop());
    const identity = await startTokenEndpoint();
    closers.push(() => identity.close());
    const keyVault = createKeyVaultAdminClient(keyVaultInfo.adminUrl);
    await keyVault.createSecret('platform', `${options.cluster}-relay-token`, k8sInfo.tokens['relay']!, { emitEvent: false });

    const config = readFileSync(options.configTemplate, 'utf8').replace(/\{\{(vault|cluster):([^}:]+)(?::([^}]+))?\}\}/g, (match, kind: string, name: string, field?: string) => {
      if (kind === 'vault') return keyVaultInfo.vaultUrls[name] ?? match;
      return field === 'server' ? k8sInfo.server : k8sInfo.caCertPath;
    });
    const configPath = path.join(options.stateDir, 'relay.config.json');
    writeFileSync(configPath, config);
    const durableDir = path.join(options.stateDir, 'durable');
    const appDir = options.app === 'compiled' ? path.join(root, 'dist', 'functions') : path.join(root, 'functions');
    const ext = options.app === 'compiled' ? '.js' : '.ts';
    const host = await startHost({
      app: readdirSync(appDir).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).sort().map((f) => path.join(appDir, f)),
      hostJsonPath: path.join(root, 'host.json'),
      port: 0,
      durableDir,
      log: options.log,
      settings: {
        AzureWebJobsStorage: azurite.connectionString,
        TASKHUB_NAME: 'SecretRelayBench',
        RELAY_CONFIG_PATH: configPath,
        RELAY_FINGERPRINT_KEY: randomBytes(32).toString('base64'),
        RELAY_FINGERPRINT_KEY_ID: 'bench1',
        AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AUDIT_CONTAINER: 'audit',
        AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
        AUDIT_CHAIN_KEY_ID: 'bench-ck1',
        AUDIT_SEAL_CONTAINER: 'audit-seals',
        RELAY_REPORTS_CONTAINER: 'reports',
        RELAY_TRUSTED_CA_PATH: keyVaultInfo.caCertPath,
        RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
        // No reconciliation during a run (it would repair what the naive loop overwrote while it is measured).
        RECONCILE_SCHEDULE: '0 0 0 1 1 *',
        ...identity.env,
        ...options.settings,
      },
    });
    closers.push(() => host.close());
    await keyVault.subscribe('platform', host.eventGridUrl('keyVaultEvents'), 'eventGrid');

    const admin = async (method: string, route: string, body?: unknown): Promise<unknown> => {
      const response = await fetch(`${k8sInfo.adminUrl}${route}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new Error(`kubernetes admin ${method} ${route}: ${response.status}`);
      const text = await response.text();
      return text ? JSON.parse(text) : undefined;
    };
    return {
      host,
      storageHost: new URL(azurite.blobEndpoint).host,
      vaultUrls: keyVaultInfo.vaultUrls,
      caCertPath: keyVaultInfo.caCertPath,
      cluster: { server: k8sInfo.server, caCertPath: k8sInfo.caCertPath, adminKubeconfigPath: k8sInfo.kubeconfigs['admin']! },
      keyVault,
      kubernetes: {
        counters: async () => (await admin('GET', '/counters')) as Record<string, number>,
        resetCounters: async () => void (await admin('POST', '/counters/reset')),
        addLatency: async (latencyInMs) => void (await admin('POST', '/faults', { effect: { kind: 'latency', latencyInMs } })),
        clearFaults: async () => void (await admin('PUT', '/faults', [])),
      },
      servicesCpuInMs: () => ({ keyVault: cpuOf(children[0]?.pid), kubernetes: cpuOf(children[1]?.pid), azurite: cpuOf(azurite.pid) }),
      emulatorPeakRssInMiB: () => children.reduce((sum, child) => sum + peakRssOf(child.pid), 0),
      async close() {
        for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
        await Promise.all(children.map(stopChild));
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    await Promise.all(children.map(stopChild));
    throw error;
  }
}

/** Starts a standalone emulator under tsx and reads the JSON line it prints once it listens. */
function startChild<T>(children: ChildProcess[], script: string, args: readonly string[]): Promise<T> {
  // BENCH_FANOUT_CPU_PROF=<dir> (bench/fanout.ts) profiles the emulators too: their CPU is half the machine's in a run.
  const profile = process.env['BENCH_FANOUT_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_FANOUT_CPU_PROF']}`] : [];
  const child = spawn(process.execPath, ['--import', 'tsx', ...profile, script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) {
        try {
          resolve(JSON.parse(line) as T);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${path.basename(path.dirname(script))} emulator exited ${code}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** utime + stime of a process from /proc/<pid>/stat (clock ticks of 10 ms), ms. */
function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

function peakRssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
