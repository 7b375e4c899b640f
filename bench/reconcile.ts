import { writeBenchmarkSection } from './support/benchmarksDoc.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import type { InstanceSnapshot } from '../local/host/index.js';
import { startStack, type Stack } from '../local/stack.js';
import { fingerprint, fingerprintKeyFrom } from '../shared/domain/fingerprint.js';
import { ownerOf } from '../shared/domain/references.js';
import type { ReconcileReport } from '../shared/orchestrations/types.js';
import { tagsFromMarks } from '../shared/targets/keyVault/transformations.js';

// Reconciliation benchmark: N source secrets routed to M target vaults, every copy seeded in sync with the relay's
// marks, then a reconciliation through the real local stack (timer → durable orchestration → activities → SDK
// clients → Key Vault emulator with latency injected on every request). Then 1 % of the source secrets get a new
// version without an event (a missed event) and a second run repairs them. In the same run, the naive baseline a
// user would write: get every source secret and every target copy (2·N·M calls, 4 in flight per vault).
//
//   npx tsx bench/reconcile.ts                 1,000 × 10, then rewrites its section of docs/benchmarks.md
//   npx tsx bench/reconcile.ts --quick         100 × 3; prints, writes nothing

const HEADING = '## Reconciliation: N source secrets × M target vaults';
const LATENCY_IN_MS = 20;
const PAGE_SIZE = 25;
const quick = process.argv.includes('--quick');
const N = quick ? 100 : 1_000;
const M = quick ? 3 : 10;
const DRIFT_SHARE = 0.01;

interface RunNumbers {
  readonly label: string;
  readonly timeInMs: number;
  readonly calls: number;
  readonly byOperation: Record<string, number>;
  readonly writes: number;
  readonly listPages: number;
  readonly drifted: number;
  readonly repairs: number;
  readonly history: { readonly reconcileEvents: number; readonly largestRepairEvents: number; readonly instances: number };
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'relay-bench-reconcile-'));
  const vaults = Array.from({ length: M }, (_, i) => `rt-${i + 1}`);
  const templatePath = path.join(stateDir, 'reconcile.config.json');
  writeFileSync(
    templatePath,
    JSON.stringify({
      mode: 'local',
      sources: [{ id: 'platform', vaultUrl: '{{vault:platform}}' }],
      targets: vaults.map((v) => ({ id: v, kind: 'keyVault', vaultUrl: `{{vault:${v}}}`, writeBudget: { writes: 1000, perSeconds: 10 } })),
      routes: [{ id: 'fleet', source: 'platform', match: { globs: ['rs-*'] }, targets: vaults.map((v) => ({ target: v, name: '{name}' })) }],
    }),
  );
  for (const level of ['info', 'warn', 'log'] as const) console[level] = () => undefined;
  const stack = await startStack({ stateDir, port: 0, configTemplate: templatePath, vaults: ['platform', ...vaults], log: () => undefined });
  try {
    const key = fingerprintKeyFrom('local1', Buffer.from(readFileSync(path.join(stateDir, 'fingerprint.key'), 'utf8').trim(), 'base64'));
    const platformUrl = stack.info.keyVault.vaults.platform!;
    const names = Array.from({ length: N }, (_, i) => `rs-${String(i).padStart(4, '0')}`);
    const seed = (name: string) => {
      const value = randomBytes(18).toString('base64url');
      const source = stack.keyVault.createSecret('platform', name, value, { emitEvent: false });
      const tags = tagsFromMarks({ source: ownerOf(platformUrl, name), sourceVersion: source.version, sourceCreatedOn: source.createdOn, fingerprint: fingerprint(key, value) });
      for (const vault of vaults) stack.keyVault.createSecret(vault, name, value, { tags, emitEvent: false });
    };
    for (const name of names) seed(name);
    stack.keyVault.addFault({ effect: { kind: 'latency', latencyInMs: LATENCY_IN_MS } });

    const say = (text: string) => process.stderr.write(`[bench] ${text}\n`);
    say(`seeded ${N} × ${M}; reconciling in sync`);
    const inSync = await reconcileRun(stack, 'in sync', 0);
    say('fleet status in sync');
    const statusInSync = await statusRun(stack);
    // 1 % of the source secrets get a new version without an event (a missed event): each of their M copies drifts.
    await new Promise((r) => setTimeout(r, 1_100)); // a new second, so creation times differ from the seeded ones
    const driftedNames = names.filter((_, i) => i % Math.round(1 / DRIFT_SHARE) === 0);
    for (const name of driftedNames) stack.keyVault.createSecret('platform', name, randomBytes(18).toString('base64url'), { emitEvent: false });
    say('fleet status with drift');
    const statusDrift = await statusRun(stack);
    say('reconciling 1 % drift');
    const drift = await reconcileRun(stack, '1 % drift', driftedNames.length * M);
    say('naive baseline');
    const naive = await naiveRun(stack, names, vaults);

    const section = render({ inSync, drift, naive, statusInSync, statusDrift, driftedSecrets: driftedNames.length });
    process.stdout.write(`${section}\n`);
    if (!quick) writeSection(section);
  } finally {
    await stack.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function reconcileRun(stack: Stack, label: string, expectedDrift: number): Promise<RunNumbers> {
  stack.keyVault.resetCounters();
  const started = performance.now();
  await stack.host.invokeTimer('reconcileTimer');
  const done = await stack.host.waitForInstance('reconcile', 600_000);
  const timeInMs = performance.now() - started;
  if (done.runtimeStatus !== 'Completed') throw new Error(`reconcile ended ${done.runtimeStatus}: ${JSON.stringify(done.failureDetails)}`);
  const report = done.output as ReconcileReport;
  if (report.drift.length !== expectedDrift) throw new Error(`${label}: expected ${expectedDrift} findings, got ${report.drift.length}`);
  const counters = stack.keyVault.counters();
  const byOperation: Record<string, number> = {};
  let calls = 0;
  for (const c of Object.values(counters)) {
    for (const [op, n] of Object.entries(c)) {
      if (['challenges', 'faults', 'total'].includes(op) || n === 0) continue;
      byOperation[op] = (byOperation[op] ?? 0) + n;
      calls += n;
    }
  }
  const repairs: InstanceSnapshot[] = report.repairs.map((r) => stack.host.getInstance(r.instanceId)).filter((i): i is InstanceSnapshot => i !== undefined);
  // Parts of a large repair relay are their own instances; none at this size.
  return {
    label,
    timeInMs,
    calls,
    byOperation,
    writes: byOperation.setSecret ?? 0,
    listPages: report.listPages ?? 0,
    drifted: report.drift.length,
    repairs: report.repairs.length,
    history: {
      reconcileEvents: done.history.length,
      largestRepairEvents: Math.max(0, ...repairs.map((i) => i.history.length)),
      instances: 1 + repairs.length,
    },
  };
}

/** `GET /api/secrets?outOfSync=true`: the fleet status, its calls and time. */
async function statusRun(stack: Stack): Promise<{ calls: number; timeInMs: number; outOfSync: number }> {
  stack.keyVault.resetCounters();
  const started = performance.now();
  let token: string | undefined;
  let outOfSync = 0;
  do {
    const url = `${stack.info.functions.baseUrl}/api/secrets?outOfSync=true&limit=1000${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
    const answer = (await (await fetch(url, { headers: { 'x-functions-key': stack.info.functions.key } })).json()) as { secrets: { targets: unknown[] }[]; continuationToken?: string };
    outOfSync += answer.secrets.reduce((n, s) => n + s.targets.length, 0);
    token = answer.continuationToken;
  } while (token);
  const timeInMs = performance.now() - started;
  const calls = Object.values(stack.keyVault.counters()).reduce((n, c) => n + c.total - c.challenges, 0);
  return { calls, timeInMs, outOfSync };
}

/** The naive reconciliation: get every source secret and every target copy (values!), 4 requests in flight per vault. */
async function naiveRun(stack: Stack, names: readonly string[], vaults: readonly string[]): Promise<{ calls: number; timeInMs: number }> {
  const ca = readFileSync(stack.info.keyVault.caCertPath, 'utf8');
  const credential = { getToken: async () => ({ token: 'bench', expiresOnTimestamp: Date.now() + 3_600_000 }) };
  // The SDK's default retries (a reused keep-alive socket the emulator closed answers "socket hang up" under load).
  const client = (vault: string) => new SecretClient(stack.info.keyVault.vaults[vault]!, credential, { tlsOptions: { ca }, disableChallengeResourceVerification: true });
  const platform = client('platform');
  const targets = vaults.map(client);
  await platform.getSecret(names[0]!);
  await Promise.all(targets.map((t) => t.getSecret(names[0]!)));
  stack.keyVault.resetCounters();
  const started = performance.now();
  // Per (secret, target) pair: read the source, read the copy, compare. 4 in flight per target vault.
  await Promise.all(
    targets.map(async (target) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < names.length) {
            const name = names[next++]!;
            const [source, copy] = await Promise.all([platform.getSecret(name), target.getSecret(name)]);
            if (source.value === undefined || copy.value === undefined) throw new Error(`naive: ${name} has no value`);
          }
        }),
      );
    }),
  );
  const timeInMs = performance.now() - started;
  const calls = Object.values(stack.keyVault.counters()).reduce((n, c) => n + c.getSecret, 0);
  return { calls, timeInMs };
}

function render(r: {
  inSync: RunNumbers;
  drift: RunNumbers;
  naive: { calls: number; timeInMs: number };
  statusInSync: { calls: number; timeInMs: number; outOfSync: number };
  statusDrift: { calls: number; timeInMs: number; outOfSync: number };
  driftedSecrets: number;
}): string {
  const pagesBound = Math.ceil(N / PAGE_SIZE) * (M + 1);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const ops = (run: RunNumbers) => Object.entries(run.byOperation).sort().map(([op, n]) => `${op} ${n}`).join(', ');
  const bound = (run: RunNumbers) => run.listPages + 3 * run.drifted;
  const rows = [r.inSync, r.drift].map(
    (run) =>
      `| ${run.label} | ${run.calls} | ${ops(run)} | ${run.writes} | ${run.listPages} | ${run.drifted} | ${bound(run)} | ${(run.calls / bound(run)).toFixed(2)} | ${(r.naive.calls / run.calls).toFixed(1)}× | ${s(run.timeInMs)} | ${run.history.reconcileEvents} | ${run.history.largestRepairEvents} |`,
  );
  return [
    HEADING,
    '',
    `\`npx tsx bench/reconcile.ts\` (${new Date().toISOString().slice(0, 10)}, ${os.availableParallelism()} cores, loaded): ${N} source secrets routed to ${M} target vaults`,
    `(one route, \`{name}\` in each vault: ${N * M} copies), every copy seeded in sync with the relay's marks, **${LATENCY_IN_MS} ms latency on every`,
    'Key Vault request**; one reconciliation through the real local stack (timer → durable orchestration → activities → SDK → emulator). Then',
    `${r.driftedSecrets} source secrets (1 %) get a new version without an event, and a second run finds and repairs their ${r.drift.drifted} copies.`,
    'Calls are the emulator\'s counters (authenticated requests, all vaults; 401 challenges not counted).',
    '',
    '| run | Key Vault calls | by operation | writes | list pages | drifted copies | bound: pages + 3 × drifted | calls / bound | naive / calls | time | reconcile history events | largest repair history |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Naive baseline in the same run (get every source secret and every copy, 4 in flight per vault): **${r.naive.calls} calls** (2·N·M = ${2 * N * M}), ${s(r.naive.timeInMs)},`,
    'and it reads every value.',
    '',
    `Fleet status (\`GET /api/secrets?outOfSync=true\`, same stack): in sync ${r.statusInSync.calls} calls, ${s(r.statusInSync.timeInMs)}; with the drift above`,
    `${r.statusDrift.calls} calls, ${s(r.statusDrift.timeInMs)}, ${r.statusDrift.outOfSync} placements out of sync.`,
    '',
    '- **The page bound.** Key Vault lists at most 25 secrets a page and its list item has no version id, so listing N secrets in the source',
    `  and in each of M vaults costs at least ⌈N/25⌉·(M+1) = ${pagesBound} pages here; the naive 2·N·M over that is 50·M/(M+1) = ${((50 * M) / (M + 1)).toFixed(1)}×,`,
    '  which is below 50× for every M: "≥ 50× fewer calls than naive" cannot be reached by any Key Vault list-based pass at 25 per page.',
    '  The in-sync run costs exactly its list pages (plus one page of the source\'s deleted secrets) and writes nothing.',
    `- **Drift.** ${r.drift.drifted} drifted copies cost ${r.drift.calls - r.drift.listPages} calls beyond the pages, ${((r.drift.calls - r.drift.listPages) / Math.max(1, r.drift.drifted)).toFixed(2)} per copy (bound 3):`,
    '  one source version listing per drifted secret (Key Vault\'s list item has no version id and every copy here holds the older',
    '  version, so no mark names the new one), then each repair relay: the plan reads the version (one source call per secret), each',
    '  delivery reads the value once per secret (cached), reads the copy\'s current version by an empty `PATCH` and writes it: one',
    '  source call per drifted secret for the listing, one for the plan, then 2 target calls per copy.',
    '- **History.** The reconciliation\'s history holds the listing, one `checkDrift` per drifted secret (batches of 20) and one repair',
    '  sub-orchestration per drifted secret: in sync it is constant whatever N; it grows with drift, not with the fleet.',
    '',
  ].join('\n');
}

function writeSection(section: string): void {
  writeBenchmarkSection(HEADING, section);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

