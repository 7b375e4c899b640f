import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { PLAN_ACTIONS, type Plan, type PlanAction, type PlanItem, type UnreadSource } from '../../shared/control/index.js';
import { validateConfigText } from '../../shared/domain/index.js';
import type { CliContext, ExitCode } from '../router.js';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../router.js';
import { apiFrom, apiOptions, refused, type ApiClient, type ApiOptions } from './api.js';

interface PlanCommandOptions extends ApiOptions {
  config?: string;
  source?: string;
  name?: string;
  json?: boolean;
}

/** What each action means, for the human output. */
const ACTION_TITLES: Record<PlanAction, string> = {
  create: 'create: the target has no such secret; a relay writes it',
  update: 'update: the target holds an older version, another key\'s fingerprint or an edited copy; a relay writes the current version',
  none: 'none: the target holds the current version; a relay writes nothing',
  recover: 'recover: the name is soft-deleted; a relay recovers it, then writes',
  adopt: 'adopt: a foreign object the route may take over (adopt: true); a relay overwrites it and audits Adopted',
  conflict: 'conflict: a foreign object the route may not take over; a relay fails with FailedNotOwned',
  'skip-newer': 'skip-newer: the target holds a newer source version; a relay leaves it',
  blocked: 'blocked: the target cannot be read or written now; a relay would fail',
};

/**
 * `secret-relay plan`: a dry run of relaying every routed secret's current version, from metadata only. Exit 0 when
 * every row can proceed, 1 when some row is `conflict` or `blocked` (or the proposed config is invalid), 2 usage,
 * 3 the app is unreachable.
 */
export function registerPlanCommand(program: Command, ctx: CliContext): void {
  apiOptions(
    program
      .command('plan')
      .description('Dry run: what a relay of every routed secret would do now, per target (reads metadata only, writes nothing)')
      .option('--config <file>', 'plan this proposed relay.config.json against the live vaults and clusters instead of the deployed config')
      .option('--source <id>', 'only this source')
      .option('--name <name>', 'only this source secret')
      .option('--json', 'print { items, counts, unread } as JSON'),
  ).action(async (options: PlanCommandOptions, command: Command) => {
    ctx.exit(await plan(options, ctx, command));
  });
}

async function plan(options: PlanCommandOptions, ctx: CliContext, command: Command): Promise<ExitCode> {
  let configText: string | undefined;
  let sources: (string | undefined)[] = [options.source];
  if (options.config !== undefined) {
    try {
      configText = await readFile(options.config, 'utf8');
    } catch (error) {
      throw new CliError(EXIT_USAGE, `--config: cannot read ${options.config} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, command);
    }
    // A valid file is planned source by source, so a long plan shows its progress; an invalid one goes as a whole
    // and the app lists every problem.
    const local = validateConfigText(configText);
    if (local.ok && options.source === undefined) sources = local.config.sources.map((s) => s.id);
  }
  const api = await apiFrom(options, ctx, command);
  const plans: Plan[] = [];
  for (const [index, source] of sources.entries()) {
    const label = sources.length > 1 ? `source ${source} (${index + 1}/${sources.length})` : 'planning';
    const answer = await withTicker(ctx, label, () =>
      api.call('POST', '/plan', {
        ...(configText !== undefined ? { config: configText } : {}),
        ...(source !== undefined ? { source } : {}),
        ...(options.name !== undefined ? { name: options.name } : {}),
      }),
    );
    if (answer.status === 400 && answer.json?.error === 'InvalidConfig') return invalidConfig(answer.json, options, ctx);
    if (answer.status !== 200) throw refused(answer, command);
    const part = answer.json as Plan;
    if (sources.length > 1) ctx.io.err(`plan: ${label}: ${part.items.length} row(s)\n`);
    plans.push(part);
  }
  const merged = merge(plans);
  if (options.json) ctx.io.out(`${JSON.stringify(merged, null, 2)}\n`);
  else ctx.io.out(render(merged, options.config));
  return merged.counts.conflict + merged.counts.blocked > 0 ? EXIT_PROBLEMS : EXIT_OK;
}

function invalidConfig(body: { problems?: { path: string; code: string; message: string }[] }, options: PlanCommandOptions, ctx: CliContext): ExitCode {
  const problems = body.problems ?? [];
  if (options.json) ctx.io.out(`${JSON.stringify({ ok: false, file: options.config, problems }, null, 2)}\n`);
  else {
    ctx.io.out(`INVALID ${options.config}: ${problems.length} problem(s); nothing planned\n`);
    for (const p of problems) ctx.io.out(`error   ${p.path.replace(/^\$\.config/, '$')}  ${p.code}  ${p.message}\n`);
  }
  return EXIT_PROBLEMS;
}

/** Prints `plan: still planning (N s)` on stderr every 5 s while a request runs. */
async function withTicker<T>(ctx: CliContext, label: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const timer = setInterval(() => ctx.io.err(`plan: ${label}: still planning (${Math.round((Date.now() - started) / 1000)} s)\n`), 5000);
  try {
    return await run();
  } finally {
    clearInterval(timer);
  }
}

function merge(plans: readonly Plan[]): Plan {
  const items = plans.flatMap((p) => p.items);
  const counts = Object.fromEntries(PLAN_ACTIONS.map((a) => [a, plans.reduce((n, p) => n + (p.counts[a] ?? 0), 0)])) as Record<PlanAction, number>;
  const unread: UnreadSource[] = plans.flatMap((p) => p.unread ?? []);
  return { items, counts, unread };
}

/** The plan grouped by action, each group with its count and meaning. */
export function render(plan: Plan, proposedFile?: string): string {
  const lines: string[] = [];
  const summary = PLAN_ACTIONS.filter((a) => plan.counts[a] > 0).map((a) => `${a} ${plan.counts[a]}`).join(', ');
  lines.push(`Plan${proposedFile ? ` of ${proposedFile}` : ''}: ${plan.items.length} row(s)${summary ? ` (${summary})` : ''}; nothing was written`);
  for (const action of PLAN_ACTIONS) {
    const rows = plan.items.filter((i) => i.action === action);
    if (rows.length === 0) continue;
    lines.push('', `${ACTION_TITLES[action]} (${rows.length})`);
    const cells = rows.map((r) => [`${r.source}/${r.name}`, shortVersion(r.version), `→ ${r.targetId}`, placementOf(r), r.reason + (r.message ? `: ${r.message}` : '')]);
    const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
    for (const c of cells) lines.push(`  ${c.slice(0, 4).map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}  ${c[4]}`);
  }
  for (const u of plan.unread) lines.push('', `not planned: ${u.source}${u.name ? `/${u.name}` : ''} could not be read: ${u.reason} (${u.message})`);
  return `${lines.join('\n')}\n`;
}

function shortVersion(version: string): string {
  return version.length > 12 ? `${version.slice(0, 12)}…` : version;
}

function placementOf(item: PlanItem): string {
  return item.placement.key ? `${item.placement.name}#${item.placement.key}` : item.placement.name;
}
