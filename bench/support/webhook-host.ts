/**
 * The app on the local host in a process of its own, for bench/webhook.ts: the emulators and Azurite stay in the
 * benchmark's process (in Azure, Event Grid, Key Vault and Storage are separate services too), so the webhook's
 * answer times are the app's. Options come as JSON in BENCH_HOST_OPTIONS (`settings`, `durableDir`, `hostJsonPath`, `durableYieldsToRequests`);
 * the webhook URL, base URL and durable key go back over IPC; the message `cpu` answers the process's CPU seconds so
 * far (all threads) and its event loop's active seconds so far and its event-loop delay (p99, max) since the previous `cpu`,
 * and the webhook's answer times inside this process since then (request parsed → response finished: p50, p99); the
 * message `close` stops the host and exits.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startHost } from '../../local/host/index.js';
import { appModules } from '../../local/stack.js';

const options = JSON.parse(process.env['BENCH_HOST_OPTIONS'] ?? '{}') as {
  settings: Record<string, string>;
  durableDir: string;
  hostJsonPath: string;
  durableYieldsToRequests?: boolean;
};
console.info = () => undefined;
console.log = () => undefined;
const host = await startHost({
  app: appModules(),
  hostJsonPath: options.hostJsonPath,
  port: 0,
  settings: options.settings,
  durableDir: options.durableDir,
  log: () => undefined,
  ...(options.durableYieldsToRequests === false ? { durableYieldsToRequests: false } : {}),
});
const started = process.cpuUsage();
// With --cpu-prof (BENCH_WEBHOOK_CPU_PROF), the monotonic time of each 'cpu' message (µs, the profile's clock), so a
// profile summary can keep the burst's samples only (bench/support/cpuprofile-summary.ts).
const profileDir = process.env['BENCH_WEBHOOK_CPU_PROF'];
const marks: number[] = [];
// The webhook's answer times as its server sees them (the poster's times add its own loop, the network and parsing).
let answers: number[] = [];
diagnostics_channel.subscribe('http.server.request.start', (message) => {
  const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
  if (!request.url?.includes('/runtime/webhooks/eventgrid')) return;
  const t0 = performance.now();
  response.once('finish', () => answers.push(performance.now() - t0));
});
const percentileOf = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
process.on('message', (message) => {
  if (message === 'cpu') {
    marks.push(Number(process.hrtime.bigint() / 1000n));
    const used = process.cpuUsage(started);
    // the event-loop delay since the previous 'cpu' message (how long a ready answer waited for the loop), in ms
    // mainThreadBusySeconds: the event loop's active time so far (the main thread's share of the CPU, GC and pool threads apart)
    const sorted = answers.sort((a, b) => a - b);
    process.send?.({
      cpuSeconds: (used.user + used.system) / 1e6,
      mainThreadBusySeconds: performance.eventLoopUtilization().active / 1000,
      loopDelayP99InMs: delay.percentile(99) / 1e6,
      loopDelayMaxInMs: delay.max / 1e6,
      serverAnswerP50InMs: percentileOf(sorted, 50),
      serverAnswerP99InMs: percentileOf(sorted, 99),
    });
    answers = [];
    delay.reset();
  }
  if (message === 'close') {
    if (profileDir) writeFileSync(path.join(profileDir, `marks-${process.pid}.json`), JSON.stringify(marks));
    void host.close().then(() => process.exit(0));
  }
});
process.send?.({ webhook: host.eventGridUrl('keyVaultEvents'), baseUrl: host.baseUrl, durableTaskKey: host.durableTaskKey });
