/**
 * The app on the local host in a process of its own, for bench/webhook.ts: the emulators and Azurite stay in the
 * benchmark's process (in Azure, Event Grid, Key Vault and Storage are separate services too), so the webhook's
 * answer times are the app's. Options come as JSON in BENCH_HOST_OPTIONS (`settings`, `durableDir`, `hostJsonPath`);
 * the webhook URL, base URL and durable key go back over IPC; the message `close` stops the host and exits.
 */
import { startHost } from '../../local/host/index.js';
import { appModules } from '../../local/stack.js';

const options = JSON.parse(process.env['BENCH_HOST_OPTIONS'] ?? '{}') as { settings: Record<string, string>; durableDir: string; hostJsonPath: string };
console.info = () => undefined;
console.log = () => undefined;
const host = await startHost({ app: appModules(), hostJsonPath: options.hostJsonPath, port: 0, settings: options.settings, durableDir: options.durableDir, log: () => undefined });
const started = process.cpuUsage();
process.on('message', (message) => {
  if (message === 'cpu') {
    const used = process.cpuUsage(started);
    process.send?.({ cpuSeconds: (used.user + used.system) / 1e6 });
  }
  if (message === 'close') void host.close().then(() => process.exit(0));
});
process.send?.({ webhook: host.eventGridUrl('keyVaultEvents'), baseUrl: host.baseUrl, durableTaskKey: host.durableTaskKey });
