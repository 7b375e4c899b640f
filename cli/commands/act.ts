import { Command, InvalidArgumentError, Option } from 'commander';
import type { PermissionCheck, TargetCheckResult } from '../../shared/control/index.js';
import type { CliContext, ExitCode } from '../router.js';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_UNAVAILABLE } from '../router.js';
import { apiFrom, apiOptions, refused, sleep, type ApiClient, type ApiOptions } from './api.js';

interface WaitOptions extends ApiOptions {
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

const seconds = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return n;
};
const timeoutOption = () => new Option('--timeout <seconds>', 'how long to wait for the work to finish').argParser(seconds).default(300);

/**
 * `secret-relay sync | reconcile | target check | target sync`: act now through the app's HTTP API (function key),
 * each audited with the caller as actor. Exit 0 done and everything succeeded, 1 it ran and something failed
 * (a failed delivery, a missing permission, unrepaired drift), 2 usage, 3 the app is unreachable or timed out.
 */
export function registerActCommands(program: Command, ctx: CliContext): void {
  apiOptions(
    program
      .command('sync')
      .description("Relay a source secret's current version now (to every routed target, or one); waits and prints each outcome")
      .argument('<source/name>', 'the source id and secret name, e.g. platform/db-password')
      .option('--target <id>', 'only this target')
      .option('--no-wait', 'return once the relay is started')
      .addOption(timeoutOption())
      .option('--json', 'print the relay status as JSON'),
  ).action(async (ref: string, options: WaitOptions & { target?: string }, command: Command) => {
    ctx.exit(await sync(ref, options, ctx, command));
  });

  apiOptions(
    program
      .command('reconcile')
      .description('Start reconciliation now; with --wait, wait for it and print the drift it found and repaired')
      .option('--wait', 'wait until the run ends and print its findings')
      .addOption(timeoutOption())
      .option('--json', 'print the status (with the report once done) as JSON'),
  ).action(async (options: WaitOptions, command: Command) => {
    ctx.exit(await reconcile(options, ctx, command));
  });

  const target = program.command('target').description('Check or re-push one target');
  apiOptions(
    target
      .command('check')
      .description("Preflight: can the relay's identity reach the target and do what deliveries need (one result per permission)")
      .argument('<id>', 'target id from the config')
      .option('--json', 'print { targetId, kind, location, ok, checks } as JSON'),
  ).action(async (id: string, options: WaitOptions, command: Command) => {
    ctx.exit(await targetCheck(id, options, ctx, command));
  });
  apiOptions(
    target
      .command('sync')
      .description('Re-push every secret routed to one target (restores a deleted, recovered or replaced vault or namespace)')
      .argument('<id>', 'target id from the config')
      .option('--no-wait', 'return once the relays are started')
      .addOption(timeoutOption())
      .option('--json', 'print every relay with its outcome for the target as JSON'),
  ).action(async (id: string, options: WaitOptions, command: Command) => {
    ctx.exit(await targetSync(id, options, ctx, command));
  });
}

interface Outcome {
  targetId: string;
  status: string;
  location?: string;
  reason?: string;
  hint?: string;
}

async function sync(ref: string, options: WaitOptions & { target?: string }, ctx: CliContext, command: Command): Promise<ExitCode> {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1) throw new CliError(2, `<source/name>: expected e.g. platform/db-password, got ${JSON.stringify(ref.slice(0, 200))}`, command);
  const api = await apiFrom(options, ctx, command);
  const body = { source: ref.slice(0, slash), name: ref.slice(slash + 1), mode: 'relay', ...(options.target ? { targets: [options.target] } : {}) };
  const started = await api.call('POST', '/rotations', body);
  if (started.status !== 202 && started.status !== 409) throw refused(started, command);
  const { id, statusUrl } = started.json as { id: string; statusUrl: string };
  if (started.status === 409) ctx.io.err(`sync: a relay of this version is already running (${id}); following it\n`);
  if (options.wait === false) {
    if (options.json) ctx.io.out(`${JSON.stringify(started.json, null, 2)}\n`);
    else ctx.io.out(`started ${id}\nstatus: ${statusUrl}\n`);
    return EXIT_OK;
  }
  const status = await waitFor(api, statusUrl, (s) => s.result !== 'running', options.timeout ?? 300, `sync ${ref}`, ctx);
  if (options.json) ctx.io.out(`${JSON.stringify(status, null, 2)}\n`);
  else {
    ctx.io.out(`${id}: ${status.result}\n`);
    ctx.io.out(outcomeTable(status.outcomes ?? []));
    if (status.failure) ctx.io.out(`failure: ${status.failure.status ?? ''} ${status.failure.reason ?? ''}${status.failure.hint ? ` — ${status.failure.hint}` : ''}\n`);
  }
  return status.result === 'succeeded' ? EXIT_OK : EXIT_PROBLEMS;
}

async function reconcile(options: WaitOptions, ctx: CliContext, command: Command): Promise<ExitCode> {
  const api = await apiFrom(options, ctx, command);
  const started = await api.call('POST', '/reconcile');
  if (started.status === 409) ctx.io.err('reconcile: a reconciliation is already running; following it\n');
  else if (started.status !== 202) throw refused(started, command);
  if (!options.wait) {
    if (options.json) ctx.io.out(`${JSON.stringify(started.json, null, 2)}\n`);
    else ctx.io.out(`reconciliation ${started.status === 202 ? 'started' : 'already running'}; follow it with "reconcile --wait" or GET /api/reconcile\n`);
    return EXIT_OK;
  }
  const status = await waitFor(api, '/reconcile', (s) => s.done === true, options.timeout ?? 300, 'reconcile', ctx);
  if (options.json) {
    ctx.io.out(`${JSON.stringify(status, null, 2)}\n`);
  } else {
    ctx.io.out(renderReconcile(status));
  }
  const report = status.report;
  if (status.runtimeStatus !== 'Completed' || !report) return EXIT_PROBLEMS;
  const failedRepairs = (report.repairs ?? []).flatMap((r: { outcomes?: Outcome[] }) => r.outcomes ?? []).filter((o: Outcome) => o.status.startsWith('Failed'));
  const problems = (report.unrepaired?.length ?? 0) + (report.unchecked?.length ?? 0) + (report.checkFailed ?? 0) + failedRepairs.length;
  return problems > 0 ? EXIT_PROBLEMS : EXIT_OK;
}

/** The reconcile status as text: counts, each drift finding, each repair with its outcomes, what was left. */
export function renderReconcile(status: any): string {
  const lines = [`reconciliation ${status.runtimeStatus} (started ${status.createdTime ?? '?'}, by ${status.startedBy?.id ?? '?'})`];
  const r = status.report;
  if (!r) return `${lines.join('\n')}\n`;
  lines.push(`checked ${r.checkedSecrets ?? '?'} secret(s) on ${r.checkedTargets ?? '?'} target placement(s); ${r.checkFailed ?? 0} check(s) failed`);
  lines.push('', `drift found (${r.drift.length})`);
  for (const d of r.drift) lines.push(`  ${d.ref?.sourceId ?? ''}/${d.ref?.name ?? ''}  → ${d.targetId}  ${d.location ?? ''}  ${d.drift}${d.heldVersion ? `  held ${d.heldVersion}` : ''}${d.reason ? `  ${d.reason}` : ''}`);
  lines.push('', `repaired (${r.repairs.length})`);
  for (const repair of r.repairs) {
    const outcomes = (repair.outcomes ?? []).map((o: Outcome) => `${o.targetId} ${o.status}`).join(', ');
    lines.push(`  ${repair.ref?.sourceId ?? ''}/${repair.ref?.name ?? ''} ${repair.ref?.version ?? ''}  ${outcomes}`);
  }
  lines.push('', `not repaired (${r.unrepaired.length})`);
  for (const d of r.unrepaired) lines.push(`  ${d.ref?.sourceId ?? ''}/${d.ref?.name ?? ''}  → ${d.targetId}  ${d.drift}${d.reason ? `  ${d.reason}` : ''}`);
  for (const u of r.unchecked ?? []) lines.push(`  not checked: ${u.sourceId}${u.name ? `/${u.name}` : ''}  ${u.reason}`);
  if (r.reportBlob) lines.push('', `report: ${r.reportBlob}`);
  return `${lines.join('\n')}\n`;
}

async function targetCheck(id: string, options: WaitOptions, ctx: CliContext, command: Command): Promise<ExitCode> {
  const api = await apiFrom(options, ctx, command);
  const answer = await api.call('POST', `/targets/${encodeURIComponent(id)}/check`);
  if (answer.status !== 200) throw refused(answer, command);
  const result = answer.json as TargetCheckResult;
  if (options.json) ctx.io.out(`${JSON.stringify(result, null, 2)}\n`);
  else ctx.io.out(renderCheck(result));
  return result.ok ? EXIT_OK : EXIT_PROBLEMS;
}

/** One line per permission: result, name, required or optional, and why. */
export function renderCheck(result: TargetCheckResult): string {
  const missing = result.checks.filter((c) => c.required && c.result !== 'allowed');
  const head = `target ${result.targetId} (${result.kind} ${result.location}): ${result.ok ? 'OK, every required permission is allowed' : `MISSING ${missing.map((c) => c.permission).join(', ')}`}`;
  const width = Math.max(...result.checks.map((c) => c.permission.length));
  const row = (c: PermissionCheck) => `  ${c.result.padEnd(10)} ${c.permission.padEnd(width)}  ${(c.required ? 'required' : 'optional').padEnd(8)}${c.detail ? `  ${c.detail}` : ''}`;
  return `${head}\n${result.checks.map(row).join('\n')}\n`;
}

async function targetSync(id: string, options: WaitOptions, ctx: CliContext, command: Command): Promise<ExitCode> {
  const api = await apiFrom(options, ctx, command);
  const answer = await api.call('POST', `/targets/${encodeURIComponent(id)}/sync`);
  if (answer.status !== 202) throw refused(answer, command);
  const started = answer.json as { relays: { source: string; name: string; version: string; id: string; statusUrl: string; started: string }[]; unread: { source: string; name?: string; reason: string }[] };
  if (options.wait === false) {
    if (options.json) ctx.io.out(`${JSON.stringify(started, null, 2)}\n`);
    else ctx.io.out(`${started.relays.length} relay(s) started for target ${id}\n${started.relays.map((r) => `  ${r.id}`).join('\n')}\n`);
    return started.unread.length > 0 ? EXIT_PROBLEMS : EXIT_OK;
  }
  const rows: { source: string; name: string; version: string; id: string; result: string; outcome?: Outcome }[] = [];
  for (const [index, relay] of started.relays.entries()) {
    if (relay.started === 'failed') {
      rows.push({ source: relay.source, name: relay.name, version: relay.version, id: relay.id, result: 'not-started' });
      continue;
    }
    const status = await waitFor(api, relay.statusUrl, (s) => s.result !== 'running', options.timeout ?? 300, `target sync ${id}`, ctx);
    const outcome = (status.outcomes ?? []).find((o: Outcome) => o.targetId === id) as Outcome | undefined;
    rows.push({ source: relay.source, name: relay.name, version: relay.version, id: relay.id, result: status.result, ...(outcome ? { outcome } : {}) });
    if (started.relays.length > 5) ctx.io.err(`target sync: ${index + 1}/${started.relays.length} done\n`);
  }
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.outcome?.status ?? r.result, (counts.get(r.outcome?.status ?? r.result) ?? 0) + 1);
  if (options.json) ctx.io.out(`${JSON.stringify({ targetId: id, relays: rows, unread: started.unread }, null, 2)}\n`);
  else {
    ctx.io.out(`target ${id}: ${rows.length} secret(s) re-pushed (${[...counts].map(([s, n]) => `${s} ${n}`).join(', ') || 'none routed'})\n`);
    const width = Math.max(0, ...rows.map((r) => `${r.source}/${r.name}`.length));
    for (const r of rows) ctx.io.out(`  ${`${r.source}/${r.name}`.padEnd(width)}  ${(r.outcome?.status ?? r.result).padEnd(19)}  ${r.outcome?.location ?? ''}${r.outcome?.hint ? `  ${r.outcome.hint}` : ''}\n`);
    for (const u of started.unread) ctx.io.out(`  not re-pushed: ${u.source}${u.name ? `/${u.name}` : ''} could not be read (${u.reason})\n`);
  }
  const failed = rows.some((r) => r.result !== 'succeeded') || started.unread.length > 0;
  return failed ? EXIT_PROBLEMS : EXIT_OK;
}

function outcomeTable(outcomes: readonly Outcome[]): string {
  if (outcomes.length === 0) return '  (no deliveries)\n';
  const width = Math.max(...outcomes.map((o) => o.targetId.length));
  return outcomes.map((o) => `  ${o.targetId.padEnd(width)}  ${o.status.padEnd(19)}  ${o.location ?? ''}${o.hint ? `  ${o.hint}` : ''}\n`).join('');
}

/** Polls `path` every second until `done` says so; exit 3 after `timeoutInS`. */
async function waitFor(api: ApiClient, path: string, done: (status: any) => boolean, timeoutInS: number, label: string, ctx: CliContext): Promise<any> {
  const deadline = Date.now() + timeoutInS * 1000;
  let lastNote = Date.now();
  for (;;) {
    const answer = await api.call('GET', path);
    if (answer.status === 200 && done(answer.json)) return answer.json;
    if (answer.status !== 200 && answer.status !== 404) throw new CliError(EXIT_UNAVAILABLE, `${label}: the status answered HTTP ${answer.status}`);
    if (Date.now() > deadline) throw new CliError(EXIT_UNAVAILABLE, `${label}: not done after ${timeoutInS} s; it keeps running (status: ${path})`);
    if (Date.now() - lastNote > 5000) {
      ctx.io.err(`${label}: running${answer.json?.progress ? ` (${JSON.stringify(answer.json.progress).slice(0, 120)})` : ''}\n`);
      lastNote = Date.now();
    }
    await sleep(1000);
  }
}
