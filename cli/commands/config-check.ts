import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { templateValues, validateConfigText, renderTemplate } from '../../shared/domain/index.js';
import type { ConfigProblem, RelayConfig, RouteConfig } from '../../shared/domain/index.js';
import type { CliContext, CliIo } from '../router.js';
import { EXIT_OK, EXIT_PROBLEMS } from '../router.js';

/**
 * `secret-relay config check <file>`: validates a config file and prints every problem with its JSON path (syntax
 * errors with line and column), or a routing summary (source → route → target: name template / key). Exit 0 when
 * valid (warnings allowed), 1 when not. Prints paths, codes and messages only; it never echoes config values other
 * than ids, URLs, names and templates.
 */
export function registerConfigCheck(config: Command, ctx: CliContext): void {
  config
    .command('check')
    .description('Validate a relay.config.json: print every problem with its JSON path, or the routing it sets up')
    .usage('<file> [--json]')
    .argument('<file>', 'path of the config file (JSON)')
    .option('--json', 'print { ok, file, problems, warnings } as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      ctx.exit(await check(file, options.json === true, ctx.io));
    });
}

async function check(file: string, json: boolean, io: CliIo): Promise<typeof EXIT_OK | typeof EXIT_PROBLEMS> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const problem: ConfigProblem = { path: '$', code: 'CONFIG_NOT_JSON', message: `cannot read the file (${code})` };
    return report(io, file, json, [problem], []);
  }
  const result = validateConfigText(text);
  if (!result.ok) return report(io, file, json, result.problems, result.warnings);
  if (json) {
    io.out(`${JSON.stringify({ ok: true, file, problems: [], warnings: result.warnings }, null, 2)}\n`);
    return EXIT_OK;
  }
  const c = result.config;
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  io.out(`OK ${file}: ${count(c.sources.length, 'source')}, ${count(c.targets.length, 'target')}, ${count(c.routes.length, 'route')} (mode ${c.mode})\n\n`);
  io.out(summary(c));
  if (result.warnings.length > 0) io.out(`\n${formatProblems([], result.warnings)}`);
  return EXIT_OK;
}

function report(io: CliIo, file: string, json: boolean, problems: ConfigProblem[], warnings: ConfigProblem[]): typeof EXIT_PROBLEMS {
  if (json) io.out(`${JSON.stringify({ ok: false, file, problems, warnings }, null, 2)}\n`);
  else io.out(`INVALID ${file}: ${problems.length} problem(s), ${warnings.length} warning(s)\n${formatProblems(problems, warnings)}`);
  return EXIT_PROBLEMS;
}

function formatProblems(problems: readonly ConfigProblem[], warnings: readonly ConfigProblem[]): string {
  const rows = [...problems.map((p) => ['error', p] as const), ...warnings.map((p) => ['warning', p] as const)];
  return rows.map(([level, p]) => `${level.padEnd(7)} ${p.path}  ${p.code}  ${p.message}\n`).join('');
}

/** The routing as an indented tree, with one example name per route target. */
export function summary(config: RelayConfig): string {
  const lines: string[] = [];
  const targets = new Map(config.targets.map((t) => [t.id, t] as const));
  for (const source of config.sources) {
    lines.push(`source ${source.id}  ${source.vaultUrl}`);
    const routes = config.routes.filter((r) => r.source === source.id);
    if (routes.length === 0) lines.push('  (no routes)');
    for (const route of routes) {
      lines.push(`  route ${route.id}  ${describeMatch(route)}${route.rotation ? `  ${describeRotation(route.rotation)}` : ''}`);
      const example = exampleName(route);
      for (const rt of route.targets) {
        const target = targets.get(rt.target);
        if (!target) continue;
        const values = templateValues(route.source, target, example);
        const flags = [rt.adopt ? 'adopt' : '', rt.recoverDeleted ? '' : 'no-recover'].filter(Boolean).join(', ');
        if (target.kind === 'keyVault') {
          lines.push(
            `    → ${target.id} [keyVault ${target.vaultUrl}]  name ${rt.name}  e.g. ${example} → ${renderTemplate(rt.name, values)}${flags ? `  (${flags})` : ''}`,
          );
        } else {
          const key = rt.key ?? '{name}';
          const extras = [`type ${rt.type}`, `versions ${rt.versionsToKeep}`, ...(rt.restartDeployments.length ? [`restart ${rt.restartDeployments.join(',')}`] : []), ...(flags ? [flags] : [])];
          lines.push(
            `    → ${target.id} [kubernetes ${target.cluster.name}/${target.namespace}]  secret ${rt.name}  key ${key}  e.g. ${example} → ${renderTemplate(rt.name, values)}#${renderTemplate(key, values)}  (${extras.join(', ')})`,
          );
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The rotation policy in one line: generator, rotator with its slots and references (never a value), retirement. */
export function describeRotation(rotation: NonNullable<RouteConfig['rotation']>): string {
  const generator = `rotation ${rotation.generator}(${rotation.length})`;
  const r = rotation.rotator;
  if (r.kind === 'generate') return generator;
  const retire = rotation.retirement.rule === 'grace' ? `retire grace ${rotation.retirement.graceMinutes} min` : 'retire converged';
  const owner =
    r.kind === 'postgres'
      ? `rotator postgres ${r.host}:${r.port}/${r.database} roles ${r.roles.join(',')} (admin ${r.adminPassword.source}/${r.adminPassword.secret})`
      : `rotator webhook ${r.url} slots ${r.slots.join(',')} (${r.auth.type === 'hmac' ? `hmac ${r.auth.key.source}/${r.auth.key.secret}` : `managed identity ${r.auth.scope}`})`;
  return `${generator}  ${owner}  ${retire}`;
}

function describeMatch(route: RouteConfig): string {
  const parts: string[] = [];
  if (route.match.names.length) parts.push(`names ${route.match.names.join(',')}`);
  if (route.match.globs.length) parts.push(`globs ${route.match.globs.join(',')}`);
  if (!parts.length) parts.push('any name');
  const tags = Object.entries(route.match.tags);
  if (tags.length) parts.push(`tags ${tags.map(([k, v]) => `${k}=${v}`).join(',')}`);
  return parts.join('  ');
}

function exampleName(route: RouteConfig): string {
  const first = route.match.names[0];
  if (first) return first;
  const glob = route.match.globs[0];
  return glob ? glob.replaceAll('*', 'example').replaceAll('?', 'x') : 'example';
}
