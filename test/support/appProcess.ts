/**
 * The app on the local host in a process of its own (forked by `startAppProcess`), so a test can see which packages
 * the app loads, apart from the test's own process (which loads the SDKs to look at the emulators). It imports the
 * local host and the function modules only (not local/stack.ts, which uses `@kubernetes/client-node` itself).
 *
 * Options come as JSON in APP_PROCESS_OPTIONS: `settings`, `durableDir`, `hostJsonPath`, `timeScale`, and `block`
 * (package names whose import fails with ERR_MODULE_NOT_FOUND, as in a deployment that lacks them). Over IPC it
 * answers `{ type: 'packages' }` with the packages loaded so far, `{ type: 'wait', instanceId }` with the instance
 * once it ended, and `{ type: 'close' }` by stopping the host and exiting.
 */
import { readdirSync } from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const options = JSON.parse(process.env['APP_PROCESS_OPTIONS'] ?? '{}') as {
  settings: Record<string, string>;
  durableDir: string;
  hostJsonPath: string;
  timeScale?: number;
  block?: string[];
};
const blocked = new Set(options.block ?? []);
const loaded = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
    if (blocked.has(name)) {
      throw Object.assign(new Error(`Cannot find package '${name}' imported from ${context.parentURL ?? 'the app'}`), { code: 'ERR_MODULE_NOT_FOUND' });
    }
    return nextResolve(specifier, context);
  },
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) loaded.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});

/** Packages of the loaded files: the name under the last `node_modules/`. */
function packages(): string[] {
  const names = new Set<string>();
  for (const file of loaded) {
    const at = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (at < 0) continue;
    const [scope, name] = file.slice(at + 14).split(path.sep);
    names.add(scope!.startsWith('@') ? `${scope}/${name}` : scope!);
  }
  return [...names].sort();
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const functionsDir = path.join(root, 'functions');
const app = readdirSync(functionsDir).filter((f) => f.endsWith('.ts')).sort().map((f) => path.join(functionsDir, f));
const { startHost } = await import('../../local/host/index.js');
const host = await startHost({
  app,
  hostJsonPath: options.hostJsonPath,
  port: 0,
  settings: options.settings,
  durableDir: options.durableDir,
  log: (entry) => process.send?.({ type: 'log', entry }),
  ...(options.timeScale ? { timeScale: options.timeScale } : {}),
});
process.on('message', (message: { type: string; instanceId?: string; timeoutInMs?: number }) => {
  if (message.type === 'packages') process.send?.({ type: 'packages', packages: packages() });
  if (message.type === 'wait') {
    host.waitForInstance(message.instanceId!, message.timeoutInMs ?? 60_000).then(
      (instance) => process.send?.({ type: 'instance', instance }),
      (error: unknown) => process.send?.({ type: 'instance', error: String(error) }),
    );
  }
  if (message.type === 'close') void host.close().then(() => process.exit(0));
});
process.send?.({ type: 'ready', baseUrl: host.baseUrl, functionKey: host.functionKey });
