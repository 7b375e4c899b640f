/**
 * Event Grid webhook benchmark against the local stack: bursts of `SecretNewVersionCreated` events posted 10 at a
 * time (one event per POST), answer latency p50/p95/p99 and its ratio to the 50 ms bound. Each row is measured twice,
 * on two stacks in one run:
 * - `app apart`: the app on the local host in a process of its own (bench/support/webhook-host.ts), the Key Vault and
 *   Kubernetes emulators in the benchmark's process and Azurite in its child: what is timed is the app, not the
 *   emulators (in Azure, Event Grid, Key Vault and Storage are separate services);
 * - in both, the poster (Event Grid's part) runs in a process of its own too (bench/support/webhook-poster.ts), so
 *   its times do not include the emulators' work on its event loop;
 * - `one process`: `startStack` as `npm start` runs it (host, app and emulators on one event loop).
 * Rows, per stack:
 * - `routed`: names a route covers: the answer checks routes by name, reads the relay's status and starts it;
 * - `unrouted`: names no route covers: nothing is started, the answer appends one `reject-event`/`Ignored` record;
 * - `naive`: what the previous answer path cost: a read of the version from the source vault, then the start
 *   (a burst of its own, after the routed one).
 * Each row is its own burst of BENCH_WEBHOOK_EVENTS, started on a quiet host (the relays of the one before finished).
 * Also times, on its own, what a start writes before it is answered: a record in the engine's group-committed start log
 * (this code), and beside it a new instance's own journal (`Journal.create`: open, write, fdatasync; the code before).
 * The webhook URL is taken as the host publishes it (query included).
 * Writes docs/benchmarks.md `## Event Grid webhook` unless BENCH_WEBHOOK_NO_WRITE=1. Run: `npx tsx bench/webhook.ts`.
 * Options (env): BENCH_WEBHOOK_EVENTS (default 500), BENCH_WEBHOOK_IN_FLIGHT (default 10).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, type Stack } from '../local/stack.js';
import { Journal } from '../local/host/durable/journal.js';
import { StartLog } from '../local/host/durable/startLog.js';
import { writeBenchmarkSection } from './support/benchmarksDoc.js';
import { relayInstanceId } from '../shared/orchestrations/names.js';

const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 500);
const IN_FLIGHT = Number(process.env.BENCH_WEBHOOK_IN_FLIGHT ?? 10);
/** Bursts per routed and naive row (a p99 of 500 answers is their 5th slowest, so one burst is noisy): the median is shown. */
const ROUNDS = Number(process.env.BENCH_WEBHOOK_ROUNDS ?? 3);
const BOUND_MS = 50;
const HEADING = '## Event Grid webhook';
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Stats {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly seconds: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Runs `count` calls, `inFlight` at a time; the time of each call, in ms. */
async function burst(count: number, inFlight: number, one: (index: number) => Promise<void>): Promise<Stats> {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const index = next;
        next += 1;
        const t0 = performance.now();
        await one(index);
        times.push(performance.now() - t0);
      }
    }),
  );
  return statsOf(times, (performance.now() - started) / 1000);
}

function medianByP99(rounds: readonly Stats[]): Stats {
  return [...rounds].sort((a, b) => a.p99 - b.p99)[Math.floor((rounds.length - 1) / 2)]!;
}

function statsOf(times: number[], seconds = Number.NaN): Stats {
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99), max: times.at(-1) ?? 0, seconds };
}

interface AppSample {
  readonly cpuSeconds: number;
  readonly mainThreadBusySeconds: number;
  readonly loopDelayP99InMs: number;
  readonly loopDelayMaxInMs: number;
  /** The webhook's answer times inside the app's process since the previous sample (its HTTP server's view). */
  readonly serverAnswerP50InMs: number;
  readonly serverAnswerP99InMs: number;
}

/** Where the app under test runs, and how to reach it. */
interface AppUnderTest {
  readonly webhook: string;
  /** Waits until a relay instance is Completed, Failed or Terminated (or not found after a while). */
  waitDone(instanceId: string): Promise<void>;
  /**
   * CPU seconds the app's process used so far and its event-loop delay since the previous sample (undefined when the
   * app shares the benchmark's process).
   */
  sample(): Promise<AppSample | undefined>;
  close(): Promise<void>;
}

/** The poster, in a process of its own (bench/support/webhook-poster.ts): one burst per call. */
interface Poster {
  burst(posts: readonly { body: unknown; read?: { name: string; version: string } }[], vault?: { url: string; ca: string }): Promise<Stats>;
  close(): Promise<void>;
}

async function startPoster(webhook: string): Promise<Poster> {
  const child = fork(path.join(root, 'bench/support/webhook-poster.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the poster exited with ${code}`)));
  });
  return {
    burst: (posts, vault) =>
      new Promise((resolve, reject) => {
        child.once('message', (message) => {
          const answer = message as { times?: number[]; seconds?: number; error?: string };
          if (answer.error !== undefined || !answer.times) reject(new Error(`poster: ${answer.error ?? 'no times'}`));
          else resolve(statsOf(answer.times, answer.seconds));
        });
        child.send({ webhook, inFlight: IN_FLIGHT, posts, ...(vault ? { vault } : {}) });
      }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send('close');
      }),
  };
}

/** Starts the app in a process of its own against `stack` (its emulators and Azurite). */
async function appApart(stack: Stack, stateDir: string, durableYields: boolean): Promise<AppUnderTest> {
  const child = fork(path.join(root, 'bench/support/webhook-host.ts'), [], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_WEBHOOK_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_WEBHOOK_CPU_PROF}`] : [])],
    env: { ...process.env, BENCH_HOST_OPTIONS: JSON.stringify({ settings: stack.settings, durableDir: path.join(stateDir, 'durable-app'), hostJsonPath: path.join(root, 'host.json'), durableYieldsToRequests: durableYields }) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ webhook: string; baseUrl: string; durableTaskKey: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { webhook: string; baseUrl: string; durableTaskKey: string }));
    child.once('exit', (code) => reject(new Error(`the app host exited with ${code}`)));
  });
  return {
    webhook: ready.webhook,
    async waitDone(instanceId) {
      const url = `${ready.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}?code=${encodeURIComponent(ready.durableTaskKey)}`;
      for (let attempt = 0; attempt < 1200; attempt += 1) {
        const response = await fetch(url);
        const body = (await response.json().catch(() => ({}))) as { runtimeStatus?: string };
        if (response.status === 404 && attempt > 50) return;
        if (['Completed', 'Failed', 'Terminated'].includes(body.runtimeStatus ?? '')) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    sample: () =>
      new Promise((resolve) => {
        child.once('message', (message) => resolve(message as AppSample));
        child.send('cpu');
      }),
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('close');
      }),
  };
}

interface ScenarioResult {
  readonly routed: Stats;
  readonly naive: Stats;
  readonly unrouted: Stats;
  /** p99 of every routed and naive burst (`routed`, `naive`: the burst with the median p99). */
  readonly routedP99s: readonly number[];
  readonly naiveP99s: readonly number[];
  /** The app process's CPU time per routed or naive event (their relays included), when it runs apart. */
  readonly cpuMsPerRoutedEvent?: number;
  readonly cpuMsPerUnroutedEvent?: number;
  /** Of that, the app's CPU per routed or naive event while the burst lasted (the rest ran after it). */
  readonly cpuMsPerRoutedEventDuringBurst?: number;
  /** The app's event loop's busy time (main thread) per routed or naive event during the burst, and per unrouted event. */
  readonly mainThreadMsPerRoutedEventDuringBurst?: number;
  readonly mainThreadMsPerUnroutedEvent?: number;
  /** The app's event-loop delay (p99, max) during the routed burst and during the unrouted one. */
  readonly loopDelay?: { readonly routed: AppSample; readonly unrouted: AppSample };
}

/** One stack: `apart` runs the app in its own process; `durableYields: false` (apart only) runs its host without giving way to requests, routed rows only. */
async function scenario(apart: boolean, durableYields = true): Promise<ScenarioResult> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'bench-webhook-'));
  const stack = await startStack({
    stateDir,
    port: 0,
    configTemplate: path.join(root, 'test/e2e/e2e.config.json'),
    log: () => undefined,
    // Apart: the stack's own host carries no functions; the app runs in its own process against this stack.
    ...(apart ? { app: [] } : {}),
  });
  const quiet = { info: console.info, log: console.log };
  console.info = () => undefined;
  console.log = () => undefined;
  let app: AppUnderTest | undefined;
  let poster: Poster | undefined;
  try {
    app = apart
      ? await appApart(stack, stateDir, durableYields)
      : {
          webhook: stack.info.webhooks.keyVaultEvents,
          waitDone: (id) => stack.host.waitForInstance(id, 120_000).then(() => undefined, () => undefined),
          sample: async () => undefined,
          close: async () => undefined,
        };
    const under = app;
    const webhook = under.webhook;
    const vaultUrl = stack.info.keyVault.vaults.platform!;
    const vaultName = 'platform';
    const ca = readFileSync(stack.info.keyVault.caCertPath, 'utf8');
    const run = randomBytes(3).toString('hex');

    const event = (name: string, index: number) => {
      const version = randomBytes(16).toString('hex');
      return {
        version,
        body: [
          {
            id: `bench-${run}-${name}-${index}`,
            topic: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${vaultName}`,
            subject: name,
            eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
            eventTime: new Date().toISOString(),
            data: { Id: `${vaultUrl}/secrets/${name}/${version}`, VaultName: vaultName, ObjectType: 'Secret', ObjectName: name, Version: version, NBF: null, EXP: null },
            dataVersion: '1',
            metadataVersion: '1',
          },
        ],
      };
    };
    poster = await startPoster(webhook);
    const posts = poster;
    const started: string[] = [];
    const settle = async () => {
      // Let the relays started by the previous burst finish, so each burst starts from a quiet host.
      for (const id of started.splice(0)) await under.waitDone(id);
    };
    const routedEvent = (name: string, index: number) => {
      const made = event(name, index);
      started.push(relayInstanceId('platform', name, made.version));
      return made;
    };

    // Warm-up (JIT, connections, the audit container, the heap's first growth), not measured: a whole burst, as a
    // running instance has answered bursts before (the first burst after a start was the slowest of every run).
    const many = <T>(count: number, from: number, make: (index: number) => T): T[] => Array.from({ length: count }, (_, i) => make(from + i));
    await posts.burst(many(EVENTS, 0, (i) => ({ body: routedEvent(`app-warm-${run}-${i}`, i).body })));
    await posts.burst(many(20, 0, (i) => ({ body: event(`plain-warm-${run}-${i}`, i).body })));
    await settle();

    // Each path in a burst of its own (the bound is for a burst of EVENTS), the relays each burst starts finished
    // before the next burst, so each starts from a quiet host.
    const routedPosts = (from: number) => many(EVENTS, from, (i) => ({ body: routedEvent(`app-bench-${run}-${i}`, i).body }));
    // The previous answer path: the poster reads the version from the source (404 here: synthetic versions), then posts.
    const naivePosts = (from: number) =>
      many(EVENTS, from, (i) => {
        const name = `app-naive-${run}-${i}`;
        const { version, body } = routedEvent(name, i);
        return { body, read: { name, version } };
      });
    const vault = { url: vaultUrl, ca };
    // The app's CPU is sampled around the first round's routed burst.
    const cpu0 = await under.sample();
    const routedRounds = [await posts.burst(routedPosts(0))];
    const during = await under.sample();
    await settle();
    const cpuRoutedDone = await under.sample();
    const naiveRounds = [await posts.burst(naivePosts(0), vault)];
    await settle();
    for (let round = 1; round < ROUNDS; round++) {
      routedRounds.push(await posts.burst(routedPosts(round * EVENTS)));
      await settle();
      naiveRounds.push(await posts.burst(naivePosts(round * EVENTS), vault));
      await settle();
    }
    const routed = medianByP99(routedRounds);
    const naive = medianByP99(naiveRounds);
    const cpu1 = await under.sample();
    const unrouted = durableYields ? await posts.burst(many(EVENTS, 0, (i) => ({ body: event(`plain-bench-${run}-${i}`, i).body }))) : statsOf([]);
    const cpu2 = await under.sample();
    await settle();
    return {
      routed,
      naive,
      unrouted,
      routedP99s: routedRounds.map((r) => r.p99),
      naiveP99s: naiveRounds.map((r) => r.p99),
      ...(cpu0 && during && cpuRoutedDone && cpu1 && cpu2
        ? {
            cpuMsPerRoutedEvent: ((cpuRoutedDone.cpuSeconds - cpu0.cpuSeconds) * 1000) / EVENTS,
            cpuMsPerRoutedEventDuringBurst: ((during.cpuSeconds - cpu0.cpuSeconds) * 1000) / EVENTS,
            cpuMsPerUnroutedEvent: ((cpu2.cpuSeconds - cpu1.cpuSeconds) * 1000) / EVENTS,
            mainThreadMsPerRoutedEventDuringBurst: ((during.mainThreadBusySeconds - cpu0.mainThreadBusySeconds) * 1000) / EVENTS,
            mainThreadMsPerUnroutedEvent: ((cpu2.mainThreadBusySeconds - cpu1.mainThreadBusySeconds) * 1000) / EVENTS,
            loopDelay: { routed: during, unrouted: cpu2 },
          }
        : {}),
    };
  } finally {
    console.info = quiet.info;
    console.log = quiet.log;
    await poster?.close();
    await app?.close();
    await stack.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * Measured once by hand (a profile is not part of every run): where a routed answer's time went, and the levers tried.
 * Update with a new profile when the answer path changes.
 */
const PROFILE_NOTES = [
  'Profile of the routed answer path (2026-12-02, load average 3.3, 400 answers, `BENCH_WEBHOOK_CPU_PROF`; main-thread',
  'samples during the burst, so waiting for a core is included: 8.5 ms per answer): the durable client (axios,',
  'follow-redirects, durable-functions\' client: status read and start) 2.0 ms; the durable engine (the start and its',
  'start log record, and the episodes and journal writes of relays that ran during the burst) 1.9 ms; Node\'s HTTP and',
  'socket code (both ends of the two loopback exchanges, the server end of the webhook) 1.6 ms; the host\'s HTTP server',
  'and webhook 0.8 ms; garbage collection 0.6 ms; SDK calls of durable work (audit appends, plan reads) 0.5 ms; the',
  'invocation (`@azure/functions` conversion, hooks) 0.4 ms; the trigger handler 0.3 ms.',
  'Levers kept: the Event Grid triggers\' own client of the extension\'s RPC endpoint (shared/orchestrations/rpcClient.ts:',
  'the status read and the start with `node:http`, the same URLs, bodies and answers as `DurableClient`, which every other',
  'trigger keeps; a binding without `rpcBaseUrl` falls back to it): app CPU per routed answer during the burst 4.7 → 3.2–3.3 ms',
  'and routed p50 37 → 22–30 ms in short runs the same day; the start log (a start is one group-committed record instead of an open, a write and an fdatasync of its',
  'own journal: the two rows above); one `DurableClient` per binding data (`df.getClient` per invocation built a client',
  'and an axios instance and validated every management URL: 0.2 ms per answer in the profile before); the binding',
  'JSON serialised once by the host. Left out, and why: starting without the status read (the extension refuses a start',
  'only while the id is Pending or Running; a Completed, Failed or Terminated instance is replaced, so a late duplicate of',
  'a finished relay would run it again, and the read also finds a rotation\'s relay of that version); a memo of instances',
  'this process started (a running instance may still fail, and the memo would then hide the restart it needs; a memo of',
  'completed relays only would help late duplicates, of which a burst of new versions has none); an in-process transport',
  'for the durable client on the local host (it would drop costs the worker pays in Azure, where the extension answers',
  'over loopback HTTP).',
  'The profile above was taken before the RPC client (its durable client line was axios: a status read of an unknown id',
  'through `DurableClient` cost 0.9–1.5 ms of CPU against 0.13–0.43 ms for `http.get` of the same URL).',
  'Before these levers (same benchmark, 2026-12-02, load average 2.5): app apart, routed p50 47.3 ms, p99 88.8 ms (1.78×),',
  '5.6 ms of app CPU per answer during the burst; one process, routed p99 126.6 ms (2.53×).',
];

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0]!;
  const apart = await scenario(true);
  if (process.env.BENCH_WEBHOOK_ONLY_APART === '1') {
    console.log(JSON.stringify(apart, null, 1));
    return;
  }
  // The same app apart on a host whose durable work does not give way to the requests it answers (as before).
  const competing = await scenario(true, false);
  const shared = await scenario(false);

  // What a start writes before it is answered, on its own: a start log record (this code), and a new instance's
  // journal (open, write, fdatasync: the code before).
  const journalDir = mkdtempSync(path.join(os.tmpdir(), 'bench-journal-'));
  const startRecord = (i: number) => ({ kind: 'start', instanceId: relayInstanceId('platform', `app-${i}`, randomBytes(16).toString('hex')), name: 'relaySecretVersion', executionId: randomBytes(16).toString('hex'), input: JSON.stringify({ ref: { sourceId: 'platform', name: `app-${i}` }, cause: { trigger: 'event', eventId: `bench-${i}` } }), createdTime: new Date().toISOString(), startSeq: i });
  const startLog = new StartLog(journalDir);
  const logged = await burst(200, IN_FLIGHT, async (i) => {
    await startLog.appendStart(startRecord(i));
  });
  await startLog.close();
  const journal = await burst(200, IN_FLIGHT, async (i) => {
    const file = new Journal(path.join(journalDir, `j-${i}.jsonl`));
    await file.create([startRecord(i)]);
    await file.close();
  });
  rmSync(journalDir, { recursive: true, force: true });

  const ms = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? '—' : `${value.toFixed(1)} ms`);
  const row = (label: string, s: Stats, cpu?: number, p99s?: readonly number[]) =>
    `| ${label} | ${ms(s.p50)} | ${ms(s.p95)} | **${ms(s.p99)}**${p99s && p99s.length > 1 ? ` (${p99s.map((p) => p.toFixed(1)).join(', ')})` : ''} | ${(s.p99 / BOUND_MS).toFixed(2)} | ${ms(s.max)} | ${Number.isNaN(s.seconds) ? '—' : (EVENTS / s.seconds).toFixed(0)} | ${ms(cpu)} |`;
  const verdict = (s: Stats) => (s.p99 < BOUND_MS ? 'met' : 'not met');
  const ratio = (s: Stats) => `${(s.p99 / BOUND_MS).toFixed(2)}×`;
  const delay = (r: ScenarioResult, which: 'routed' | 'unrouted') =>
    r.loopDelay ? `p99 ${ms(r.loopDelay[which].loopDelayP99InMs)}, max ${ms(r.loopDelay[which].loopDelayMaxInMs)}` : '—';
  const section = [
    HEADING,
    '',
    `Run \`npx tsx bench/webhook.ts\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.availableParallelism()} cores, ${os.platform()}; \`uptime\` load average ${loadBefore.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end: the machine is shared with other work).`,
    `${EVENTS} \`SecretNewVersionCreated\` events per row (each row its own bursts, on a quiet host: the relays the burst before started had finished; routed and naive: ${ROUNDS} bursts each, taking turns, the one with the median p99 shown and every burst's p99 in parentheses), one per POST, ${IN_FLIGHT} in flight, after an unmeasured warm-up burst of ${EVENTS} routed events;`,
    'the time is the webhook\'s answer as the poster sees it; the poster (Event Grid\'s part, and the naive path\'s source read) runs',
    'in a process of its own (`bench/support/webhook-poster.ts`: before, it shared the emulators\' event loop and timed their',
    'work for the relays as the webhook\'s). Versions are synthetic, so the relays the routed rows start end in an',
    'audited `PlanFailed` (they still cost what a relay\'s episodes, plan activity and audit append cost). Three stacks in the same run:',
    '**app apart** — the app on the local host in a process of its own (`bench/support/webhook-host.ts`), the Key Vault and',
    'Kubernetes emulators in the benchmark\'s process, Azurite in its own: the app is measured, not the emulators (in Azure,',
    'Event Grid, Key Vault and Storage are separate services); **app apart, durable work competing** — the same, on a host started',
    'with `durableYieldsToRequests: false` (the local host before this change: the relays a burst starts run beside its answers);',
    'and **one process** — `startStack` as `npm start` runs it. "app CPU / event" is the app process\'s CPU time from the start of',
    'the burst until its relays finished, divided by its events.',
    '',
    `| stack, answer path | p50 | p95 | p99 (every burst) | p99 / ${BOUND_MS} ms | max | events/s | app CPU / event |`,
    '|---|---|---|---|---|---|---|---|',
    row('app apart, routed: route check by name, status read, start (this code)', apart.routed, apart.cpuMsPerRoutedEvent, apart.routedP99s),
    row('app apart, naive baseline: read the version from the source, then the above', apart.naive, apart.cpuMsPerRoutedEvent, apart.naiveP99s),
    row('app apart, unrouted: `reject-event`/`Ignored` `no-route` record, nothing started', apart.unrouted, apart.cpuMsPerUnroutedEvent),
    row('app apart, durable work competing, routed', competing.routed, competing.cpuMsPerRoutedEvent, competing.routedP99s),
    row('app apart, durable work competing, naive baseline', competing.naive, competing.cpuMsPerRoutedEvent, competing.naiveP99s),
    row('one process, routed (this code)', shared.routed, undefined, shared.routedP99s),
    row('one process, naive baseline', shared.naive, undefined, shared.naiveP99s),
    row('one process, unrouted', shared.unrouted),
    '',
    `App process during the routed burst: ${ms(apart.cpuMsPerRoutedEventDuringBurst)} of CPU per event while the burst lasted (of ${ms(apart.cpuMsPerRoutedEvent)} in all),`,
    `event-loop delay ${delay(apart, 'routed')}; with durable work competing ${ms(competing.cpuMsPerRoutedEventDuringBurst)} per event during the burst,`,
    `event-loop delay ${delay(competing, 'routed')}. During the unrouted burst: event-loop delay ${delay(apart, 'unrouted')}.`,
    `Inside the app (its HTTP server, request parsed → response finished), the first routed burst's answers took p50 ${ms(apart.loopDelay?.routed.serverAnswerP50InMs)}, p99 ${ms(apart.loopDelay?.routed.serverAnswerP99InMs)}`,
    `(the poster's times add its own process, the loopback network and the wait of a request for the app's busy event loop before it is parsed); the unrouted ones p50 ${ms(apart.loopDelay?.unrouted.serverAnswerP50InMs)}, p99 ${ms(apart.loopDelay?.unrouted.serverAnswerP99InMs)}.`,
    '',
    'Where an answer\'s time goes (CPU profile of the app process during a burst: `BENCH_WEBHOOK_CPU_PROF=<dir>`, with',
    '`BENCH_WEBHOOK_ONLY_APART=1 BENCH_WEBHOOK_EVENTS=200` for a short run, summarised by `bench/support/cpuprofile-summary.ts`',
    'over the burst\'s samples): a routed answer is three HTTP exchanges on the app\'s event loop — the webhook POST, then the',
    'status read and the start (`node:http` to the host\'s own durable RPC API, as the worker calls the extension\'s loopback',
    'listener in Azure) — plus the invocation (`@azure/functions` conversion, hooks, the handler; the client is built',
    'once per RPC endpoint, not per invocation) and the start\'s one durable write: a record in the engine\'s start log,',
    'group-committed with the other starts of that moment (the instance\'s own journal is written with its first episode);',
    'an unrouted answer is the webhook exchange, the invocation and one group-committed audit append. Nothing reads the source.',
    'With 10 in flight the poster meets the app\'s throughput, so p50 ≈ 10 × the app\'s CPU per answer when it has a core',
    'to itself: the bound needs well under 5 ms of CPU per answer. The host starts durable work only while no request is',
    'being answered, or after it waited 50 ms, one item at a time (docs/local-host.md, "Scheduling"; the "durable work',
    'competing" rows turn that off), so the relays a burst starts run mostly right after it.',
    `In this run the routed answers cost ${ms(apart.cpuMsPerRoutedEventDuringBurst)} of app CPU each during the burst (all threads; the event loop was busy ${ms(apart.mainThreadMsPerRoutedEventDuringBurst)} per answer, waiting for a core included;`,
    `10 × the CPU = ${ms((apart.cpuMsPerRoutedEventDuringBurst ?? Number.NaN) * IN_FLIGHT)}, the p50 to expect on a free core) and the unrouted ones ${ms(apart.cpuMsPerUnroutedEvent)} (event loop ${ms(apart.mainThreadMsPerUnroutedEvent)}); answer times above that are waiting for a core (the machine's load) and the disk.`,
    `What a start writes before its answer, on its own (200 starts, ${IN_FLIGHT} in flight): a start log record (this code) p50 ${ms(logged.p50)}, p99 ${ms(logged.p99)};`,
    `a new instance's own journal as before (\`Journal.create\`: open, write, fdatasync) p50 ${ms(journal.p50)}, p99 ${ms(journal.p99)}.`,
    '',
    ...PROFILE_NOTES,
    '',
    `**Bound (p99 < ${BOUND_MS} ms), app apart: routed ${verdict(apart.routed)} in this run** (p99 ${ratio(apart.routed)} the bound; the naive path ${ratio(apart.naive)}), unrouted ${verdict(apart.unrouted)} (${ratio(apart.unrouted)});`,
    `durable work competing: routed ${ratio(competing.routed)}, naive ${ratio(competing.naive)}; one process: routed ${verdict(shared.routed)} (${ratio(shared.routed)}, naive ${ratio(shared.naive)}), unrouted ${ratio(shared.unrouted)}.`,
    '',
  ].join('\n');
  console.log(section);
  if (process.env.BENCH_WEBHOOK_NO_WRITE !== '1') writeBenchmarkSection(HEADING, section);
}

await main();
