import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchmarkSection } from './support/benchmarksDoc.js';

// The app's baseline memory: the relay's function modules in the local Functions host, idle, in a fresh process
// per run (bench/support/memory-child.mjs), under tsx and compiled (dist/, tsc output, plain Node as the worker
// runs it), without and with Application Insights configured (`APPLICATIONINSIGHTS_CONNECTION_STRING`, as in Azure).
// Beside it, in the same run: Node alone, and the naive baseline, the smallest durable Functions app on the same
// two libraries (bench/support/bare-app.mjs), and the relay as it was before the Kubernetes client and `pg` became
// lazy (both imported before the host, as its static imports did). Then the relay after it built its runtime and every
// target of a Key-Vault-only config and of one with a cluster target (what each target's first call loads, short of
// the network). Then what the idle RSS is made of: the modules loaded per package,
// and each production dependency's share, imported one after the other into one process. Last, the production
// install (`npm ci --omit=dev`, what the package azd uploads holds).
//
//   npm run build && npx tsx bench/memory.ts    every run, then rewrites its section of docs/benchmarks.md
//   npx tsx bench/memory.ts --quick             the idle runs only (no install); prints, writes nothing

const HEADING = '## App baseline memory and production install';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(root, 'bench', 'support', 'memory-child.mjs');
const MiB = 1024 * 1024;
/** Runs per scenario; the median is reported (RSS of a fresh process varies by a few MiB). */
const RUNS = 3;
/** Issue 10.3's bound: a 1,000-target fan-out under 512 MB of app RSS (read as MiB, as the fan-out section does). */
const FANOUT_BOUND_IN_MIB = 512;
/** The last commit whose manifest had the Azure Monitor distro (the install's naive baseline). */
const DISTRO_COMMIT = 'a08e501';

interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}
interface HostResult {
  readonly before: Memory;
  /** From the first import of the app (preloaded packages included) until the host listens. */
  readonly startInMs: number;
  readonly idle: Memory;
  readonly maxRss: number;
  readonly modules: Record<string, number>;
}
interface Step extends Memory {
  readonly step: string;
}

type Runtime = 'tsx' | 'compiled';
interface HostScenario {
  readonly label: string;
  readonly kind: 'host';
  readonly runtime: Runtime;
  readonly app: 'relay' | 'bare';
  readonly appInsights?: boolean;
  /** Application Insights through the Azure Monitor distro, as the relay did before (a dev-only transitive package). */
  readonly distro?: boolean;
  /** Packages imported before the host: what the relay loaded at start before they became lazy. */
  readonly preload?: readonly string[];
  /** After start, build the runtime over this config and every target in it (bench/support/memory-child.mjs). */
  readonly built?: 'keyVault' | 'cluster';
}

/** What the relay imported at start until they loaded on first use (shared/targets/kubernetes/client.ts, composition.ts). */
const LAZY_PACKAGES = ['@kubernetes/client-node', 'pg'] as const;

/** The configs of the `built` scenarios: two customer vaults, and the same with one cluster namespace. */
function builtConfig(kind: 'keyVault' | 'cluster'): object {
  return {
    sources: [{ id: 'platform', vaultUrl: 'https://platform.vault.azure.net/' }],
    targets: [
      { id: 'contoso', kind: 'keyVault', vaultUrl: 'https://contoso.vault.azure.net/' },
      { id: 'fabrikam', kind: 'keyVault', vaultUrl: 'https://fabrikam.vault.azure.net/' },
      ...(kind === 'cluster'
        ? [
            {
              id: 'edge-1-apps',
              kind: 'kubernetes',
              cluster: { name: 'edge-1', server: 'https://edge-1.example.com:443', auth: { type: 'tokenSecret', source: 'platform', secret: 'edge-1-relay-token' } },
              namespace: 'apps',
            },
          ]
        : []),
    ],
    routes: [
      {
        id: 'apps',
        source: 'platform',
        match: { globs: ['app-*'] },
        targets: [
          { target: 'contoso', name: '{name}' },
          { target: 'fabrikam', name: '{name}' },
          ...(kind === 'cluster' ? [{ target: 'edge-1-apps', name: '{name|lower}', key: 'value' }] : []),
        ],
      },
    ],
  };
}

/** What the relay needs to load its functions idle (no config read before the first invocation). */
const RELAY_SETTINGS = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  TASKHUB_NAME: 'BenchMemory',
  RELAY_CONFIG_PATH: path.join(root, 'local', 'demo.config.json'),
  RECONCILE_SCHEDULE: '0 0 0 1 1 *',
};
/** As in Azure (infra/modules/function-app.bicep), with an ingestion endpoint nothing listens on: idle sends nothing. */
const APP_INSIGHTS_SETTINGS = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
  AZURE_CLIENT_ID: '00000000-0000-4000-8000-0000000c11e7',
};

function runChild<T>(scenario: object, runtime: Runtime): Promise<T> {
  const args = runtime === 'tsx' ? ['--import', 'tsx', '--expose-gc', CHILD, JSON.stringify(scenario)] : ['--expose-gc', CHILD, JSON.stringify(scenario)];
  return new Promise((resolve, reject) => {
    // No inherited APPLICATIONINSIGHTS_* or OTEL_* settings: each scenario names what it configures.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(APPLICATIONINSIGHTS_|OTEL_|AZURE_MONITOR)/.test(k)));
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`memory child ${JSON.stringify(scenario)} exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const mib = (bytes: number): string => (bytes / MiB).toFixed(0);

interface Measured {
  readonly scenario: HostScenario;
  readonly runs: HostResult[];
  readonly idle: Memory;
  readonly startInMs: number;
  readonly modules: Record<string, number>;
}

/** Settings of the `built` scenarios: their config, and what building the runtime reads (no request is made). */
function builtSettings(configPath: string): Record<string, string> {
  return {
    RELAY_CONFIG_PATH: configPath,
    RELAY_FINGERPRINT_KEY: Buffer.alloc(32, 7).toString('base64'),
    AUDIT_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
  };
}

async function measureHost(scenario: HostScenario, configDir: string): Promise<Measured> {
  const runs: HostResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    const settings =
      scenario.app === 'relay'
        ? {
            ...RELAY_SETTINGS,
            ...(scenario.appInsights ? APP_INSIGHTS_SETTINGS : {}),
            ...(scenario.built ? builtSettings(path.join(configDir, `${scenario.built}.config.json`)) : {}),
          }
        : {};
    const distro = scenario.distro
      ? { connectionString: APP_INSIGHTS_SETTINGS.APPLICATIONINSIGHTS_CONNECTION_STRING, clientId: APP_INSIGHTS_SETTINGS.AZURE_CLIENT_ID }
      : undefined;
    const extra = { ...(scenario.preload ? { preload: scenario.preload } : {}), ...(scenario.built ? { build: true } : {}) };
    runs.push(await runChild<HostResult>({ kind: 'host', runtime: scenario.runtime, app: scenario.app, settings, distro, ...extra }, scenario.runtime));
  }
  const pick = (key: keyof Memory) => median(runs.map((r) => r.idle[key]));
  const idle: Memory = { rss: pick('rss'), heapUsed: pick('heapUsed'), heapTotal: pick('heapTotal'), external: pick('external'), arrayBuffers: pick('arrayBuffers') };
  return { scenario, runs, idle, startInMs: median(runs.map((r) => r.startInMs)), modules: runs[0]!.modules };
}

/** Size and file count of a production install of the repo's manifest and lock, in a temporary folder. */
function productionInstall(commit?: string): { bytes: number; files: number; packages: Record<string, number> } {
  const dir = execFileSync('mktemp', ['-d', path.join(os.tmpdir(), 'bench-install-XXXXXX')], { encoding: 'utf8' }).trim();
  try {
    for (const file of ['package.json', 'package-lock.json']) {
      if (commit) writeFileSync(path.join(dir, file), execFileSync('git', ['show', `${commit}:${file}`], { cwd: root }));
      else execFileSync('cp', [path.join(root, file), dir]);
    }
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'pipe' });
    const modules = path.join(dir, 'node_modules');
    const bytes = Number(execFileSync('du', ['-sb', modules], { encoding: 'utf8' }).split('\t')[0]);
    const files = Number(execFileSync('sh', ['-c', `find "${modules}" -type f | wc -l`], { encoding: 'utf8' }).trim());
    // The largest top-level folders (a scope counts as one: @opentelemetry, @azure, …).
    const packages = Object.fromEntries(
      execFileSync('du', ['-sb', ...execFileSync('ls', [modules], { encoding: 'utf8' }).trim().split('\n').map((n) => path.join(modules, n))], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => line.split('\t'))
        .map(([size, p]) => [path.basename(p!), Number(size)] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6),
    );
    return { bytes, files, packages };
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  if (!existsSync(path.join(root, 'dist', 'functions')) || !existsSync(path.join(root, 'dist', 'local', 'host'))) {
    throw new Error('the compiled runs need dist/: run `npm run build` first');
  }
  // The distro the relay used before its exporters alone: azurite's applicationinsights still installs it.
  const distroInstalled = existsSync(path.join(root, 'node_modules', '@azure', 'monitor-opentelemetry', 'package.json'));
  const loadBefore = os.loadavg()[0]!;
  const startedAt = performance.now();
  const configDir = execFileSync('mktemp', ['-d', path.join(os.tmpdir(), 'bench-memory-config-XXXXXX')], { encoding: 'utf8' }).trim();
  for (const kind of ['keyVault', 'cluster'] as const) writeFileSync(path.join(configDir, `${kind}.config.json`), JSON.stringify(builtConfig(kind)));
  // The same scenarios for the compiled app (dist/) and under tsx.
  const scenarios: HostScenario[] = (['compiled', 'tsx'] as const).flatMap((runtime): HostScenario[] => [
    { label: `the relay, ${runtime}`, kind: 'host', runtime, app: 'relay' },
    { label: `the relay, ${runtime}, as before (Kubernetes client and pg loaded at start)`, kind: 'host', runtime, app: 'relay', preload: LAZY_PACKAGES },
    { label: `the relay, ${runtime}, Key-Vault-only config, targets built`, kind: 'host', runtime, app: 'relay', built: 'keyVault' },
    { label: `the relay, ${runtime}, with a cluster target, targets built`, kind: 'host', runtime, app: 'relay', built: 'cluster' },
    { label: `the relay, ${runtime}, Application Insights configured`, kind: 'host', runtime, app: 'relay', appInsights: true },
    ...(distroInstalled ? [{ label: `the relay, ${runtime}, Application Insights by the distro (before)`, kind: 'host', runtime, app: 'relay', distro: true } as const] : []),
    { label: `bare durable app, ${runtime}`, kind: 'host', runtime, app: 'bare' },
  ]);
  const hosts: Measured[] = [];
  for (const scenario of scenarios) {
    const measured = await measureHost(scenario, configDir);
    hosts.push(measured);
    process.stdout.write(`${scenario.label}: idle RSS ${mib(measured.idle.rss)} MiB (${measured.runs.map((r) => mib(r.idle.rss)).join(', ')}), heap ${mib(measured.idle.heapUsed)} MiB, Node before the host ${mib(measured.runs[0]!.before.rss)} MiB\n`);
  }
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const steps = (await runChild<{ steps: Step[] }>({ kind: 'attribute', runtime: 'compiled', packages: Object.keys(manifest.dependencies), settings: RELAY_SETTINGS }, 'compiled')).steps;
  execFileSync('rm', ['-rf', configDir]);
  const install = quick ? undefined : productionInstall();
  const distroInstall = quick ? undefined : productionInstall(DISTRO_COMMIT);
  const loadAfter = os.loadavg()[0]!;
  const elapsed = (performance.now() - startedAt) / 1000;

  const by = (label: string) => hosts.find((h) => h.scenario.label === label)!;
  const nodeAlone = median(hosts.filter((h) => h.scenario.runtime === 'compiled').flatMap((h) => h.runs.map((r) => r.before.rss)));
  const hostRow = (h: Measured) => {
    const modules = Object.values(h.modules).reduce((a, b) => a + b, 0);
    const headroom = FANOUT_BOUND_IN_MIB * MiB - h.idle.rss;
    return `| ${h.scenario.label} | **${mib(h.idle.rss)}** (${h.runs.map((r) => mib(r.idle.rss)).join(', ')}) | ${mib(h.idle.heapUsed)} / ${mib(h.idle.heapTotal)} | ${mib(h.idle.external)} (${mib(h.idle.arrayBuffers)}) | ${modules} | ${h.startInMs.toFixed(0)} | ${(h.idle.rss / (FANOUT_BOUND_IN_MIB * MiB)).toFixed(2)} | ${mib(headroom)} |`;
  };
  const relayCompiled = by('the relay, compiled');
  const moduleCount = (h: Measured) => Object.values(h.modules).reduce((a, b) => a + b, 0);
  const lazyBullet = (runtime: Runtime) => {
    const now = by(`the relay, ${runtime}`);
    const before = by(`the relay, ${runtime}, as before (Kubernetes client and pg loaded at start)`);
    return (
      `- **Idle, ${runtime}, with the Kubernetes client and pg lazy, over as before:** ${mib(now.idle.rss)} MiB against ${mib(before.idle.rss)} MiB ` +
      `(${mib(now.idle.rss - before.idle.rss)} MiB, ${(now.idle.rss / before.idle.rss).toFixed(2)}× its RSS; heap ${mib(now.idle.heapUsed)} against ${mib(before.idle.heapUsed)} MiB); ` +
      `${moduleCount(now)} modules against ${moduleCount(before)}; start-up ${now.startInMs.toFixed(0)} ms against ${before.startInMs.toFixed(0)} ms.`
    );
  };
  const builtBullet = () => {
    const kv = (r: Runtime) => by(`the relay, ${r}, Key-Vault-only config, targets built`);
    const cluster = (r: Runtime) => by(`the relay, ${r}, with a cluster target, targets built`);
    const k8s = (h: Measured) => h.modules['@kubernetes/client-node'] ?? 0;
    return (
      `- **Targets built:** Key-Vault-only config ${mib(kv('compiled').idle.rss)} MiB compiled, ${mib(kv('tsx').idle.rss)} MiB under tsx ` +
      `(${k8s(kv('compiled'))} Kubernetes client modules); with a cluster target ${mib(cluster('compiled').idle.rss)} MiB compiled, ${mib(cluster('tsx').idle.rss)} MiB under tsx ` +
      `(+${mib(cluster('compiled').idle.rss - kv('compiled').idle.rss)} and +${mib(cluster('tsx').idle.rss - kv('tsx').idle.rss)} MiB; ` +
      `${k8s(cluster('compiled'))} Kubernetes client modules): the client's cost now lands only on a config that has a cluster.`
    );
  };
  const telemetryModules = (h: Measured) =>
    Object.entries(h.modules)
      .filter(([p]) => /^@opentelemetry\/|^@azure\/monitor|^@azure\/opentelemetry|^@microsoft\/applicationinsights/.test(p))
      .reduce((n, [, c]) => n + c, 0);
  const topPackages = Object.entries(relayCompiled.modules)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([p, c]) => `${p} ${c}`)
    .join(', ');
  const stepRows = steps.slice(1).map((s, i) => {
    const prev = steps[i]!;
    return `| ${s.step} | ${mib(s.rss - prev.rss)} | ${((s.heapUsed - prev.heapUsed) / MiB).toFixed(1)} | ${mib(s.rss)} |`;
  });
  const section = [
    HEADING,
    '',
    `Run \`npm run build && npx tsx bench/memory.ts\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.availableParallelism()} cores shared with other work,`,
    `${os.platform()}; load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end; ${elapsed.toFixed(0)} s).`,
    'Each run is a fresh process that starts the local Functions host with the app\'s function modules and stays idle',
    '(timers armed, nothing invoked); the numbers are taken after two full garbage collections, the median of',
    `${RUNS} runs (all runs in parentheses); "start ms" is the median time from the first import of the app until the host`,
    'listens (on this loaded machine it varies by up to 2× between runs of the same start: the module count is the steadier',
    'measure of start-up work). "compiled" is `dist/` (tsc output) under plain Node, as the worker runs it,',
    'the host included; "tsx" the TypeScript sources under tsx (its loader thread included). "Application Insights',
    'configured" sets `APPLICATIONINSIGHTS_CONNECTION_STRING` as in Azure, so the process starts its exporters (the',
    'endpoint is unreachable; idle, nothing is sent). The **naive baseline** is the smallest durable Functions app on',
    'the same two libraries (`bench/support/bare-app.mjs`: an HTTP starter, an orchestration, an activity, a timer),',
    `in the same host; Node alone (before the host is imported) is ${mib(nodeAlone)} MiB. "by the distro (before)" starts`,
    '`@azure/monitor-opentelemetry` as the relay did until it used the exporter packages alone (the distro is still',
    'installed, as a development-only dependency of Azurite). "as before" imports `@kubernetes/client-node` and `pg`',
    'before the host, as the relay\'s static imports did until they loaded on first use (the naive baseline of this',
    'change); "targets built" builds the relay\'s runtime over a config and every target in it, and loads what each',
    'target\'s first call loads (the Kubernetes client for a cluster target), short of the network: two customer vaults,',
    'and the same with one cluster namespace.',
    '',
    `The **bound** is issue 10.3's: a 1,000-target fan-out within ${FANOUT_BOUND_IN_MIB} MB of app RSS (read as MiB, as the fan-out`,
    'section does). The idle app is the floor that fan-out starts from; "headroom" is what it leaves for the fan-out\'s',
    'own working set (the fan-out section measures that growth over the idle stack).',
    '',
    '| process, idle | RSS MiB | heap used / total MiB | external (array buffers) MiB | modules loaded | start ms | RSS / bound | headroom MiB |',
    '|---|---|---|---|---|---|---|---|',
    ...hosts.map(hostRow),
    '',
    `- **The relay, compiled, over the naive baseline:** ${mib(relayCompiled.idle.rss - by('bare durable app, compiled').idle.rss)} MiB more RSS, ` +
      `${(relayCompiled.idle.rss / by('bare durable app, compiled').idle.rss).toFixed(2)}× its RSS.`,
    lazyBullet('compiled'),
    lazyBullet('tsx'),
    builtBullet(),
    `- **Application Insights configured** (the exporters alone): +${mib(by('the relay, compiled, Application Insights configured').idle.rss - relayCompiled.idle.rss)} MiB compiled, ` +
      `+${mib(by('the relay, tsx, Application Insights configured').idle.rss - by('the relay, tsx').idle.rss)} MiB under tsx; ` +
      `${telemetryModules(by('the relay, compiled, Application Insights configured'))} OpenTelemetry / Azure Monitor modules loaded with it, ` +
      `${telemetryModules(relayCompiled)} without (the API only).`,
    ...(distroInstalled
      ? [
          `- **The Azure Monitor distro instead** (what the relay started before; same settings, live metrics off): ` +
            `+${mib(by('the relay, compiled, Application Insights by the distro (before)').idle.rss - relayCompiled.idle.rss)} MiB RSS and ` +
            `+${mib(by('the relay, compiled, Application Insights by the distro (before)').idle.heapUsed - relayCompiled.idle.heapUsed)} MiB heap compiled, ` +
            `+${mib(by('the relay, tsx, Application Insights by the distro (before)').idle.rss - by('the relay, tsx').idle.rss)} MiB RSS under tsx; ` +
            `${telemetryModules(by('the relay, compiled, Application Insights by the distro (before)'))} OpenTelemetry / Azure Monitor modules.`,
        ]
      : []),
    `- **tsx over compiled:** +${mib(by('the relay, tsx').idle.rss - relayCompiled.idle.rss)} MiB (the loader thread and transformed sources).`,
    `- **Modules loaded by package** (the relay, compiled, idle): ${topPackages}.`,
    '',
    'What each production dependency adds when imported in turn into one compiled process (shared dependencies count',
    'where they are first loaded; imported is not the same as used: the relay loads the Azure Monitor exporter only',
    'when Application Insights is configured, the Kubernetes client when a cluster is first reached, `pg` when a',
    'PostgreSQL rotator first connects), then the local host and the relay\'s function modules:',
    '',
    '| step | + RSS MiB | + heap MiB | RSS MiB |',
    '|---|---|---|---|',
    ...stepRows,
    '',
    ...(install
      ? [
          `**Production install** (\`npm ci --omit=dev\` of package.json and the lock, what the package azd uploads holds in`,
          `\`node_modules/\`, file sizes summed): **${mib(install.bytes)} MiB** in ${install.files} files; largest: ${Object.entries(install.packages)
            .map(([p, b]) => `${p} ${mib(b)} MiB`)
            .join(', ')}. With the Azure Monitor distro instead of the exporters (the manifest and lock of ${DISTRO_COMMIT}, the`,
          `same run): ${mib(distroInstall!.bytes)} MiB in ${distroInstall!.files} files (${Object.entries(distroInstall!.packages)
            .slice(0, 3)
            .map(([p, b]) => `${p} ${mib(b)} MiB`)
            .join(', ')}); now ${(install.bytes / distroInstall!.bytes).toFixed(2)}× its size. The package test keeps the whole package under 300 MiB`,
          '(Flex Consumption deploys up to 1 GB).',
          '',
        ]
      : []),
  ].join('\n');
  if (!quick) writeBenchmarkSection(HEADING, section);
  process.stdout.write(`${section}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
