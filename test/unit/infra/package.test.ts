import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ignore from 'ignore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ASSETS } from '../../../shared/console/index.js';
import { repoRoot } from './files.js';

// Builds the app package the way azd does for this service (azure.yaml: language ts, remoteBuild false): from a
// clean checkout, `npm install` + `npm run build`, the prepackage hook's `npm prune --omit=dev`, then the folder
// zipped minus .funcignore. Here: the tracked files are copied, built with the repo's compiler (the same
// `npm run build`), production dependencies installed with `npm ci --omit=dev` (the tree `install` + `prune`
// leaves), and .funcignore applied with the gitignore matcher azd's rules follow. Then a plain Node process loads
// every function from the package alone, as the worker would.

let checkout: string;
let packageDir: string;
let files: string[];

function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, base));
    else out.push(relative(base, path).split('\\').join('/'));
  }
  return out;
}

beforeAll(() => {
  const root = mkdtempSync(join(tmpdir(), 'relay-package-'));
  checkout = join(root, 'checkout');
  packageDir = join(root, 'package');
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && existsSync(join(repoRoot, f)));
  for (const file of tracked) {
    mkdirSync(dirname(join(checkout, file)), { recursive: true });
    cpSync(join(repoRoot, file), join(checkout, file));
  }
  // `npm run build` with the dev dependencies (borrowed from the repo), then the production-only tree.
  symlinkSync(join(repoRoot, 'node_modules'), join(checkout, 'node_modules'), 'dir');
  execFileSync('npm', ['run', 'build'], { cwd: checkout, stdio: 'pipe' });
  unlinkSync(join(checkout, 'node_modules'));
  execFileSync('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: checkout, stdio: 'pipe' });

  const rules = ignore().add(readFileSync(join(checkout, '.funcignore'), 'utf8'));
  files = walk(checkout).filter((f) => !rules.ignores(f));
  for (const file of files) {
    mkdirSync(dirname(join(packageDir, file)), { recursive: true });
    renameSync(join(checkout, file), join(packageDir, file));
  }
}, 240_000);

afterAll(() => {
  if (checkout) rmSync(dirname(checkout), { recursive: true, force: true });
  // The production tree has many files: removing it can take minutes on a busy machine.
}, 240_000);

describe('the app package azd uploads', () => {
  it('holds host.json, package.json, the compiled functions and no sources, tests or local tooling', () => {
    expect(files).toContain('host.json');
    expect(files).toContain('package.json');
    expect(files.filter((f) => f.startsWith('dist/functions/') && f.endsWith('.js')).length).toBeGreaterThan(10);
    const own = files.filter((f) => !f.startsWith('node_modules/'));
    expect(own.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(own.filter((f) => /^(test|bench|docs|infra|local|cli|dist\/local|dist\/cli)\//.test(f))).toEqual([]);
    expect(own).not.toContain('local.settings.json');
    // The web console's static files ship as they are (no build step, no CDN): the console function reads them.
    for (const asset of CONSOLE_ASSETS) expect(own, asset).toContain(asset);
  });

  it('holds every production dependency and no development dependency', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const name of Object.keys(manifest.dependencies)) expect(existsSync(join(packageDir, 'node_modules', name, 'package.json')), name).toBe(true);
    // A dev dependency that a production one also needs (e.g. @types/node) is not marked dev in the lock; it stays.
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.keys(manifest.devDependencies).filter((name) => lock.packages[`node_modules/${name}`]?.dev === true);
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'vitest', 'azurite', 'node']));
    for (const name of devOnly) expect(existsSync(join(packageDir, 'node_modules', name)), name).toBe(false);
    const bytes = files.reduce((sum, f) => sum + statSync(join(packageDir, f)).size, 0);
    // Flex Consumption deploys zips up to 1 GB (service-limits); dev dependencies alone are over 700 MB.
    expect(bytes).toBeLessThan(300 * 1024 * 1024);
  });

  it('loads every function from the package alone, as the worker does (main glob, ESM)', () => {
    const main = (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { main: string }).main;
    expect(main).toBe('dist/functions/*.js');
    const expected = readdirSync(join(repoRoot, 'functions')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '.js'));
    const loader = join(dirname(packageDir), 'load.mjs');
    // The core stub (what the worker provides as @azure/functions-core) comes from the build, not from the package.
    writeFileSync(
      loader,
      [
        "import { createRequire, registerHooks } from 'node:module';",
        "import { fileURLToPath } from 'node:url';",
        'const esm = new Set();',
        "registerHooks({ load(url, context, next) { if (url.startsWith('file:')) esm.add(fileURLToPath(url)); return next(url, context); } });",
        `const { installFunctionsCoreStub, getCoreRegistry } = await import(${JSON.stringify(join(checkout, 'dist/local/host/coreStub.js'))});`,
        'installFunctionsCoreStub();',
        `for (const file of ${JSON.stringify(expected)}) await import(${JSON.stringify(join(packageDir, 'dist/functions'))} + '/' + file);`,
        'const registry = getCoreRegistry();',
        `const { renderConsolePage } = await import(${JSON.stringify(join(packageDir, 'dist/shared/console/index.js'))});`,
        'const page = renderConsolePage();',
        "const consolePage = page.status === 200 && page.body.includes('<script>') && page.body.includes('<style>');",
        // The packages loaded, by the name under the last node_modules/ of each file.
        `const root = ${JSON.stringify(join(packageDir, 'node_modules'))};`,
        "const packagesOf = (files) => [...new Set(files.map((f) => { const [scope, name] = f.split('\\\\').join('/').split('/node_modules/').at(-1).split('/'); return scope.startsWith('@') ? scope + '/' + name : scope; }))].sort();",
        'const loadedFiles = () => [...esm, ...Object.keys(createRequire(import.meta.url).cache)].filter((f) => f.startsWith(root));',
        'const packages = packagesOf(loadedFiles());',
        // The Kubernetes client loads on first use (shared/targets/kubernetes/client.ts), from the package's own tree.
        `const { loadKubernetesClient } = await import(${JSON.stringify(join(packageDir, 'dist/shared/targets/kubernetes/client.js'))});`,
        "const kubernetesClient = typeof (await loadKubernetesClient()).KubeConfig === 'function' && packagesOf(loadedFiles()).includes('@kubernetes/client-node');",
        // Exit once written: the telemetry exporters' timers would keep the process alive.
        'process.stdout.write(JSON.stringify({ functions: [...registry.functions.keys()].sort(), hooks: [...registry.hooks.keys()], consolePage, packages, kubernetesClient }) + "\\n", () => process.exit(0));',
      ].join('\n'),
    );
    type Loaded = { functions: string[]; hooks: string[]; consolePage: boolean; packages: string[]; kubernetesClient: boolean };
    const load = (env: Record<string, string> = {}) => {
      const run = spawnSync(process.execPath, [loader], { cwd: packageDir, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Loaded;
    };
    const TELEMETRY_SDK = /^(@azure\/monitor-opentelemetry.*|@opentelemetry\/(sdk-.*|resources|resource-detector-azure))$/;
    const loaded = load();
    // Without Application Insights the worker loads the OpenTelemetry API only, no SDK and no exporter.
    expect(loaded.packages).toContain('@opentelemetry/api');
    expect(loaded.packages.filter((p) => TELEMETRY_SDK.test(p))).toEqual([]);
    // Nor the Kubernetes client or the PostgreSQL driver: they load when a cluster or a PostgreSQL rotator is first
    // reached, and then from the package's own production dependencies.
    expect(loaded.packages).not.toContain('@kubernetes/client-node');
    expect(loaded.packages).not.toContain('pg');
    expect(loaded.kubernetesClient).toBe(true);
    // With it, the exporters load from the package's own production dependencies and start (stderr stays empty:
    // no "telemetry not started"); the endpoint is unreachable, nothing is sent before the process exits.
    const configured = load({
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
    });
    expect(configured.packages.filter((p) => TELEMETRY_SDK.test(p))).toEqual(
      expect.arrayContaining(['@azure/monitor-opentelemetry-exporter', '@opentelemetry/resources', '@opentelemetry/sdk-metrics', '@opentelemetry/sdk-trace-base']),
    );
    expect(loaded.functions).toEqual(
      expect.arrayContaining(['keyVaultEvents', 'credentialRotationEvents', 'rotations', 'relaySecretVersion', 'deliverBatch', 'reconcileTimer']),
    );
    // configRefresh.js registers a hook, telemetry.js starts the process's telemetry: neither is a function.
    expect(loaded.functions.length).toBeGreaterThanOrEqual(expected.length - 2);
    expect(loaded.hooks).toContain('preInvocation');
    // The console page renders from the package's own files (dist/ finds console/ beside it).
    expect(loaded.consolePage).toBe(true);
    expect(loaded.functions).toContain('console');
  });
});
