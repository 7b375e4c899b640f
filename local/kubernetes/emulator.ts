/**
 * Starts the Kubernetes API emulator: an HTTPS API server (self-signed CA) plus a plain-HTTP admin endpoint for
 * faults, counters and tokens, both on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { handleApiRequest } from './api.js';
import { DEFAULT_TOKENS, TokenRegistry } from './auth.js';
import { FaultBook } from './faults.js';
import { ObjectStore } from './store.js';
import { loadOrCreateTlsMaterial } from './tls.js';
import type { ActiveFault, EmulatorCounters, FaultRule, TokenSpec } from './types.js';

export interface KubernetesEmulatorOptions {
  /** Cluster name used in kubeconfigs and the certificate; default `emulated`. */
  cluster?: string;
  /** Directory that keeps the CA and server certificate across restarts (created if missing). */
  stateDir?: string;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** API port; default 0 (any free port). */
  port?: number;
  /** Admin port; default 0. */
  adminPort?: number;
  /** Namespaces to create besides `default` and `kube-system`. */
  namespaces?: readonly string[];
  /** Tokens the API accepts; default `admin` (everything) and `relay` (the relay's RBAC role). */
  tokens?: readonly TokenSpec[];
  /** How long a deleted namespace stays `Terminating` before it and its content are gone; default 0 (next tick). */
  namespaceFinalizeDelayInMs?: number;
  /** Changes kept for watches resuming from a resourceVersion (older ones get 410 Expired); default 1000. */
  watchHistorySize?: number;
  /** Interval of BOOKMARK events on watches with `allowWatchBookmarks`; default 60 000 (the API server's minute). */
  watchBookmarkIntervalInMs?: number;
}

/** A running emulator. */
export interface KubernetesEmulator {
  readonly cluster: string;
  /** API server URL, e.g. `https://127.0.0.1:41234`. */
  readonly server: string;
  readonly caCertPem: string;
  /** Path of the CA certificate (in the state dir, or in a temporary dir removed by `close`). */
  readonly caCertPath: string;
  /** Token strings by name (live: reflects `addToken`). */
  readonly tokens: Readonly<Record<string, string>>;
  /** Admin endpoint base URL (plain HTTP): `/counters`, `/faults`, `/tokens`. */
  readonly adminUrl: string;
  /** A copy of the request counters. */
  counters(): EmulatorCounters;
  /** TLS connections the API server has accepted since start (clients that pool connections open few). */
  tlsConnections(): number;
  resetCounters(): void;
  /** Replaces all fault rules (an empty list clears them). */
  setFaults(rules: readonly FaultRule[]): ActiveFault[];
  addFault(rule: FaultRule): ActiveFault;
  /** Adds (or replaces by name) a token; returns the token string. */
  addToken(spec: TokenSpec): string;
  revokeToken(name: string): void;
  /** A kubeconfig (YAML) for this cluster with the given bearer token and the CA embedded. */
  kubeconfig(token: string): string;
  /** Writes `kubeconfig(token)` to `path` (mode 0600) and returns the path. */
  writeKubeconfig(path: string, token: string): string;
  /** Stops both servers and removes temporary files. */
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

/** Renders a kubeconfig with one cluster, one user (bearer token) and one context. */
export function renderKubeconfig(options: { cluster: string; server: string; caCertPem: string; token: string; user?: string }): string {
  const user = options.user ?? `${options.cluster}-user`;
  const ca = Buffer.from(options.caCertPem, 'utf8').toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${options.cluster}`,
    '  cluster:',
    `    server: ${options.server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${options.token}`,
    'contexts:',
    `- name: ${options.cluster}`,
    '  context:',
    `    cluster: ${options.cluster}`,
    `    user: ${user}`,
    `current-context: ${options.cluster}`,
    '',
  ].join('\n');
}

/**
 * Starts an emulated cluster. Repeating the call starts another, independent cluster. With the same `stateDir`, a
 * restarted emulator presents the same CA (objects are in memory and start empty).
 */
export async function startKubernetesEmulator(options: KubernetesEmulatorOptions = {}): Promise<KubernetesEmulator> {
  const cluster = options.cluster ?? 'emulated';
  const host = options.host ?? '127.0.0.1';
  const tls = loadOrCreateTlsMaterial({ commonName: cluster, ...(options.stateDir ? { stateDir: options.stateDir } : {}), ...(host !== '127.0.0.1' ? { extraHosts: [host] } : {}) });
  let tempDir: string | undefined;
  let caCertPath: string;
  if (options.stateDir) caCertPath = join(options.stateDir, 'ca.pem');
  else {
    tempDir = mkdtempSync(join(tmpdir(), `k8s-emulator-${cluster}-`));
    caCertPath = join(tempDir, 'ca.pem');
    writeFileSync(caCertPath, tls.caCertPem);
  }

  const store = new ObjectStore(['default', 'kube-system', ...(options.namespaces ?? [])].filter((n, i, all) => all.indexOf(n) === i), {
    ...(options.namespaceFinalizeDelayInMs !== undefined ? { namespaceFinalizeDelayInMs: options.namespaceFinalizeDelayInMs } : {}),
    ...(options.watchHistorySize !== undefined ? { watchHistorySize: options.watchHistorySize } : {}),
  });
  const bookmarkIntervalInMs = options.watchBookmarkIntervalInMs ?? 60_000;
  const tokens = new TokenRegistry(options.tokens ?? DEFAULT_TOKENS);
  const faults = new FaultBook();
  let serverAddress = '';

  const api = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    void handleApiRequest(req, res, { store, tokens, faults, serverAddress: () => serverAddress, bookmarkIntervalInMs });
  });
  let tlsConnections = 0;
  api.on('secureConnection', () => {
    tlsConnections += 1;
  });
  const apiAddress = await listen(api, options.port ?? 0, host);
  serverAddress = `${host}:${apiAddress.port}`;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${apiAddress.port}`;

  const admin = createHttpServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://admin.local');
        const method = req.method ?? 'GET';
        const path = url.pathname.replace(/\/+$/, '');
        if (path === '/counters' && method === 'GET') return sendJson(res, 200, faults.counters());
        if (path === '/counters/reset' && method === 'POST') {
          faults.resetCounters();
          return sendJson(res, 204, undefined);
        }
        if (path === '/faults' && method === 'GET') return sendJson(res, 200, faults.list());
        if (path === '/faults' && method === 'PUT') return sendJson(res, 200, faults.set((await readJson(req)) as FaultRule[]));
        if (path === '/faults' && method === 'POST') return sendJson(res, 201, faults.add((await readJson(req)) as FaultRule));
        if (path === '/faults' && method === 'DELETE') {
          faults.clear();
          return sendJson(res, 204, undefined);
        }
        if (path === '/tokens' && method === 'POST') return sendJson(res, 201, { token: tokens.add((await readJson(req)) as TokenSpec) });
        const tokenMatch = /^\/tokens\/([^/]+)$/.exec(path);
        if (tokenMatch && method === 'DELETE') {
          tokens.revoke(decodeURIComponent(tokenMatch[1]!));
          return sendJson(res, 204, undefined);
        }
        return sendJson(res, 404, { error: 'not found' });
      } catch (error) {
        return sendJson(res, 400, { error: (error as Error).message });
      }
    })();
  });
  const adminAddress = await listen(admin, options.adminPort ?? 0, '127.0.0.1');

  const emulator: KubernetesEmulator = {
    cluster,
    server,
    caCertPem: tls.caCertPem,
    caCertPath,
    tokens: tokens.tokens,
    adminUrl: `http://127.0.0.1:${adminAddress.port}`,
    counters: () => faults.counters(),
    tlsConnections: () => tlsConnections,
    resetCounters: () => faults.resetCounters(),
    setFaults: (rules) => faults.set(rules),
    addFault: (rule) => faults.add(rule),
    addToken: (spec) => tokens.add(spec),
    revokeToken: (name) => tokens.revoke(name),
    kubeconfig: (token) => renderKubeconfig({ cluster, server, caCertPem: tls.caCertPem, token }),
    writeKubeconfig: (path, token) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, emulator.kubeconfig(token), { mode: 0o600 });
      return path;
    },
    close: async () => {
      store.close();
      await Promise.all([closeServer(api as unknown as Server), closeServer(admin)]);
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
  return emulator;
}
