import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import { BlobServiceClient } from '@azure/storage-blob';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startStack, type Stack } from '../../local/stack.js';

/**
 * One running stack for an end-to-end test file: the real host URLs, the emulators' real clients, and everything the
 * app printed or stored, so tests can prove no secret value leaked.
 */
export interface E2E {
  readonly stack: Stack;
  readonly api: string;
  /** A SecretClient for an emulated vault, as a customer or operator would use it. */
  vault(name: 'platform' | 'contoso' | 'fabrikam' | (string & {})): SecretClient;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  /** Every log line the host and the app produced. */
  readonly logs: string[];
  /** Every HTTP response body the tests received from the app. */
  readonly responses: string[];
  /** Calls the app's HTTP API with the function key; records the body. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** Posts Event Grid events to a function's webhook, as Event Grid does. */
  postEvents(functionName: string, events: unknown[]): Promise<number>;
  /** Remembers a secret value the test used, for the leak scan. */
  remember(value: string): string;
  /** Searches logs, HTTP responses, durable history and every blob for the remembered values. */
  scanForLeaks(): Promise<{ scanned: { logs: number; responses: number; durableFiles: number; blobs: number }; leaks: string[] }>;
  close(): Promise<void>;
}

/** Options of `startE2E`: another config template, more vaults, extra app settings. */
export interface E2EOptions {
  readonly configTemplate?: string;
  readonly vaults?: readonly string[];
  readonly settings?: Record<string, string>;
}

export async function startE2E(options: E2EOptions = {}): Promise<E2E> {
  const stateDir = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
  const logs: string[] = [];
  const responses: string[] = [];
  const values = new Set<string>();
  const originals = { info: console.info, warn: console.warn, error: console.error, log: console.log };
  for (const level of ['info', 'warn', 'error', 'log'] as const) {
    // Warnings and errors keep their level, so tests can check that a failure is logged at warning or above.
    const prefix = level === 'warn' || level === 'error' ? `[${level}] ` : '';
    console[level] = (...args: unknown[]) => {
      logs.push(`${prefix}${args.map(String).join(' ')}`);
    };
  }
  const stack = await startStack({
    stateDir,
    port: 0,
    configTemplate: options.configTemplate ?? new URL('./e2e.config.json', import.meta.url).pathname,
    ...(options.vaults ? { vaults: options.vaults } : {}),
    // The reconcile timer fires only when a test invokes it: its real 15-minute schedule could start a run in the
    // middle of a test that waits for its own (`reconcile --wait`). Once a year, on 1 January at midnight.
    settings: { RECONCILE_SCHEDULE: '0 0 0 1 1 *', ...options.settings },
    log: (entry) => logs.push(JSON.stringify(entry)),
    // Durable retry back-off and timers run 50× faster, so exhausted retries take seconds, not minutes.
    timeScale: 50,
  });
  const ca = readFileSync(stack.info.keyVault.caCertPath, 'utf8');
  const credential = { getToken: async () => ({ token: 'e2e', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const clients = new Map<string, SecretClient>();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(stack.kubernetes.kubeconfig(stack.kubernetes.tokens.admin!));
  const api = `${stack.info.functions.baseUrl}/api`;

  return {
    stack,
    api,
    vault(name) {
      let client = clients.get(name);
      if (!client) {
        client = new SecretClient(stack.info.keyVault.vaults[name]!, credential, {
          tlsOptions: { ca },
          disableChallengeResourceVerification: true,
          retryOptions: { maxRetries: 0 },
        });
        clients.set(name, client);
      }
      return client;
    },
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    logs,
    responses,
    async call(method, path, body) {
      const response = await fetch(`${api}${path}`, {
        method,
        headers: { 'x-functions-key': stack.info.functions.key, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      responses.push(text);
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    },
    async postEvents(functionName, events) {
      const response = await fetch(stack.host.eventGridUrl(functionName), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
        body: JSON.stringify(events),
      });
      responses.push(await response.text());
      return response.status;
    },
    remember(value) {
      values.add(value);
      return value;
    },
    async scanForLeaks() {
      const leaks: string[] = [];
      const check = (where: string, text: string) => {
        for (const value of values) if (text.includes(value)) leaks.push(`${where} contains a secret value`);
      };
      logs.forEach((line, i) => check(`log line ${i}`, line));
      responses.forEach((body, i) => check(`HTTP response ${i}`, body));
      const durableFiles = listFiles(stack.info.durableDir);
      for (const file of durableFiles) check(file, readFileSync(file, 'utf8'));
      const service = BlobServiceClient.fromConnectionString(stack.info.storage.connectionString);
      let blobs = 0;
      for await (const container of service.listContainers()) {
        const client = service.getContainerClient(container.name);
        for await (const blob of client.listBlobsFlat()) {
          blobs++;
          check(`blob ${container.name}/${blob.name}`, (await client.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
        }
      }
      return { scanned: { logs: logs.length, responses: responses.length, durableFiles: durableFiles.length, blobs }, leaks };
    },
    async close() {
      await stack.close();
      Object.assign(console, originals);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** The versions of a secret in a vault, oldest first, with their tags. */
export async function versionsOf(client: SecretClient, name: string): Promise<{ version: string; tags: Record<string, string> }[]> {
  const out: { version: string; tags: Record<string, string>; created: number }[] = [];
  try {
    for await (const properties of client.listPropertiesOfSecretVersions(name)) {
      out.push({ version: properties.version!, tags: properties.tags ?? {}, created: properties.createdOn?.getTime() ?? 0 });
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return [];
    throw error;
  }
  return out.sort((a, b) => a.created - b.created).map(({ version, tags }) => ({ version, tags }));
}

/** A random value for a test secret (never a literal in the test code). */
export function newValue(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/** A Key Vault SecretNewVersionCreated event in the Event Grid wire shape (PascalCase data). */
export function newVersionEvent(vaultUrl: string, name: string, version: string, id: string): unknown {
  return {
    id,
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/platform',
    subject: name,
    eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
    eventTime: new Date().toISOString(),
    data: {
      Id: `${vaultUrl}/secrets/${name}/${version}`,
      VaultName: 'platform',
      ObjectType: 'Secret',
      ObjectName: name,
      Version: version,
      NBF: null,
      EXP: null,
    },
    dataVersion: '1',
    metadataVersion: '1',
  };
}
