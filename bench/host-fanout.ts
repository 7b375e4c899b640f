import { writeBenchmarkSection } from './support/benchmarksDoc.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventType, startHost } from '../local/host/index.js';

const COUNT = 500;
const HEADING = '## Local host: 500-activity fan-out';

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-fanout-'));
  const host = await startHost({
    app: ['test/host/sample-app/index.ts'],
    durableDir: dir,
    settings: { TICK_SCHEDULE: '0 0 0 1 1 *' },
    log: () => undefined,
  });
  let peakHeapInBytes = 0;
  const sampler = setInterval(() => {
    peakHeapInBytes = Math.max(peakHeapInBytes, process.memoryUsage().heapUsed);
  }, 5);
  const startedAt = performance.now();
  const id = await host.startOrchestration('FanOut', { input: { count: COUNT } });
  const done = await host.waitForInstance(id, 300_000);
  const elapsedInMs = performance.now() - startedAt;
  clearInterval(sampler);
  if (done.runtimeStatus !== 'Completed' || (done.output as number[]).length !== COUNT) throw new Error(`fan-out did not complete: ${done.runtimeStatus}`);
  const episodes = done.history.filter((e) => e.EventType === EventType.OrchestratorStarted).length;
  const maxRssInMiB = process.resourceUsage().maxRSS / 1024;
  await host.close();
  rmSync(dir, { recursive: true, force: true });

  const rows = [
    `| activities | ${COUNT} |`,
    `| activity concurrency | ${host.activityConcurrency} |`,
    `| wall time, start to Completed | ${(elapsedInMs / 1000).toFixed(2)} s |`,
    `| orchestrator episodes (replays) | ${episodes} |`,
    `| history events | ${done.history.length} |`,
    `| peak heap used (sampled every 5 ms) | ${(peakHeapInBytes / 1024 / 1024).toFixed(1)} MiB |`,
    `| peak RSS (resourceUsage maxRSS) | ${maxRssInMiB.toFixed(1)} MiB |`,
  ];
  const section = [
    HEADING,
    '',
    `Run \`npx tsx bench/host-fanout.ts\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.availableParallelism()} cores, ${os.platform()}).`,
    'The sample app\'s `FanOut` orchestration: `Task.all` over 500 `Record` activities (no delay), journal on the local disk',
    'with fdatasync per group commit. Completions that arrive while an episode runs are batched into the next episode.',
    '',
    '| measure | value |',
    '|---|---|',
    ...rows,
    '',
  ].join('\n');
  writeBenchmarkSection(HEADING, section);
  process.stdout.write(`${section}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
