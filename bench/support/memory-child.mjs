// One measurement of bench/memory.ts in a fresh process (plain JavaScript, so the compiled runs need no tsx).
// argv[2] is the scenario as JSON:
//   { kind: 'host', runtime: 'tsx' | 'compiled', app: 'relay' | 'bare', settings, distro?, preload?, build? }: the app
//     in the local Functions host, idle; prints the garbage-collected memory and the modules loaded, per package.
//     `distro`: the Azure Monitor distro started first, as the relay did before it used the exporters alone.
//     `preload`: packages imported before the host (what the relay loaded at start before they became lazy).
//     `build`: after start, the relay's runtime is built over its config (RELAY_CONFIG_PATH) with every configured
//     target, and what a target's first call loads is loaded (the Kubernetes client for a Kubernetes target): the
//     memory of an app that has served its config once, short of the network.
//   { kind: 'attribute', runtime, packages }: imports each package in turn (then the host and the relay app) and
//     prints what each step added.
import { createRequire, registerHooks } from 'node:module';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const esm = new Set();
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) esm.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const scenario = JSON.parse(process.argv[2] ?? '{}');
const compiled = scenario.runtime === 'compiled';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function settled() {
  // Two full collections with a turn of the event loop between them (finalizers, weak refs), then the numbers.
  globalThis.gc();
  await sleep(100);
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Loaded module files by owner: the package under the last `node_modules/`, or `app` for the repo's own files. */
function modulesByPackage() {
  const files = new Set([...esm, ...Object.keys(createRequire(import.meta.url).cache)]);
  const counts = {};
  for (const file of files) {
    const at = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    let owner = 'app';
    if (at >= 0) {
      const parts = file.slice(at + 14).split(path.sep);
      owner = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    } else if (!file.startsWith(root)) owner = 'other';
    counts[owner] = (counts[owner] ?? 0) + 1;
  }
  return counts;
}

function appModules(app) {
  if (app === 'bare') return [path.join(root, 'bench', 'support', 'bare-app.mjs')];
  const dir = compiled ? path.join(root, 'dist', 'functions') : path.join(root, 'functions');
  const ext = compiled ? '.js' : '.ts';
  return readdirSync(dir).filter((f) => f.endsWith(ext) && !f.endsWith('.d.ts')).sort().map((f) => path.join(dir, f));
}

const hostModule = () => import(pathToFileURL(path.join(root, compiled ? 'dist/local/host/index.js' : 'local/host/index.ts')).href);

async function startIdleHost(app, settings) {
  const durableDir = mkdtempSync(path.join(tmpdir(), 'bench-memory-'));
  const { startHost } = await hostModule();
  const host = await startHost({
    app: appModules(app),
    hostJsonPath: path.join(root, 'host.json'),
    port: 0,
    durableDir,
    settings,
    log: (entry) => {
      if (entry.level === 'error' || entry.level === 'critical') process.stderr.write(`${entry.message}\n`);
    },
  });
  return {
    async close() {
      await host.close();
      rmSync(durableDir, { recursive: true, force: true });
    },
  };
}

/** The relay's runtime over its config, each configured target built, and what each target's first call loads. */
async function buildTargets() {
  const module = (...parts) => pathToFileURL(compiled ? path.join(root, 'dist', ...parts) + '.js' : path.join(root, ...parts) + '.ts').href;
  // The same module instances the function modules use (one URL each), so this is the app's own runtime.
  const { getRuntime } = await import(module('shared', 'composition'));
  const { loadKubernetesClient } = await import(module('shared', 'targets', 'kubernetes', 'index'));
  const runtime = getRuntime();
  for (const target of runtime.config.targets) {
    runtime.target(target.id);
    if (target.kind === 'kubernetes') await loadKubernetesClient();
  }
}

const result = {};
if (scenario.kind === 'host') {
  const before = await settled();
  if (scenario.distro) {
    // What shared/telemetry/azureMonitor.ts did with @azure/monitor-opentelemetry (still installed for azurite).
    const [{ useAzureMonitor }, { ManagedIdentityCredential }] = await Promise.all([import('@azure/monitor-opentelemetry'), import('@azure/identity')]);
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString: scenario.distro.connectionString, credential: new ManagedIdentityCredential({ clientId: scenario.distro.clientId }) },
      enableLiveMetrics: false,
    });
  }
  // Start-up: from before the first import of the app (and the preloaded packages) until the host listens.
  const startedAt = performance.now();
  for (const name of scenario.preload ?? []) await import(name);
  const host = await startIdleHost(scenario.app, scenario.settings ?? {});
  const startInMs = performance.now() - startedAt;
  if (scenario.build) await buildTargets();
  // Idle: timers armed, nothing running; give start-up work (config load, telemetry start) time to finish.
  await sleep(1500);
  Object.assign(result, { before, startInMs, idle: await settled(), maxRss: process.resourceUsage().maxRSS * 1024, modules: modulesByPackage() });
  await host.close();
} else if (scenario.kind === 'attribute') {
  const steps = [{ step: 'start', ...(await settled()) }];
  for (const name of scenario.packages) {
    await import(name);
    steps.push({ step: name, ...(await settled()) });
  }
  await hostModule();
  steps.push({ step: 'local host', ...(await settled()) });
  const host = await startIdleHost('relay', scenario.settings ?? {});
  await sleep(1500);
  steps.push({ step: 'relay app', ...(await settled()) });
  await host.close();
  Object.assign(result, { steps });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
