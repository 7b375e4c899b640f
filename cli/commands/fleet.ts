import type { Command } from 'commander';
import type { DriftReportView } from '../../shared/fleet/report.js';
import type { FleetStatus, FleetStatusSecret } from '../../shared/fleet/status.js';
import type { CliContext, CliIo, ExitCode } from '../router.js';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_UNAVAILABLE, EXIT_USAGE, runCli } from '../router.js';
import { DEFAULT_STACK_FILE, readRunningStack } from '../stack.js';

/**
 * `secret-relay status` and `secret-relay drift`: the fleet as the function app sees it (`GET /api/secrets`, list
 * pages, no value) and the latest reconciliation's findings and repairs (`GET /api/rotations/reconcile`, or with
 * `--last` the latest report blob in storage). The app is reached through `--stack` (the running local stack's
 * .local/stack.json) or `--url` + `--key` (defaults `RELAY_API_URL`, `RELAY_FUNCTION_KEY`).
 */

interface ApiOptions {
  stack?: string | true;
  url?: string;
  key?: string;
  json?: boolean;
}

interface StatusOptions extends ApiOptions {
  outOfSync?: boolean;
  source?: string;
  target?: string;
  state?: string;
}

interface DriftOptions extends ApiOptions {
  last?: boolean;
  connectionString?: string;
  container?: string;
}

function apiOptions(command: Command): Command {
  return command
    .option('--stack [stack.json]', `use the running local stack (npm start) from ${DEFAULT_STACK_FILE}`)
    .option('--url <base>', 'function app base URL, e.g. https://relay.azurewebsites.net (default: RELAY_API_URL)')
    .option('--key <key>', 'function key (default: RELAY_FUNCTION_KEY)')
    .option('--json', 'print the answer as JSON');
}

/** `secret-relay status` and `secret-relay drift`. */
export function registerFleetCommands(program: Command, ctx: CliContext): void {
  apiOptions(
    program
      .command('status')
      .description('Show every routed secret × target placement: in sync or how it drifted, the held version, the last delivery')
      .option('--out-of-sync', 'only placements that are not in sync')
      .option('--source <id>', 'only secrets of this source')
      .option('--target <id>', 'only placements on this target')
      .option('--state <states>', 'only these states (comma-separated: in-sync, absent, version, not-owned, check-failed, …)'),
  ).action(async (options: StatusOptions) => {
    ctx.exit(await status(options, ctx));
  });
  apiOptions(
    program
      .command('drift')
      .description('Print the latest reconciliation report: what drifted, what was repaired, what needs you')
      .option('--last', 'read the latest stored report blob instead of asking the app (works while the app is down)')
      .option('--connection-string <cs>', 'with --last: storage connection string (default: AUDIT_STORAGE_CONNECTION_STRING)')
      .option('--container <name>', 'with --last: reports container (default: RELAY_REPORTS_CONTAINER, else "reports")'),
  ).action(async (options: DriftOptions) => {
    ctx.exit(await drift(options, ctx));
  });
}

/** Runs `status …` or `drift …` (`args` start with the command); for tests. */
export async function run(args: readonly string[], io: CliIo, options: { env?: Readonly<Record<string, string | undefined>> } = {}): Promise<number> {
  return runCli(args, io, { groups: [registerFleetCommands], ...(options.env ? { env: options.env } : {}) });
}

async function apiOf(options: ApiOptions, ctx: CliContext): Promise<{ base: string; key: string }> {
  if (options.stack !== undefined) {
    const file = options.stack === true ? DEFAULT_STACK_FILE : options.stack;
    const stack = await readRunningStack(file, { needs: ['functions'] });
    return { base: stack.functions!.baseUrl!, key: options.key ?? stack.functions?.key ?? '' };
  }
  const base = options.url ?? ctx.env.RELAY_API_URL;
  const key = options.key ?? ctx.env.RELAY_FUNCTION_KEY;
  if (!base || !key) throw new CliError(EXIT_USAGE, 'name the app: --stack, or --url and --key (or RELAY_API_URL and RELAY_FUNCTION_KEY)');
  return { base, key };
}

async function getJson(api: { base: string; key: string }, path: string): Promise<{ status: number; json: any }> {
  let response: Response;
  try {
    response = await fetch(`${api.base.replace(/\/$/, '')}/api${path}`, { headers: { 'x-functions-key': api.key, accept: 'application/json' } });
  } catch (error) {
    throw new CliError(EXIT_UNAVAILABLE, `cannot reach the function app at ${api.base} (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message})`);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (response.status === 401 || response.status === 403) throw new CliError(EXIT_UNAVAILABLE, `the function app refused the key (${response.status})`);
  if (response.status >= 500 || json === undefined) throw new CliError(EXIT_UNAVAILABLE, `the function app answered ${response.status}${text ? `: ${text.slice(0, 300)}` : ''}`);
  return { status: response.status, json };
}

async function status(options: StatusOptions, ctx: CliContext): Promise<ExitCode> {
  const api = await apiOf(options, ctx);
  const query = new URLSearchParams();
  if (options.outOfSync) query.set('outOfSync', 'true');
  if (options.source) query.set('source', options.source);
  if (options.target) query.set('target', options.target);
  if (options.state) query.set('state', options.state);
  const secrets: FleetStatusSecret[] = [];
  let unlisted: unknown[] = [];
  let token: string | undefined;
  do {
    const page = new URLSearchParams(query);
    page.set('limit', '500');
    if (token) page.set('continuationToken', token);
    const answer = await getJson(api, `/secrets?${page}`);
    if (answer.status === 400) throw new CliError(EXIT_USAGE, `status: ${answer.json.message}`);
    const body = answer.json as FleetStatus & { unlistedSources?: unknown[] };
    secrets.push(...body.secrets);
    unlisted = body.unlistedSources ?? unlisted;
    token = body.continuationToken;
  } while (token);
  if (options.json) {
    ctx.io.out(`${JSON.stringify({ secrets, ...(unlisted.length > 0 ? { unlistedSources: unlisted } : {}) }, null, 2)}\n`);
    return EXIT_OK;
  }
  const rows = secrets.flatMap((secret) =>
    secret.targets.map((t) => [
      `${secret.source}/${secret.name}`,
      t.targetId,
      t.placement,
      t.state,
      short(t.heldVersion),
      short(secret.currentVersion),
      t.status ?? '-',
      t.lastDelivery?.at.replace(/\.\d+Z$/, 'Z') ?? '-',
    ]),
  );
  ctx.io.out(table(['SECRET', 'TARGET', 'PLACEMENT', 'STATE', 'HELD', 'CURRENT', 'STATUS', 'LAST DELIVERY'], rows));
  const placements = secrets.flatMap((s) => s.targets);
  const out = placements.filter((t) => !t.inSync);
  ctx.io.out(`\n${secrets.length} secret(s), ${placements.length} placement(s), ${out.length} out of sync\n`);
  const hints = [...new Set(out.map((t) => `${t.state}: ${t.hint ?? ''}`))];
  for (const hint of hints) ctx.io.out(`  ${hint}\n`);
  for (const u of unlisted as { sourceId: string; reason: string }[]) ctx.io.out(`source ${u.sourceId} could not be listed (${u.reason}): its secrets are missing above\n`);
  return out.length > 0 || unlisted.length > 0 ? EXIT_PROBLEMS : EXIT_OK;
}

async function drift(options: DriftOptions, ctx: CliContext): Promise<ExitCode> {
  let view: DriftReportView | undefined;
  let running: unknown;
  if (options.last) {
    view = await lastStoredReport(options, ctx);
    if (!view) {
      ctx.io.out('no reconciliation report in the last two days\n');
      return EXIT_OK;
    }
  } else {
    const api = await apiOf(options, ctx);
    const answer = await getJson(api, '/rotations/reconcile');
    if (answer.status === 404) {
      ctx.io.out('no reconciliation has run yet (start one with the timer, or see "secret-relay drift --last")\n');
      return EXIT_OK;
    }
    view = answer.json.reconcile as DriftReportView | undefined;
    if (!view) running = { runtimeStatus: answer.json.runtimeStatus, progress: answer.json.progress };
  }
  if (options.json) {
    ctx.io.out(`${JSON.stringify(view ?? running, null, 2)}\n`);
    return EXIT_OK;
  }
  if (!view) {
    const r = running as { runtimeStatus: string; progress: unknown };
    ctx.io.out(`the reconciliation is ${r.runtimeStatus}${r.progress ? ` (${JSON.stringify(r.progress)})` : ''}; no report yet\n`);
    return EXIT_OK;
  }
  ctx.io.out(driftText(view));
  return view.counts.repairFailed > 0 || view.counts.notRepaired > 0 ? EXIT_PROBLEMS : EXIT_OK;
}

/** The readable report: a summary line, the findings table, the repairs, and a hint per kind that needs the operator. */
export function driftText(view: DriftReportView): string {
  const lines = [
    `reconciliation ${view.instanceId} started ${view.startedAt}: ${view.checkedSecrets} secret(s), ${view.checkedTargets} placement(s) checked` +
      `${view.listPages !== null ? ` from ${view.listPages} list page(s)` : ''}; ${view.counts.findings} finding(s): ${view.counts.repaired} repaired, ${view.counts.repairFailed} repair failed, ${view.counts.notRepaired} left to you`,
  ];
  if (view.findings.length > 0) {
    lines.push('', table(['SECRET', 'TARGET', 'LOCATION', 'DRIFT', 'HELD', 'OUTCOME', 'REPAIR', 'REASON'], view.findings.map((f) => [
      `${f.source}/${f.name}`,
      f.targetId,
      f.location,
      f.drift,
      short(f.heldVersion),
      f.outcome,
      f.repairStatus ?? '-',
      f.reason ?? '',
    ])).trimEnd());
    const needs = [...new Map(view.findings.filter((f) => f.outcome !== 'repaired').map((f) => [f.drift, f.hint])).entries()];
    if (needs.length > 0) lines.push('', 'what to do:', ...needs.map(([kind, hint]) => `  ${kind}: ${hint}`));
  }
  for (const u of view.unchecked) lines.push(`unchecked: ${u.sourceId}${u.name ? `/${u.name}` : ''} (${u.reason})`);
  if (view.reportBlob) lines.push('', `full report: ${view.reportBlob}`);
  return `${lines.join('\n')}\n`;
}

async function lastStoredReport(options: DriftOptions, ctx: CliContext): Promise<DriftReportView | undefined> {
  let connectionString = options.connectionString ?? ctx.env.AUDIT_STORAGE_CONNECTION_STRING;
  let container = options.container ?? ctx.env.RELAY_REPORTS_CONTAINER ?? 'reports';
  if (options.stack !== undefined) {
    const file = options.stack === true ? DEFAULT_STACK_FILE : options.stack;
    const stack = await readRunningStack(file, { needs: ['storage'] });
    connectionString = options.connectionString ?? stack.storage?.connectionString;
    container = options.container ?? stack.storage?.reportsContainer ?? container;
  }
  if (!connectionString) throw new CliError(EXIT_USAGE, 'drift --last: name the storage: --stack, --connection-string or AUDIT_STORAGE_CONNECTION_STRING');
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const { latestDriftReportIn } = await import('../../shared/fleet/reports.js');
  const { driftReportView } = await import('../../shared/fleet/report.js');
  try {
    const report = await latestDriftReportIn(BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container));
    return report ? driftReportView(report) : undefined;
  } catch (error) {
    throw new CliError(EXIT_UNAVAILABLE, `drift --last: cannot read the reports container "${container}" (${(error as { code?: string }).code ?? (error as Error).message})`);
  }
}

function short(version: string | null | undefined): string {
  return version ? version.slice(0, 8) : '-';
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
