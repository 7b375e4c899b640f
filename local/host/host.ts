import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionInfo } from './catalog.js';
import { describe } from './catalog.js';
import type { Registration } from './coreStub.js';
import { installFunctionsCoreStub } from './coreStub.js';
import { DURABLE_RPC_PATH, DURABLE_WEBHOOK_PATH, buildDurableClientData, handleDurableApi } from './durable/api.js';
import type { DurableClientData } from './durable/api.js';
import { createClock } from './durable/clock.js';
import { DurableEngine } from './durable/engine.js';
import type { InstanceSnapshot } from './durable/engine.js';
import { verifyDurableInternals } from './durable/internals.js';
import { Foreground } from './durable/semaphore.js';
import { EVENT_GRID_PATH, handleEventGrid } from './eventGrid.js';
import { ROUTE_PREFIX, buildHttpRoutes, dispatchHttp } from './httpTrigger.js';
import { isSystemKey, keyValues, presentedKey, resolveKeys, sameKey } from './keys.js';
import type { HostKeys, HostKeysOptions } from './keys.js';
import { consoleLogSink, hostLog, levelSink, parseLogLevel, redactKeys, redactingSink } from './log.js';
import type { LogEntry, LogLevel } from './log.js';
import { resolveSettingExpression } from './ncrontab.js';
import { TimerScheduler } from './timers.js';

// Installed when the host module loads, so an app module imported after it (even statically, as tests do to read
// their own observations) registers into the stub instead of falling into @azure/functions' test mode.
installFunctionsCoreStub();

/** Options of `startHost`. */
export interface StartHostOptions {
  /** Modules that register the app's functions: file paths (relative to the cwd; TS under tsx/vitest, or built JS) or package specifiers. */
  app: string[];
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Settings copied into `process.env` before the app is imported (like local.settings.json `Values`). */
  settings?: Record<string, string>;
  /** Folder for durable instance journals and timer status (default `.local/durable`). */
  durableDir?: string;
  /** Keys; missing ones come from the settings `LOCAL_HOST_*_KEY`, else are generated. */
  keys?: HostKeysOptions;
  /** Log sink for host and invocation logs (default: stderr); entries arrive with keys redacted and long messages cut. */
  log?: (entry: LogEntry) => void;
  /** Entries below this level are dropped (default host.json `logging.logLevel.default`, else `information`). */
  logLevel?: LogLevel;
  /** Maximum activities running at once (default host.json `maxConcurrentActivityFunctions`, else 10 × CPU cores). */
  activityConcurrency?: number;
  /** Maximum orchestrator episodes running at once (default host.json `maxConcurrentOrchestratorFunctions`, else 10 × CPU cores). */
  orchestratorConcurrency?: number;
  /**
   * While requests are being answered (and 10 ms after), durable work (episodes, activities) waits, an item at most
   * 50 ms, then one at a time (default true): the app shares one event loop with the host here, so a burst of webhook
   * calls is answered before the work it started takes the CPU. `false` lets durable work run up to its limits
   * regardless (for comparison).
   */
  durableYieldsToRequests?: boolean;
  /** host.json to read (default `host.json` in the cwd, when present). */
  hostJsonPath?: string;
  /** Durable timers and retry back-off run this many times faster than real time (tests; default 1). */
  timeScale?: number;
}

/** A function as the host serves it. */
export interface HostedFunction {
  name: string;
  triggerType: string;
  /** For HTTP functions: the full URL template (`http://127.0.0.1:port/api/<route>`). */
  url?: string;
  methods?: string[];
  authLevel?: string;
  /** For timer functions: the resolved NCRONTAB schedule. */
  schedule?: string;
}

/** A running local host. */
export interface LocalHost {
  /** The host origin, e.g. `http://127.0.0.1:41234`; HTTP functions are under `${baseUrl}/api/`. */
  baseUrl: string;
  /** The durable RPC base URL given to durable clients (`${baseUrl}/durabletask/`). */
  rpcBaseUrl: string;
  /** The default function key (accepted by `function`-level HTTP functions as `code` or `x-functions-key`). */
  functionKey: string;
  /** The master key (accepted everywhere; required for `admin` level). */
  masterKey: string;
  /** The `durabletask_extension` system key, carried by the management URLs. */
  durableTaskKey: string;
  /** The `eventgrid_extension` system key, required by the Event Grid webhook. */
  eventGridKey: string;
  /** The task hub name the durable client data reports. */
  taskHubName: string;
  /** The activity concurrency in effect. */
  activityConcurrency: number;
  /** The orchestrator concurrency in effect. */
  orchestratorConcurrency: number;
  /** The Event Grid webhook URL of a function, with the `eventgrid_extension` key as `code` (as Event Grid calls it). */
  eventGridUrl(functionName: string): string;
  /** The functions the app registered. */
  functions(): HostedFunction[];
  /** Runs a timer function now with `isPastDue: false`; rejects with the handler's error. */
  invokeTimer(name: string): Promise<void>;
  /** Starts an orchestration directly (same rules as the client API: a pending or running id is refused). */
  startOrchestration(name: string, options?: { instanceId?: string; input?: unknown }): Promise<string>;
  /** Waits until an instance is Completed, Failed or Terminated. */
  waitForInstance(instanceId: string, timeoutInMs: number): Promise<InstanceSnapshot>;
  /** The current state of an instance with its raw history, or undefined. */
  getInstance(instanceId: string): InstanceSnapshot | undefined;
  /** Stops listening, disarms timers and waits for journal writes. */
  close(): Promise<void>;
}

interface HostJson {
  logging?: { logLevel?: { default?: string } };
  extensions?: { durableTask?: { hubName?: string; maxConcurrentActivityFunctions?: number; maxConcurrentOrchestratorFunctions?: number } };
}

/** How long the host keeps an idle keep-alive connection open (see `startHost`). */
const KEEP_ALIVE_TIMEOUT_IN_MS = 130_000;

function readHostJson(file: string | undefined): HostJson {
  const candidate = file ?? path.resolve('host.json');
  if (!existsSync(candidate)) return {};
  return JSON.parse(readFileSync(candidate, 'utf8')) as HostJson;
}

function moduleUrl(spec: string): string {
  const looksLikePath = spec.startsWith('.') || spec.startsWith('/') || /\.(c|m)?(t|j)s$/.test(spec);
  return looksLikePath ? pathToFileURL(path.resolve(spec)).href : spec;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number, hostname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Starts the local Functions host: copies `settings` into `process.env`, installs the `@azure/functions-core` stub,
 * checks the pinned durable-functions internals, imports the app modules (capturing every registration), serves HTTP
 * functions, the Event Grid webhook and the durable HTTP API, arms timers, and resumes unfinished orchestrations from
 * `durableDir`. One host per process (registrations are process-global); a second `startHost` after `close` reuses them.
 */
export async function startHost(options: StartHostOptions): Promise<LocalHost> {
  let secrets: readonly string[] = [];
  const hostJson = readHostJson(options.hostJsonPath);
  const minimumLevel = options.logLevel ?? parseLogLevel(hostJson.logging?.logLevel?.default) ?? 'information';
  const log = levelSink(redactingSink(options.log ?? consoleLogSink, () => secrets), minimumLevel);
  Object.assign(process.env, options.settings ?? {});
  const registry = installFunctionsCoreStub();
  verifyDurableInternals();
  for (const spec of options.app) await import(moduleUrl(spec));

  const catalog = new Map<string, { info: FunctionInfo; registration: Registration }>();
  for (const registration of registry.functions.values()) catalog.set(registration.metadata.name, { info: describe(registration), registration });
  const lookup = (name: string): { info: FunctionInfo; registration: Registration } | undefined => catalog.get(name);
  const functions = [...catalog.values()];

  const env = process.env as Record<string, string | undefined>;
  const durable = hostJson.extensions?.durableTask;
  let taskHubName = 'TestHubName';
  try {
    if (durable?.hubName) taskHubName = resolveSettingExpression(durable.hubName, env);
  } catch {
    hostLog(log, 'warning', `host.json hubName '${durable?.hubName ?? ''}' refers to a missing setting; using '${taskHubName}'`);
  }
  const activityConcurrency = options.activityConcurrency ?? durable?.maxConcurrentActivityFunctions ?? 10 * os.availableParallelism();
  const orchestratorConcurrency = options.orchestratorConcurrency ?? durable?.maxConcurrentOrchestratorFunctions ?? 10 * os.availableParallelism();
  const resolvedKeys = resolveKeys(options.keys, env);
  const keys: HostKeys = resolvedKeys;
  secrets = keyValues(keys);
  const durableDir = path.resolve(options.durableDir ?? path.join('.local', 'durable'));

  const routes = buildHttpRoutes(functions);
  let clientData: DurableClientData | undefined;
  const durableClientData = (): DurableClientData => {
    if (!clientData) throw new Error('durable client data requested before the host listens');
    return clientData;
  };

  // Requests being answered: while there are any, the engine's durable work waits (see Foreground and Semaphore).
  const foreground = new Foreground();
  const engine = new DurableEngine({
    dir: path.join(durableDir, 'instances'),
    log,
    clock: createClock(options.timeScale !== undefined ? { timeScale: options.timeScale } : {}),
    activityConcurrency,
    orchestratorConcurrency,
    ...(options.durableYieldsToRequests === false ? {} : { foreground }),
    lookup,
    durableClientData,
  });
  const timers = new TimerScheduler({ log, settings: env, statusDir: path.join(durableDir, 'timers'), durableClientData });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const body = await readBody(req);
    const pathname = url.pathname;
    if (pathname === `/${ROUTE_PREFIX}` || pathname.startsWith(`/${ROUTE_PREFIX}/`)) {
      const served = await dispatchHttp(routes, { keys, log, durableClientData }, req, res, url, body);
      if (!served) res.writeHead(404).end();
      return;
    }
    if (pathname === EVENT_GRID_PATH) {
      await handleEventGrid({ keys, log, durableClientData, lookup }, req, res, url, body);
      return;
    }
    if (pathname.startsWith(`${DURABLE_WEBHOOK_PATH}/`)) {
      if (!isSystemKey(presentedKey(url, req.headers), keys.durableTaskKey, keys)) {
        res.writeHead(401).end();
        return;
      }
      await handleDurableApi(
        engine,
        { method: (req.method ?? 'GET').toUpperCase(), url, path: pathname.slice(DURABLE_WEBHOOK_PATH.length), body, headers: req.headers, clientData: durableClientData() },
        res,
      );
      return;
    }
    if (pathname === DURABLE_RPC_PATH || pathname.startsWith(`${DURABLE_RPC_PATH}/`)) {
      const rest = pathname.slice(DURABLE_RPC_PATH.length + 1);
      const slash = rest.indexOf('/');
      if (slash === -1 || !sameKey(decodeOrEmpty(rest.slice(0, slash)), keys.rpcToken)) {
        res.writeHead(401).end();
        return;
      }
      await handleDurableApi(
        engine,
        { method: (req.method ?? 'GET').toUpperCase(), url, path: rest.slice(slash), body, headers: req.headers, clientData: durableClientData() },
        res,
      );
      return;
    }
    const admin = /^\/admin\/functions\/([^/]+)$/.exec(pathname);
    if (admin && req.method === 'POST') {
      if (!sameKey(presentedKey(url, req.headers), keys.masterKey)) {
        res.writeHead(401).end();
        return;
      }
      const name = decodeOrEmpty(admin[1] ?? '');
      if (lookup(name)?.info.triggerType.toLowerCase() !== 'timertrigger') {
        res.writeHead(404).end();
        return;
      }
      void timers.invoke(name).catch(() => undefined);
      res.writeHead(202).end();
      return;
    }
    if (pathname === '/' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Secret Relay local Functions host is running\n');
      return;
    }
    res.writeHead(404).end();
  };

  const server = createServer((req, res) => {
    const leave = foreground.enter();
    res.once('close', leave);
    handle(req, res)
      .catch((error: unknown) => {
        hostLog(log, 'error', `Request ${req.method ?? ''} ${redactKeys(req.url ?? '')} failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!res.headersSent) res.writeHead(500).end();
      })
      .finally(leave);
  });
  // An idle keep-alive connection is closed by the client, never by the host: clients drop idle sockets after a few
  // seconds (Node's agent, which the durable client's axios uses: 5 s, or the announced timeout less 1 s; undici: 4 s),
  // and a host closing first races a client reusing the socket at that moment (ECONNRESET: after an event-loop stall,
  // both timers are due while the client's request is already written). Kestrel, the extension's listener, keeps 130 s.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_IN_MS;
  const hostname = options.hostname ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, hostname);
  const origin = `http://${hostname}:${port}`;
  clientData = buildDurableClientData(origin, taskHubName, keys.durableTaskKey, keys.rpcToken);
  // Without WEBSITE_HOSTNAME, durable-functions rewrites management URLs to http://localhost:7071.
  if (!env['WEBSITE_HOSTNAME']) process.env['WEBSITE_HOSTNAME'] = `${hostname}:${port}`;
  if (resolvedKeys.generated.length > 0) hostLog(log, 'information', `Generated keys: ${resolvedKeys.generated.join(', ')}`);

  await engine.start();
  await timers.start(functions);
  hostLog(log, 'information', `Host started on ${origin} with ${functions.length} functions (activity concurrency ${activityConcurrency}, orchestrator concurrency ${orchestratorConcurrency})`);

  const hosted = (): HostedFunction[] =>
    functions.map(({ info }) => {
      const type = info.triggerType.toLowerCase();
      if (type === 'httptrigger') {
        const route = routes.find((r) => r.info.name === info.name);
        return {
          name: info.name,
          triggerType: info.triggerType,
          url: `${origin}/${ROUTE_PREFIX}/${route?.route.template ?? info.name}`,
          ...(route?.methods ? { methods: route.methods } : {}),
          authLevel: route?.authLevel ?? 'function',
        };
      }
      if (type === 'timertrigger') return { name: info.name, triggerType: info.triggerType, schedule: resolveSettingExpression(String(info.trigger['schedule'] ?? ''), env) };
      return { name: info.name, triggerType: info.triggerType };
    });

  let closing: Promise<void> | undefined;
  return {
    baseUrl: origin,
    rpcBaseUrl: clientData.rpcBaseUrl,
    functionKey: keys.functionKeys['default'] ?? '',
    masterKey: keys.masterKey,
    durableTaskKey: keys.durableTaskKey,
    eventGridKey: keys.eventGridKey,
    taskHubName,
    activityConcurrency,
    orchestratorConcurrency,
    eventGridUrl: (functionName) =>
      `${origin}${EVENT_GRID_PATH}?functionName=${encodeURIComponent(functionName)}&code=${encodeURIComponent(keys.eventGridKey)}`,
    functions: hosted,
    invokeTimer: (name) => timers.invoke(name),
    startOrchestration: (name, startOptions) => engine.startNew(name, startOptions ?? {}),
    waitForInstance: (instanceId, timeoutInMs) => engine.waitForInstance(instanceId, timeoutInMs),
    getInstance: (instanceId) => engine.get(instanceId),
    close: () => {
      closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await timers.close();
        await engine.close();
      })();
      return closing;
    },
  };
}

/** A path segment decoded, or '' when its percent-encoding is malformed (answered 401/404, never 500). */
function decodeOrEmpty(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}
