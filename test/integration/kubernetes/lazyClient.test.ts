/**
 * `@kubernetes/client-node` is loaded only when the config has a Kubernetes target and a call reaches the cluster:
 * the app runs on the local host in a process of its own (test/support/appProcess.ts, which reports the packages it
 * loaded), against the stack's Key Vault and Kubernetes emulators and Azurite in this process; deliveries start through
 * the app's own HTTP API (`POST /api/rotations`) and run through the real durable replay code.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_CLIENT_RETRY } from '../../../shared/composition.js';
import { relayInstanceId } from '../../../shared/orchestrations/names.js';
import { DEMO_CLUSTER, DEMO_NAMESPACE, startStack, type Stack } from '../../../local/stack.js';
import { adminClients } from './support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLIENT = '@kubernetes/client-node';
const WAIT_IN_MS = 90_000;

let stack: Stack;
let stateDir: string;
const apps: AppProcess[] = [];

interface AppProcess {
  /** Packages the app's process has loaded so far. */
  packages(): Promise<string[]>;
  /** `POST /api/rotations` (relay mode) for `name`, then the relay instance once it ended. */
  relay(name: string, version: string): Promise<{ status: number; body: string; instance: { runtimeStatus: string; output?: RelayOutput } }>;
  /** Everything the process printed (the relay logs to the console) and the host's log entries. */
  readonly output: string[];
  readonly child: ChildProcess;
  close(): Promise<void>;
}

interface RelayOutput {
  readonly outcomes: { targetId: string; status: string; reason: string; message?: string; hint?: string }[];
}

function writeConfig(name: string, config: object): string {
  const file = path.join(stateDir, `${name}.config.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** A valid config: one source, the contoso vault, and (with `cluster`) the emulated cluster's `apps` namespace. */
function relayConfig(options: { cluster?: boolean; namespace?: string } = {}): object {
  const cluster = stack.info.kubernetes.clusters[DEMO_CLUSTER]!;
  return {
    mode: 'local',
    sources: [{ id: 'platform', vaultUrl: stack.info.keyVault.vaults['platform'] }],
    targets: [
      { id: 'contoso', kind: 'keyVault', vaultUrl: stack.info.keyVault.vaults['contoso'] },
      ...(options.cluster
        ? [
            {
              id: 'edge-1-apps',
              kind: 'kubernetes',
              cluster: { name: DEMO_CLUSTER, server: cluster.server, caCertPath: cluster.caCertPath, auth: { type: 'tokenSecret', source: 'platform', secret: 'edge-1-relay-token' } },
              namespace: options.namespace ?? DEMO_NAMESPACE,
            },
          ]
        : []),
    ],
    routes: [
      {
        id: 'apps',
        source: 'platform',
        match: { globs: ['app-*'] },
        targets: [{ target: 'contoso', name: '{name}' }, ...(options.cluster ? [{ target: 'edge-1-apps', name: '{name|lower}', key: 'value' }] : [])],
      },
    ],
  };
}

async function startApp(name: string, configPath: string, options: { block?: string[] } = {}): Promise<AppProcess> {
  const output: string[] = [];
  const child = fork(path.join(root, 'test', 'support', 'appProcess.ts'), [], {
    cwd: root,
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      APP_PROCESS_OPTIONS: JSON.stringify({
        settings: { ...stack.settings, RELAY_CONFIG_PATH: configPath, TASKHUB_NAME: `Lazy${name}` },
        durableDir: path.join(stateDir, `durable-${name}`),
        hostJsonPath: path.join(root, 'host.json'),
        // Durable retry back-off 50× faster: exhausted delivery retries take about a second.
        timeScale: 50,
        ...(options.block ? { block: options.block } : {}),
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const waiting = new Map<string, (message: any) => void>();
  child.on('message', (message: { type: string; entry?: unknown }) => {
    if (message.type === 'log') output.push(`${JSON.stringify(message.entry)}\n`);
    const resolve = waiting.get(message.type);
    if (resolve) {
      waiting.delete(message.type);
      resolve(message);
    }
  });
  const next = (type: string) => new Promise<any>((resolve) => waiting.set(type, resolve));
  const ready = await Promise.race([
    next('ready'),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the app process exited with ${code}: ${output.join('').slice(-2000)}`)))),
  ]);
  const app: AppProcess = {
    output,
    child,
    async packages() {
      const answer = next('packages');
      child.send({ type: 'packages' });
      return (await answer).packages as string[];
    },
    async relay(secret, version) {
      const response = await fetch(`${ready.baseUrl}/api/rotations`, {
        method: 'POST',
        headers: { 'x-functions-key': ready.functionKey, 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'platform', name: secret, mode: 'relay' }),
      });
      const body = await response.text();
      if (response.status !== 202) return { status: response.status, body, instance: { runtimeStatus: 'NotStarted' } };
      const answer = next('instance');
      child.send({ type: 'wait', instanceId: relayInstanceId('platform', secret, version), timeoutInMs: WAIT_IN_MS });
      const { instance, error } = await answer;
      if (error) throw new Error(error);
      return { status: response.status, body, instance };
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'close' });
      }),
  };
  apps.push(app);
  return app;
}

/** The customer vault as its owner reads it. */
function contoso(): SecretClient {
  const credential = { getToken: async () => ({ token: 'test', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  return new SecretClient(stack.info.keyVault.vaults['contoso']!, credential, {
    tlsOptions: { ca: stack.keyVault.caCertPem },
    disableChallengeResourceVerification: true,
    ...SECRET_CLIENT_RETRY,
  });
}

function sourceSecret(name: string): { value: string; version: string } {
  const value = `v-${randomBytes(12).toString('hex')}`;
  const created = stack.keyVault.createSecret('platform', name, value, { emitEvent: false });
  return { value, version: created.version };
}

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'relay-lazy-client-'));
  // The stack's own host runs no app: the app under test is the process started by each test.
  stack = await startStack({ stateDir, port: 0, app: [], configTemplate: path.join(root, 'test', 'e2e', 'e2e.config.json'), log: () => undefined });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await stack?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('the Kubernetes client library loads only for a config that reaches a cluster', () => {
  it('a Key-Vault-only config relays without ever loading it', async () => {
    const app = await startApp('KeyVaultOnly', writeConfig('key-vault-only', relayConfig()));
    expect(await app.packages()).not.toContain(CLIENT);
    const { value, version } = sourceSecret('app-kv-only');
    const { instance } = await app.relay('app-kv-only', version);
    expect(instance.runtimeStatus).toBe('Completed');
    expect(instance.output?.outcomes.map((o) => [o.targetId, o.status])).toEqual([['contoso', 'Created']]);
    expect((await contoso().getSecret('app-kv-only')).value).toBe(value);
    const loaded = await app.packages();
    // The tracer sees the SDKs the delivery used (so the absence below is not an empty list)…
    expect(loaded).toEqual(expect.arrayContaining(['@azure/keyvault-secrets', 'durable-functions']));
    // …and neither the Kubernetes client nor the PostgreSQL driver (no rotator is configured).
    expect(loaded).not.toContain(CLIENT);
    expect(loaded).not.toContain('pg');
  });

  it('with a cluster target: not loaded while idle, loaded by the first delivery to the cluster, which writes the Secret', async () => {
    const app = await startApp('WithCluster', writeConfig('with-cluster', relayConfig({ cluster: true })));
    expect(await app.packages()).not.toContain(CLIENT);
    const { value, version } = sourceSecret('app-with-cluster');
    const { instance } = await app.relay('app-with-cluster', version);
    expect(instance.runtimeStatus).toBe('Completed');
    expect(Object.fromEntries(instance.output!.outcomes.map((o) => [o.targetId, o.status]))).toEqual({ contoso: 'Created', 'edge-1-apps': 'Created' });
    const { core } = adminClients(stack.kubernetes);
    const secret = await core.readNamespacedSecret({ name: 'app-with-cluster', namespace: DEMO_NAMESPACE });
    expect(Buffer.from(secret.data?.['value'] ?? '', 'base64').toString('utf8')).toBe(value);
    expect(await app.packages()).toContain(CLIENT);
  });

  it('when the library cannot be loaded, the cluster delivery ends FailedUnavailable naming it, the vault still gets its copy, the host keeps serving', async () => {
    const app = await startApp('Unloadable', writeConfig('unloadable', relayConfig({ cluster: true })), { block: [CLIENT] });
    const { version } = sourceSecret('app-unloadable');
    const { instance } = await app.relay('app-unloadable', version);
    expect(instance.runtimeStatus).toBe('Completed');
    const byTarget = Object.fromEntries(instance.output!.outcomes.map((o) => [o.targetId, o]));
    expect(byTarget['contoso']?.status).toBe('Created');
    expect(byTarget['edge-1-apps']).toMatchObject({ status: 'FailedUnavailable', reason: 'retries-exhausted', hint: expect.stringMatching(/\S/) });
    expect(byTarget['edge-1-apps']?.message).toContain(`the Kubernetes client library ${CLIENT} could not be loaded`);
    expect(byTarget['edge-1-apps']?.message).toContain('Cannot find package');
    // The operator sees it in the log, at warning or above.
    const lines = app.output.join('').split('\n');
    expect(lines.filter((line) => /"level":"(warning|error|critical)"|^\[relay\]/.test(line) && line.includes(`${CLIENT} could not be loaded`)).length).toBeGreaterThan(0);
    // The host is still up and delivers.
    const again = sourceSecret('app-unloadable-2');
    expect((await app.relay('app-unloadable-2', again.version)).instance.runtimeStatus).toBe('Completed');
    expect(app.child.exitCode).toBe(null);
  });

  it('a bad Kubernetes target config is rejected when the config loads, without loading the library', async () => {
    const app = await startApp('BadConfig', writeConfig('bad-cluster', relayConfig({ cluster: true, namespace: 'Not_A_Namespace' })));
    sourceSecret('app-bad-config');
    const response = await app.relay('app-bad-config', 'unused');
    expect(response.status).toBeGreaterThanOrEqual(500);
    // The first invocation reads the config and fails with the problem and its JSON path (logged at error).
    expect(app.output.join('')).toMatch(/"level":"error".*is not a valid relay config:.*\$\.targets\[1\]\.namespace: [A-Z_]+/);
    expect(await app.packages()).not.toContain(CLIENT);
  });
});
