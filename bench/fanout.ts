import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecretClient } from '@azure/keyvault-secrets';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { EventType, type HistoryEvent, type InstanceSnapshot } from '../local/host/index.js';
import { startStack, type Stack } from '../local/stack.js';
import { MAX_DELIVERIES_PER_ORCHESTRATION, relayInstanceId } from '../shared/orchestrations/names.js';
import type { RelaySummary } from '../shared/orchestrations/types.js';
import { chunk, limitsPerPart, planWaves } from '../shared/orchestrations/waves.js';

// Fan-out benchmark: one source version to N targets through the real local stack (Key Vault emulator posting the
// Event Grid event, local Functions host, real durable-functions replay, real SDK clients), with latency injected
// on every emulated vault and on the cluster. Each run is a fresh child process, so peak RSS is per run.
//
//   npx tsx bench/fanout.ts            all runs, then rewrites its section of docs/benchmarks.md
//   npx tsx bench/fanout.ts --quick    the 10-target run only; prints, writes nothing

const HEADING = '## Fan-out: one source version to N targets';
const SECRET = 'fanout-secret';
const TARGET_VAULTS = ['fanout-1', 'fanout-2', 'fanout-3', 'fanout-4', 'fanout-5'] as const;
const NAMESPACES = ['tenant-1', 'tenant-2', 'tenant-3', 'tenant-4'] as const;
const CLUSTER = 'edge-1';
const LATENCY_IN_MS = 20;
/** Every fifth target is a Kubernetes Secret: 80% Key Vault, 20% Kubernetes. */
const KUBERNETES_EVERY = 5;
/** `maxConcurrentActivityFunctions` of host.json: activities in flight at once in the one host process. */
const HOST_ACTIVITY_SLOTS = readHostActivitySlots();
const DEFAULT_LIMITS = { maxConcurrent: 50, maxPerEndpoint: 4 };
const LARGE_BUDGET = { writes: 1000, perSeconds: 10 };
const DEFAULT_BUDGET = { writes: 30, perSeconds: 10 };

interface Scenario {
  readonly label: string;
  readonly targets: number;
  readonly writeBudget: { readonly writes: number; readonly perSeconds: number };
  readonly limits: { readonly maxConcurrent: number; readonly maxPerEndpoint: number };
  /** Latency injected on every vault and cluster request (default LATENCY_IN_MS). */
  readonly latencyInMs?: number;
  /** Runs of this scenario (default 1); the median one is reported. */
  readonly repeat?: number;
}

interface RunResult {
  readonly scenario: Scenario;
  readonly deliveries: { readonly keyVault: number; readonly kubernetes: number };
  readonly stackStartInMs: number;
  /** setSecret on the source → relay instance Completed. */
  readonly convergeInMs: number;
  readonly statuses: Record<string, number>;
  readonly ok: boolean;
  readonly verified: { readonly checked: number; readonly matching: number };
  readonly keyVault: {
    readonly targetCalls: number;
    readonly targetChallenges: number;
    readonly sourceCalls: number;
    readonly byOperation: Record<string, number>;
    readonly sourceByOperation: Record<string, number>;
  };
  readonly kubernetes: { readonly calls: number; readonly byVerb: Record<string, number> };
  readonly orchestration: {
    readonly parts: number;
    readonly episodes: number;
    readonly historyEvents: number;
    readonly appendAuditCalls: number;
    readonly parentEpisodes: number;
  };
  readonly memory: { readonly baselineRssInMiB: number; readonly peakRssInMiB: number; readonly maxRssInMiB: number };
  /** CPU time of the process during the run over wall time (1 = one core busy), and event-loop utilization. */
  readonly cpu: { readonly coresBusy: number; readonly eventLoopUtilization: number };
  readonly phases: Phases;
  readonly bound: LowerBound;
}

/** Where the time went, from the history timestamps (ms after the source write). */
interface Phases {
  /** Source write → relay ExecutionStarted (event delivery, trigger, startNew). */
  readonly startedAtInMs: number;
  /** planRelay scheduled → completed. */
  readonly planInMs: number;
  /** First deliverSecret scheduled → last deliverSecret completed, over all parts. */
  readonly deliveringInMs: number;
  /** Waves of the longest part, and the sum of its gaps between a wave's last completion and the next wave's scheduling. */
  readonly waves: number;
  readonly interWaveGapsInMs: number;
  /** appendAudit scheduled → completed, longest instance (its batches in sequence). */
  readonly auditInMs: number;
  /** Last activity completed anywhere → relay ExecutionCompleted. */
  readonly finishInMs: number;
}

interface LowerBound {
  /** Sequential round trips of one delivery (target calls + its source reads), averaged over deliveries. */
  readonly roundTripsPerDelivery: number;
  /**
   * The single-orchestration wave formula: ceil(D / min(maxConcurrent, endpoints × maxPerEndpoint)) × round trips × latency. A bound
   * for one orchestration only; parts run in parallel with their own limits.
   */
  readonly simpleWavesInMs: number;
  /** Waves as the orchestrations plan them (per part, parts in parallel), each at least one delivery long. */
  readonly plannedWavesInMs: number;
  /** At most HOST_ACTIVITY_SLOTS deliveries in flight in the host. */
  readonly slotsInMs: number;
  /** Writes per endpoint beyond the bucket wait for refill. */
  readonly budgetInMs: number;
  /** Source write, trigger lookup and plan lookup before the first delivery. */
  readonly fixedInMs: number;
  readonly totalInMs: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Config generation
// ---------------------------------------------------------------------------------------------------------------

interface GeneratedTarget {
  readonly id: string;
  readonly kind: 'keyVault' | 'kubernetes';
  /** Vault name or namespace. */
  readonly where: string;
  /** Name of the secret (Key Vault) or Secret object (Kubernetes) the relay writes. */
  readonly name: string;
}

/** Targets of one size: every fifth one a Kubernetes namespace (round robin), the rest Key Vaults (round robin). */
function generateTargets(count: number): GeneratedTarget[] {
  const out: GeneratedTarget[] = [];
  let vaultTurn = 0;
  let namespaceTurn = 0;
  for (let i = 0; i < count; i++) {
    const customer = `c${String(i).padStart(4, '0')}`;
    if (i % KUBERNETES_EVERY === KUBERNETES_EVERY - 1) {
      const namespace = NAMESPACES[namespaceTurn++ % NAMESPACES.length]!;
      out.push({ id: `k8s-${namespace}-${customer}`, kind: 'kubernetes', where: namespace, name: `${customer}-${SECRET}` });
    } else {
      const vault = TARGET_VAULTS[vaultTurn++ % TARGET_VAULTS.length]!;
      out.push({ id: `kv-${vault}-${customer}`, kind: 'keyVault', where: vault, name: `${customer}--${SECRET}` });
    }
  }
  return out;
}

/** The config template of one size: one target entry per (vault or namespace, customer), one route to all. */
function configTemplate(targets: readonly GeneratedTarget[], writeBudget: Scenario['writeBudget']): string {
  const customerOf = (id: string) => id.slice(id.lastIndexOf('-') + 1);
  const config = {
    mode: 'local',
    sources: [{ id: 'platform', vaultUrl: '{{vault:platform}}' }],
    targets: targets.map((t) =>
      t.kind === 'keyVault'
        ? { id: t.id, kind: 'keyVault', vaultUrl: `{{vault:${t.where}}}`, writeBudget, vars: { customer: customerOf(t.id) } }
        : {
            id: t.id,
            kind: 'kubernetes',
            cluster: {
              name: CLUSTER,
              server: `{{cluster:${CLUSTER}:server}}`,
              caCertPath: `{{cluster:${CLUSTER}:caCertPath}}`,
              auth: { type: 'tokenSecret', source: 'platform', secret: 'edge-1-relay-token' },
            },
            namespace: t.where,
            writeBudget,
            vars: { customer: customerOf(t.id) },
          },
    ),
    routes: [
      {
        id: 'fanout',
        source: 'platform',
        match: { names: [SECRET] },
        targets: targets.map((t) =>
          t.kind === 'keyVault' ? { target: t.id, name: '{customer}--{name}' } : { target: t.id, name: '{customer}-{name}', key: 'value' },
        ),
      },
    ],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// One run (child process)
// ---------------------------------------------------------------------------------------------------------------

async function runScenario(scenario: Scenario): Promise<RunResult> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'bench-fanout-'));
  const targets = generateTargets(scenario.targets);
  const templatePath = path.join(stateDir, 'fanout.config.template.json');
  writeFileSync(templatePath, configTemplate(targets, scenario.writeBudget));
  // The relay logs one line per delivery; the benchmark keeps the terminal quiet.
  for (const level of ['info', 'warn', 'log'] as const) console[level] = () => undefined;
  const hostErrors: string[] = [];

  const stackStart = performance.now();
  const stack = await startStack({
    stateDir,
    port: 0,
    configTemplate: templatePath,
    vaults: ['platform', ...TARGET_VAULTS],
    namespaces: [...NAMESPACES],
    log: (entry) => {
      if (entry.level === 'error') hostErrors.push(entry.message.slice(0, 300));
    },
    settings: {
      RELAY_MAX_CONCURRENT_DELIVERIES: String(scenario.limits.maxConcurrent),
      RELAY_MAX_CONCURRENT_PER_TARGET: String(scenario.limits.maxPerEndpoint),
    },
  });
  const stackStartInMs = performance.now() - stackStart;
  try {
    const latencyInMs = scenario.latencyInMs ?? LATENCY_IN_MS;
    if (latencyInMs > 0) {
      stack.keyVault.addFault({ effect: { kind: 'latency', latencyInMs } });
      stack.kubernetes.addFault({ effect: { kind: 'latency', latencyInMs } });
    }
    const ca = readFileSync(stack.info.keyVault.caCertPath, 'utf8');
    const credential = { getToken: async () => ({ token: 'bench', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const client = (vault: string) =>
      new SecretClient(stack.info.keyVault.vaults[vault]!, credential, {
        tlsOptions: { ca },
        disableChallengeResourceVerification: true,
        retryOptions: { maxRetries: 0 },
      });
    const platform = client('platform');
    // Warm the bench's own client (challenge) before counting.
    await platform.getSecret('edge-1-relay-token');
    stack.keyVault.resetCounters();
    stack.kubernetes.resetCounters();

    const baselineRss = process.memoryUsage().rss;
    let peakRss = baselineRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 10);

    const value = randomBytes(24).toString('base64url');
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    const startedAtEpochInMs = Date.now();
    const started = performance.now();
    const written = await platform.setSecret(SECRET, value);
    const version = written.properties.version!;
    const relayId = relayInstanceId('platform', SECRET, version);
    const done = await stack.host.waitForInstance(relayId, 300_000);
    const convergeInMs = performance.now() - started;
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpuBefore);
    const elu = performance.eventLoopUtilization(eluBefore);

    const kvCounters = stack.keyVault.counters();
    const k8sCounters = stack.kubernetes.counters();
    if (done.runtimeStatus !== 'Completed') throw new Error(`relay ended ${done.runtimeStatus}: ${JSON.stringify(done.failureDetails)}`);
    const summary = done.output as RelaySummary;

    const instances: InstanceSnapshot[] = [done];
    for (let part = 0; ; part++) {
      const snapshot = stack.host.getInstance(`${relayId}:part-${part}`);
      if (!snapshot) break;
      instances.push(snapshot);
    }
    const scheduled = (name: string) =>
      instances.reduce((sum, i) => sum + i.history.filter((e) => e.EventType === EventType.TaskScheduled && (e as { Name?: string }).Name === name).length, 0);
    const episodesOf = (i: InstanceSnapshot) => i.history.filter((e) => e.EventType === EventType.OrchestratorStarted).length;

    const verified = await verifyTargets(stack, targets, client, value, version);

    const byOperation: Record<string, number> = {};
    let targetCalls = 0;
    let targetChallenges = 0;
    for (const vault of TARGET_VAULTS) {
      const c = kvCounters[vault]!;
      targetChallenges += c.challenges;
      for (const [op, n] of Object.entries(c)) {
        if (op === 'challenges' || op === 'faults' || op === 'total' || n === 0) continue;
        byOperation[op] = (byOperation[op] ?? 0) + n;
        targetCalls += n;
      }
    }
    const p = kvCounters.platform!;
    const sourceCalls = p.total - p.challenges;
    const sourceByOperation = Object.fromEntries(
      Object.entries(p).filter(([op, n]) => n > 0 && op !== 'challenges' && op !== 'faults' && op !== 'total'),
    );
    const byVerb: Record<string, number> = {};
    let k8sCalls = 0;
    for (const [key, n] of Object.entries(k8sCounters)) {
      if (!key.includes(' ') || n === 0) continue;
      byVerb[key] = n;
      k8sCalls += n;
    }

    const kvDeliveries = targets.filter((t) => t.kind === 'keyVault').length;
    const k8sDeliveries = targets.length - kvDeliveries;
    const bound = lowerBound(scenario, targets, {
      // The bench's own setSecret on the source is part of the fixed path, not of a delivery.
      roundTrips: targetCalls + k8sCalls + (sourceCalls - 3),
    });
    return {
      scenario,
      deliveries: { keyVault: kvDeliveries, kubernetes: k8sDeliveries },
      stackStartInMs,
      convergeInMs,
      statuses: summary.counts as Record<string, number>,
      ok: summary.ok && summary.outcomes.length === targets.length && hostErrors.length === 0,
      verified,
      keyVault: { targetCalls, targetChallenges, sourceCalls, byOperation, sourceByOperation },
      kubernetes: { calls: k8sCalls, byVerb },
      orchestration: {
        parts: instances.length - 1,
        episodes: instances.reduce((sum, i) => sum + episodesOf(i), 0),
        historyEvents: instances.reduce((sum, i) => sum + i.history.length, 0),
        appendAuditCalls: scheduled('appendAudit'),
        parentEpisodes: episodesOf(done),
      },
      cpu: { coresBusy: (cpu.user + cpu.system) / 1000 / convergeInMs, eventLoopUtilization: elu.utilization },
      phases: phasesOf(instances, startedAtEpochInMs),
      memory: {
        baselineRssInMiB: mib(baselineRss),
        peakRssInMiB: mib(peakRss),
        maxRssInMiB: process.resourceUsage().maxRSS / 1024,
      },
      bound,
    };
  } finally {
    await stack.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** Phase timings from the instances' histories (history timestamps have millisecond resolution). */
function phasesOf(instances: readonly InstanceSnapshot[], originInMs: number): Phases {
  const at = (e: HistoryEvent) => Date.parse(e.Timestamp) - originInMs;
  const relay = instances[0]!;
  const tasks = (i: InstanceSnapshot, name: string) => {
    const out: { episode: number; scheduledAt: number; completedAt: number }[] = [];
    const byId = new Map<number, (typeof out)[number]>();
    let episode = 0;
    for (const e of i.history) {
      if (e.EventType === EventType.OrchestratorStarted) episode++;
      if (e.EventType === EventType.TaskScheduled && e.Name === name) {
        const task = { episode, scheduledAt: at(e), completedAt: Number.NaN };
        out.push(task);
        byId.set(e.EventId, task);
      }
      if ((e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) && e.TaskScheduledId !== undefined) {
        const task = byId.get(e.TaskScheduledId);
        if (task) task.completedAt = at(e);
      }
    }
    return out;
  };
  const plan = tasks(relay, 'planRelay')[0]!;
  const deliveries = instances.flatMap((i) => tasks(i, 'deliverSecret'));
  const audits = instances.map((i) => tasks(i, 'appendAudit'));
  let waves = 0;
  let interWaveGapsInMs = 0;
  for (const i of instances) {
    const byEpisode = new Map<number, { scheduledAt: number; completedAt: number }>();
    for (const t of tasks(i, 'deliverSecret')) {
      const wave = byEpisode.get(t.episode);
      if (wave) {
        wave.scheduledAt = Math.min(wave.scheduledAt, t.scheduledAt);
        wave.completedAt = Math.max(wave.completedAt, t.completedAt);
      } else byEpisode.set(t.episode, { scheduledAt: t.scheduledAt, completedAt: t.completedAt });
    }
    const ordered = [...byEpisode.values()].sort((a, b) => a.scheduledAt - b.scheduledAt);
    let gaps = 0;
    for (let k = 1; k < ordered.length; k++) gaps += Math.max(0, ordered[k]!.scheduledAt - ordered[k - 1]!.completedAt);
    if (ordered.length > waves || (ordered.length === waves && gaps > interWaveGapsInMs)) {
      waves = ordered.length;
      interWaveGapsInMs = gaps;
    }
  }
  const lastActivity = Math.max(...instances.flatMap((i) => [...tasks(i, 'deliverSecret'), ...tasks(i, 'appendAudit')]).map((t) => t.completedAt));
  const completed = relay.history.find((e) => e.EventType === EventType.ExecutionCompleted);
  return {
    startedAtInMs: at(relay.history.find((e) => e.EventType === EventType.ExecutionStarted)!),
    planInMs: plan.completedAt - plan.scheduledAt,
    deliveringInMs: Math.max(...deliveries.map((t) => t.completedAt)) - Math.min(...deliveries.map((t) => t.scheduledAt)),
    waves,
    interWaveGapsInMs,
    auditInMs: Math.max(...audits.map((list) => list.reduce((sum, t) => sum + (t.completedAt - t.scheduledAt), 0))),
    finishInMs: (completed ? at(completed) : relay.lastUpdatedTime.getTime() - originInMs) - lastActivity,
  };
}

/** Reads every target back (value and source-version mark), after the counters were taken. */
async function verifyTargets(
  stack: Stack,
  targets: readonly GeneratedTarget[],
  client: (vault: string) => SecretClient,
  value: string,
  version: string,
): Promise<{ checked: number; matching: number }> {
  stack.keyVault.clearFaults();
  const clients = new Map(TARGET_VAULTS.map((v) => [v, client(v)] as const));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(stack.kubernetes.kubeconfig(stack.kubernetes.tokens.admin!));
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let matching = 0;
  for (const batch of chunk(targets, 25)) {
    const results = await Promise.all(
      batch.map(async (t) => {
        if (t.kind === 'keyVault') {
          const secret = await clients.get(t.where as (typeof TARGET_VAULTS)[number])!.getSecret(t.name);
          return secret.value === value && secret.properties.tags?.['relay-source-version'] === version;
        }
        const secret = await core.readNamespacedSecret({ name: t.name, namespace: t.where });
        const stored = secret.data?.['value'] === undefined ? undefined : Buffer.from(secret.data['value'], 'base64').toString('utf8');
        return stored === value && secret.metadata?.annotations?.['secret-relay.io/source-version'] === version;
      }),
    );
    matching += results.filter(Boolean).length;
  }
  return { checked: targets.length, matching };
}

/**
 * The time a perfect implementation with the same limits could not beat: fixed source calls, then the largest of
 * the wave bound (round trips per delivery × latency per wave), the host's activity slots, and the write budget.
 */
function lowerBound(scenario: Scenario, targets: readonly GeneratedTarget[], measured: { roundTrips: number }): LowerBound {
  const deliveries = targets.length;
  const roundTripsPerDelivery = measured.roundTrips / deliveries;
  const latencyInMs = scenario.latencyInMs ?? LATENCY_IN_MS;
  const perDeliveryInMs = roundTripsPerDelivery * latencyInMs;
  const endpoints = new Set(targets.map((t) => (t.kind === 'keyVault' ? t.where : CLUSTER))).size;
  const { maxConcurrent, maxPerEndpoint } = scenario.limits;
  const simpleWavesInMs = Math.ceil(deliveries / Math.min(maxConcurrent, endpoints * maxPerEndpoint)) * perDeliveryInMs;
  const items = targets.map((t) => ({ endpoint: t.kind === 'keyVault' ? t.where : CLUSTER }));
  const parts = chunk(items, MAX_DELIVERIES_PER_ORCHESTRATION);
  const partWaves = parts.map((part) => planWaves(part, limitsPerPart(scenario.limits, parts.length)).length);
  const plannedWavesInMs = Math.max(...partWaves) * perDeliveryInMs;
  const slotsInMs = Math.ceil(deliveries / HOST_ACTIVITY_SLOTS) * perDeliveryInMs;
  const writesPerEndpoint = new Map<string, number>();
  for (const t of targets) {
    const key = t.kind === 'keyVault' ? t.where : CLUSTER;
    writesPerEndpoint.set(key, (writesPerEndpoint.get(key) ?? 0) + 1);
  }
  const { writes, perSeconds } = scenario.writeBudget;
  const budgetInMs = Math.max(...[...writesPerEndpoint.values()].map((n) => (Math.max(0, n - writes) * perSeconds * 1000) / writes));
  const fixedInMs = 3 * latencyInMs;
  // The single-orchestration formula is shown but not used: parts share the limits, but never go below one per endpoint
  // each, so with fewer per-endpoint slots than parts it is no lower bound.
  const totalInMs = fixedInMs + Math.max(plannedWavesInMs, slotsInMs, budgetInMs);
  return { roundTripsPerDelivery, simpleWavesInMs, plannedWavesInMs, slotsInMs, budgetInMs, fixedInMs, totalInMs };
}

// ---------------------------------------------------------------------------------------------------------------
// Driver (parent process)
// ---------------------------------------------------------------------------------------------------------------

const SCENARIOS: readonly Scenario[] = [
  { label: '10', targets: 10, writeBudget: LARGE_BUDGET, limits: DEFAULT_LIMITS, repeat: 3 },
  { label: '100', targets: 100, writeBudget: LARGE_BUDGET, limits: DEFAULT_LIMITS, repeat: 3 },
  { label: '500', targets: 500, writeBudget: LARGE_BUDGET, limits: DEFAULT_LIMITS, repeat: 3 },
  { label: '500, 1 per endpoint', targets: 500, writeBudget: LARGE_BUDGET, limits: { maxConcurrent: 50, maxPerEndpoint: 1 } },
  { label: '500, 16 per endpoint', targets: 500, writeBudget: LARGE_BUDGET, limits: { maxConcurrent: 50, maxPerEndpoint: 16 } },
  { label: '500, no latency', targets: 500, writeBudget: LARGE_BUDGET, limits: DEFAULT_LIMITS, latencyInMs: 0 },
  { label: '100, default budget', targets: 100, writeBudget: DEFAULT_BUDGET, limits: DEFAULT_LIMITS },
  { label: '500, default budget', targets: 500, writeBudget: DEFAULT_BUDGET, limits: DEFAULT_LIMITS },
];

function runChild(scenario: Scenario): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--run', JSON.stringify(scenario)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunkOfOutput: Buffer) => {
      out += chunkOfOutput.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`run "${scenario.label}" exited ${code}`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as RunResult);
    });
  });
}

/** All runs of one scenario, and the run with the median time (its numbers fill the row). */
interface ScenarioResults {
  readonly runs: readonly RunResult[];
  readonly median: RunResult;
}

async function main(): Promise<void> {
  const runIndex = process.argv.indexOf('--run');
  if (runIndex >= 0) {
    const result = await runScenario(JSON.parse(process.argv[runIndex + 1]!) as Scenario);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return;
  }
  const quick = process.argv.includes('--quick');
  const onlyIndex = process.argv.indexOf('--only');
  const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined;
  const scenarios = only !== undefined ? SCENARIOS.filter((s) => s.label === only) : quick ? [{ ...SCENARIOS[0]!, repeat: 1 }] : SCENARIOS;
  const results: ScenarioResults[] = [];
  const benchStart = performance.now();
  for (const scenario of scenarios) {
    const runs: RunResult[] = [];
    for (let i = 0; i < (scenario.repeat ?? 1); i++) {
      const result = await runChild(scenario);
      runs.push(result);
      process.stderr.write(
        `${scenario.label} #${i + 1}: ${(result.convergeInMs / 1000).toFixed(2)} s, ok ${result.ok}, verified ${result.verified.matching}/${result.verified.checked}, ` +
          `lower bound ${(result.bound.totalInMs / 1000).toFixed(2)} s\n`,
      );
    }
    const sorted = [...runs].sort((a, b) => a.convergeInMs - b.convergeInMs);
    results.push({ runs, median: sorted[Math.floor((sorted.length - 1) / 2)]! });
  }
  const section = render(results, performance.now() - benchStart);
  if (!quick && only === undefined) writeSection(section);
  process.stdout.write(`${section}\n`);
  if (results.some(({ runs }) => runs.some((r) => !r.ok || r.verified.matching !== r.verified.checked))) process.exitCode = 1;
}

function render(results: readonly ScenarioResults[], totalInMs: number): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  const all = results.flatMap((r) => r.runs);
  const rows = results.map(({ runs, median: r }) => {
    const d = r.deliveries.keyVault + r.deliveries.kubernetes;
    const budget = `${r.scenario.writeBudget.writes}/${r.scenario.writeBudget.perSeconds} s`;
    const limits = `${r.scenario.limits.maxConcurrent}/${r.scenario.limits.maxPerEndpoint}`;
    const times = runs.length > 1 ? ` (${runs.map((x) => (x.convergeInMs / 1000).toFixed(2)).join(', ')})` : '';
    return (
      `| ${r.scenario.label} | ${r.deliveries.keyVault} + ${r.deliveries.kubernetes} | ${limits} | ${budget} | **${s(r.convergeInMs)}**${times} | ${s(r.bound.totalInMs)} | ` +
      `${r.bound.totalInMs > 0 ? `${(r.convergeInMs / r.bound.totalInMs).toFixed(1)}×` : '—'} | ${n(r.keyVault.targetCalls / r.deliveries.keyVault)} | ${n(r.kubernetes.calls / r.deliveries.kubernetes)} | ` +
      `${n(r.keyVault.sourceCalls / d)} | ${r.memory.peakRssInMiB.toFixed(0)} (+${(r.memory.peakRssInMiB - r.memory.baselineRssInMiB).toFixed(0)}) | ` +
      `${r.memory.maxRssInMiB.toFixed(0)} | ${runs.map((x) => `${x.verified.matching}/${x.verified.checked}`).join(', ')} |`
    );
  });
  const phaseRows = results.map(
    ({ median: r }) =>
      `| ${r.scenario.label} | ${s(r.phases.startedAtInMs)} | ${s(r.phases.planInMs)} | ${s(r.phases.deliveringInMs)} | ${r.phases.waves} | ` +
      `${s(r.phases.interWaveGapsInMs)} | ${s(r.phases.auditInMs)} | ${s(r.phases.finishInMs)} | ${r.orchestration.parts} | ${r.orchestration.episodes} | ` +
      `${r.orchestration.historyEvents} | ${r.orchestration.appendAuditCalls} | ${r.cpu.coresBusy.toFixed(2)} | ${r.cpu.eventLoopUtilization.toFixed(2)} |`,
  );
  const boundRows = results.map(
    ({ median: r }) =>
      `| ${r.scenario.label} | ${n(r.bound.roundTripsPerDelivery)} | ${s(r.bound.simpleWavesInMs)} | ${s(r.bound.plannedWavesInMs)} | ${s(r.bound.slotsInMs)} | ` +
      `${s(r.bound.budgetInMs)} | ${s(r.bound.fixedInMs)} | ${s(r.bound.totalInMs)} | ${s(r.convergeInMs - r.bound.totalInMs)} |`,
  );
  const ops = (r: RunResult) => Object.entries(r.keyVault.byOperation).map(([k, v]) => `${k} ${v}`).join(', ');
  const srcOps = (r: RunResult) => Object.entries(r.keyVault.sourceByOperation).map(([k, v]) => `${k} ${v}`).join(', ');
  const verbs = (r: RunResult) => Object.entries(r.kubernetes.byVerb).map(([k, v]) => `${k} ${v}`).join(', ');
  const big = (results.find((r) => r.median.scenario.label === '500') ?? results[results.length - 1]!).median;
  const statuses = [...new Set(all.flatMap((r) => Object.entries(r.statuses).map(([k]) => k)))].join(', ');
  return [
    HEADING,
    '',
    `Run \`npx tsx bench/fanout.ts\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.availableParallelism()} cores shared with other work,`,
    `${os.platform()}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB; ${all.length} runs in ${s(totalInMs)} including stack start-ups of ${s(Math.min(...all.map((r) => r.stackStartInMs)))}–` +
      `${s(Math.max(...all.map((r) => r.stackStartInMs)))}).`,
    'Each run is a fresh child process: `startStack` with the `platform` source vault, ' + `${TARGET_VAULTS.length} target vaults and`,
    `${NAMESPACES.length} namespaces of the emulated cluster \`${CLUSTER}\`, and a generated config with one target entry per (vault or`,
    'namespace, customer) — Key Vault secret `{customer}--{name}`, Kubernetes Secret',
    `\`{customer}-{name}\` key \`value\`, every ${KUBERNETES_EVERY}th target Kubernetes (80 % / 20 %) — with **${LATENCY_IN_MS} ms latency injected on every request** of`,
    'every emulated vault (the source included) and of the cluster. The clock runs from `SecretClient.setSecret` on the',
    'source (the emulator then posts the Event Grid event to the host) until the relay instance is Completed with every',
    'outcome a success; then every target is read back (value and source-version mark; "verified", one entry per run).',
    `Host activity slots: ${HOST_ACTIVITY_SLOTS} (host.json \`maxConcurrentActivityFunctions\`). "limits" is`,
    '`RELAY_MAX_CONCURRENT_DELIVERIES`/`RELAY_MAX_CONCURRENT_PER_TARGET` (set through `startStack` `settings`); "budget" is',
    'the `writeBudget` written on every target of the generated config (a token bucket per vault host, and one per',
    'cluster for all its namespaces). Times: the median run, all runs in parentheses. Memory: the host, the app and the',
    'emulators share the process (Azurite is a child process, not counted): RSS sampled every 10 ms during the run (growth',
    `over the idle stack in parentheses), and \`resourceUsage().maxRSS\` of the whole process. Outcomes: ${statuses} only.`,
    '',
    '| targets | KV + k8s | limits | budget | time to converge | lower bound | ratio | KV calls / KV delivery | k8s calls / k8s delivery | source calls / delivery | peak RSS MiB | maxRSS MiB | verified |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Calls in run "${big.scenario.label}": target vaults ${ops(big)}; source vault ${srcOps(big)} (the benchmark's own`,
    `\`setSecret\` included); cluster ${verbs(big)}. Not counted above: ${big.keyVault.targetChallenges} Key Vault 401 challenges (the emulator does`,
    'not delay them), one per `SecretClient`: the composition root shares one client per vault and identity.',
    '',
    'Where the time went (median run, from the history timestamps; ms resolution): "started" is source write →',
    'relay ExecutionStarted (event delivery, trigger, `startNew`); "delivering" is the first `deliverSecret` scheduled →',
    'the last completed, over all parts; "waves" and "gaps" are those of the part with most waves, gaps being the time',
    'between a wave\'s last completion and the next wave\'s scheduling (an orchestrator episode: replay + new actions +',
    'journal write); "audit" is the longest instance\'s `appendAudit` batches (100 records each, appended one by one);',
    '"finish" is the last activity completed → relay Completed (parts\' completion episodes, the parent\'s fan-in). "cores',
    'busy" is process CPU time / wall time; "ELU" the event-loop utilization of the one Node thread.',
    '',
    '| targets | started | plan | delivering | waves | gaps | audit | finish | parts | episodes | history events | audit calls | cores busy | ELU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...phaseRows,
    '',
    '### Lower bound',
    '',
    'A delivery\'s calls are sequential: the source read (a cache hit still re-reads which version is current: one round',
    'trip), then for Key Vault list versions → get deleted (the name is new) → set; for Kubernetes the cluster token is',
    'read from the source vault (two round trips, `tokenSecret` access) → get → create. "round trips / delivery" is every',
    'target and source call of the run, less the three fixed ones, over the deliveries; each costs the injected latency.',
    'The bound is the fixed part (source write, trigger lookup, plan lookup) plus the largest of: the waves the',
    `orchestrations really plan (\`planWaves\` over each part of ≤ ${MAX_DELIVERIES_PER_ORCHESTRATION} deliveries; parts run in parallel, each with its share`,
    'of the limits, \`limitsPerPart\`) × round trips × latency; the host\'s activity slots (`ceil(D / ' + `${HOST_ACTIVITY_SLOTS}` + ')` delivery times); and the write budget',
    '(writes to one endpoint beyond the bucket size wait `perSeconds / writes` each for refill). Zero CPU time is assumed.',
    'The single-orchestration formula `ceil(D / min(maxConcurrent, endpoints × maxPerEndpoint)) × round trips × latency` (6 endpoints: 5',
    'vaults and the cluster) is shown for comparison; it is not a bound when an endpoint has fewer slots than the relay has',
    'parts, because each part keeps at least one delivery in flight per endpoint.',
    '',
    '| targets | round trips / delivery | single-orchestration formula (not a bound) | planned waves | activity slots | write budget | fixed | bound | gap |',
    '|---|---|---|---|---|---|---|---|---|',
    ...boundRows,
    '',
    '### Interpretation',
    '',
    ...interpretation(results),
    '',
  ].join('\n');
}


function interpretation(results: readonly ScenarioResults[]): string[] {
  const by = (label: string) => results.find((r) => r.median.scenario.label === label)?.median;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const r10 = by('10');
  const r100 = by('100');
  const r500 = by('500');
  const one = by('500, 1 per endpoint');
  const sixteen = by('500, 16 per endpoint');
  const idle = by('500, no latency');
  const b100 = by('100, default budget');
  const b500 = by('500, default budget');
  const compare = (a: RunResult, b: RunResult) => {
    const ratio = a.convergeInMs / b.convergeInMs;
    return ratio >= 1 ? `${Math.round((ratio - 1) * 100)} % slower` : `${Math.round((1 - ratio) * 100)} % faster`;
  };
  const out: string[] = [];
  if (r10 && r100 && r500) {
    const perDelivery = (r: RunResult) => (r.convergeInMs / (r.deliveries.keyVault + r.deliveries.kubernetes)).toFixed(1);
    out.push(
      `- **Scaling.** 10 → 100 → 500 targets converge in ${s(r10.convergeInMs)} → ${s(r100.convergeInMs)} → ${s(r500.convergeInMs)} ` +
        `(${perDelivery(r10)} → ${perDelivery(r100)} → ${perDelivery(r500)} ms per delivery), every outcome Created and every target read back ` +
        'with the new value. Calls per delivery do not grow with the fan-out: 3 per Key Vault delivery (list versions, get ' +
        'deleted — the name is new — and set) and 2 per Kubernetes delivery (get, create). The source value is read once per ' +
        `fan-out (\`getSecret\` ${r500.keyVault.sourceByOperation['getSecret'] ?? 0}: the value and the cluster token), but every delivery still costs one ` +
        'source metadata call (the cache re-checks which version is current) and every Kubernetes delivery two more (the ' +
        `\`tokenSecret\` cluster credential is re-read per delivery so a rotated token is picked up): ${(r500.keyVault.sourceCalls / 500).toFixed(2)} source ` +
        'calls per delivery, against 4,000 non-create operations per 10 s per vault (service-limits §1.1).',
    );
  }
  if (r500 && idle) {
    out.push(
      `- **The gap is mostly CPU, then durable and audit overhead.** The bound counts only injected latency. The same 500-target ` +
        `run with no latency takes ${s(idle.convergeInMs)} (event-loop utilization ${idle.cpu.eventLoopUtilization.toFixed(2)}): that is the CPU cost of this ` +
        'one process doing everything — the host and the durable replay, the SDK pipelines, TLS on both ends of every request, ' +
        'both emulators, the Event Grid post and the audit appends — on a 2-core machine shared with other work. With ' +
        `latency the thread is still ${Math.round(r500.cpu.eventLoopUtilization * 100)} % busy, so latency and CPU only partly overlap: ` +
        `${s(r500.convergeInMs)} measured against ${s(r500.bound.totalInMs)} of latency alone. The durable part: ${r500.orchestration.episodes} orchestrator ` +
        `episodes over ${r500.orchestration.parts + 1} instances, each replaying its whole history (${r500.orchestration.historyEvents} events in the end; ` +
        'Node has no extended sessions, service-limits §3.5–3.6); the gaps between waves stay small ' +
        `(${s(r500.phases.interWaveGapsInMs)} over ${r500.phases.waves} waves in the longest part) because completions that arrive during an ` +
        `episode are batched into the next one. The audit runs after a part's deliveries: ${s(r500.phases.auditInMs)} on the critical path ` +
        `(${r500.orchestration.appendAuditCalls} \`appendAudit\` calls of ≤ 100 records, appended one by one). Event delivery to ` +
        `ExecutionStarted (${s(r500.phases.startedAtInMs)}) and planning (${s(r500.phases.planInMs)}) are small.`,
    );
  }
  if (r500 && one && sixteen) {
    out.push(
      `- **Concurrency.** With ${HOST_ACTIVITY_SLOTS} activity slots in the host and the default 4 per endpoint shared by the parts of a ` +
        `500-target relay (1 per endpoint each for three parts), the planned waves bind (${s(r500.convergeInMs)}, ${r500.phases.waves} waves in the longest part): ` +
        `the price of keeping every endpoint within its bound. 1 per endpoint: ${s(one.convergeInMs)} (${compare(one, r500)}; ` +
        `${one.phases.waves} waves, the tail being the cluster, one endpoint for all namespaces). 16 per endpoint: ${s(sixteen.convergeInMs)} ` +
        `(${compare(sixteen, r500)}; ${sixteen.phases.waves} waves, fewer barriers). ` +
        'Parts share the limits (`limitsPerPart`), but each keeps at least one delivery per endpoint in flight, so with 1 per ' +
        `endpoint and three parts an endpoint still sees three at once (single-orchestration formula: ${s(one.bound.simpleWavesInMs)}). ` +
        'The write budget, per vault host and process, also holds across parts.',
    );
  }
  if (b100 && b500 && r100) {
    out.push(
      `- **Write budget.** With the default 30 writes per 10 s, 100 targets write 16 times per vault and 20 times on the ` +
        `cluster, within the bucket: ${s(b100.convergeInMs)} against ${s(r100.convergeInMs)} with a large budget (${compare(b100, r100)}: noise). 500 targets write 80 ` +
        'times per vault and 100 times on the cluster, whose one bucket is shared by all its namespaces: (100 − 30) writes ' +
        `wait 1/3 s each, a bound of ${s(b500.bound.budgetInMs)}; measured ${s(b500.convergeInMs)} (${(b500.convergeInMs / b500.bound.totalInMs).toFixed(2)}× the bound, ` +
        `${b500.cpu.coresBusy.toFixed(2)} cores busy): budget-bound, as configured. Deliveries waiting for a token hold an activity slot meanwhile. A large fan-out to one vault or cluster is paced by its ` +
        '`writeBudget`, by design: the budget protects the customer\'s share of the service limit.',
    );
  }
  if (r500) {
    out.push(
      `- **Memory.** Peak RSS at 500 targets is ${r500.memory.peakRssInMiB.toFixed(0)} MiB (+${(r500.memory.peakRssInMiB - r500.memory.baselineRssInMiB).toFixed(0)} ` +
        'MiB over the idle stack), with the emulators\' stored versions and both ends of every socket in the same process; ' +
        `with no latency it is ${idle ? `${idle.memory.peakRssInMiB.toFixed(0)} MiB` : 'not measured'}. The growth is not broken down here; what scales with the fan-out ` +
        'in the app is the part histories and a ' +
        'new Kubernetes client per Kubernetes delivery (`tokenSecret` access). Far below the 1.5 GB of a Consumption instance ' +
        '(service-limits §3.12).',
    );
  }
  out.push(
    '- **Not measured here.** Real Key Vault and API-server latency and their 401 challenges, token acquisition, the ' +
      'Azure Storage task hub (the local journal is faster than queues and tables; service-limits §3.1 puts one ' +
      'orchestrator at ~100 activities/s fan-out), several host instances, and Event Grid\'s own delivery delay.',
  );
  return out;
}

function writeSection(section: string): void {
  const file = path.join('docs', 'benchmarks.md');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nMeasured numbers of the project\'s benchmarks (`bench/`); each section says how to rerun it.\n';
  const start = text.indexOf(HEADING);
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + HEADING.length);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, text);
}

function readHostActivitySlots(): number {
  const hostJson = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'host.json');
  const parsed = JSON.parse(readFileSync(hostJson, 'utf8')) as { extensions?: { durableTask?: { maxConcurrentActivityFunctions?: number } } };
  return parsed.extensions?.durableTask?.maxConcurrentActivityFunctions ?? 10 * os.availableParallelism();
}

function mib(bytes: number): number {
  return bytes / 1024 / 1024;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
