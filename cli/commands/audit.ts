import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  AUDIT_ACTIONS,
  AUDIT_SETTING_NAMES,
  auditLogFromSettings,
  type AuditAction,
  type AuditQueryFilter,
  type AuditRecord,
  type AuditStatus,
  type VerifyReport,
} from '../../shared/audit/index.js';
import type { CliIo } from '../router.js';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../router.js';

/**
 * `secret-relay audit query|verify`: reads the audit trail in Blob Storage. Settings come from the environment
 * (`AUDIT_STORAGE_CONNECTION_STRING`, or `AUDIT_BLOB_SERVICE_URI` + optional `AUDIT_IDENTITY_CLIENT_ID`;
 * `AUDIT_CONTAINER`), overridden by `--connection-string` / `--container`. Needs read and list on the container.
 * `verify` exits 0 when every chain is intact, 1 when a link is broken; 2 is a usage or settings error.
 */
export const usage = [
  'audit query [--secret <name>] [--vault <url|host>] [--target <id>] [--status <S>] [--action <A>] [--from <iso>] [--to <iso>] [--json] [--connection-string <cs>] [--container <name>] [--stack [<stack.json>]]',
  'audit verify [--from <iso>] [--to <iso>] [--json] [--connection-string <cs>] [--container <name>] [--stack [<stack.json>]]',
  '--stack reads the storage of the running local stack (`npm start`) from .local/stack.json.',
].join('\n');

const COMMON = {
  'connection-string': { type: 'string' },
  stack: { type: 'boolean' },
  container: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const QUERY = {
  ...COMMON,
  secret: { type: 'string' },
  vault: { type: 'string' },
  target: { type: 'string' },
  status: { type: 'string' },
  action: { type: 'string' },
} as const;

class UsageError extends Error {}

export interface AuditCommandOptions {
  /** Settings source (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Runs `audit query …` or `audit verify …` (`args` start with the subcommand). Resolves to the exit code. */
export async function run(args: readonly string[], io: CliIo, options: AuditCommandOptions = {}): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'query') return await query(rest, io, options);
    if (sub === 'verify') return await verify(rest, io, options);
    throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`);
  } catch (error) {
    if (error instanceof UsageError || isSettingsError(error)) {
      io.err(`secret-relay audit: ${(error as Error).message}\n\nUsage:\n${usage.split('\n').map((line) => `  secret-relay ${line}`).join('\n')}\n`);
      return EXIT_USAGE;
    }
    io.err(`secret-relay audit: ${describeFailure(error)}\n`);
    return EXIT_PROBLEMS;
  }
}

function parse<T extends typeof COMMON | typeof QUERY>(args: readonly string[], spec: T) {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: spec, strict: true, allowPositionals: true });
    // `--stack` may name a stack.json; any other positional is a mistake.
    const stack = (values as { stack?: boolean }).stack === true;
    if (positionals.length > (stack ? 1 : 0)) throw new UsageError(`unexpected argument "${positionals.at(-1)}"`);
    return { ...values, ...(stack ? { stackFile: positionals[0] ?? '.local/stack.json' } : {}) };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function logFrom(values: { 'connection-string'?: string; container?: string; stackFile?: string }, options: AuditCommandOptions) {
  const env = { ...(options.env ?? process.env) };
  if (values.stackFile !== undefined) {
    let stack: { storage?: { connectionString?: string; auditContainer?: string } };
    try {
      stack = JSON.parse(readFileSync(values.stackFile, 'utf8'));
    } catch {
      throw new UsageError(`--stack: cannot read ${values.stackFile}; is the local stack running (npm start)?`);
    }
    if (stack.storage?.connectionString) env[AUDIT_SETTING_NAMES.connectionString] = stack.storage.connectionString;
    if (stack.storage?.auditContainer) env[AUDIT_SETTING_NAMES.container] = stack.storage.auditContainer;
  }
  if (values['connection-string'] !== undefined) env[AUDIT_SETTING_NAMES.connectionString] = values['connection-string'];
  if (values.container !== undefined) env[AUDIT_SETTING_NAMES.container] = values.container;
  return auditLogFromSettings(env);
}

function dateOf(flag: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--${flag} is not a date/time (use ISO 8601, e.g. 2025-03-01T10:00:00Z)`);
  return date;
}

async function query(args: readonly string[], io: CliIo, options: AuditCommandOptions): Promise<number> {
  const values = parse(args, QUERY);
  if (values.action !== undefined && !(AUDIT_ACTIONS as string[]).includes(values.action)) {
    throw new UsageError(`--action must be one of ${AUDIT_ACTIONS.join(', ')}`);
  }
  const filter: AuditQueryFilter = {
    secret: values.secret,
    sourceVault: values.vault,
    target: values.target,
    status: values.status as AuditStatus | undefined,
    action: values.action as AuditAction | undefined,
    from: dateOf('from', values.from),
    to: dateOf('to', values.to),
  };
  const result = await logFrom(values, options).query(filter);
  if (values.json) {
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT_OK;
  }
  io.out(table(result.records));
  const notes = [`${result.records.length} record(s) from ${result.blobsRead} blob(s)`];
  if (result.duplicates > 0) notes.push(`${result.duplicates} duplicate(s) collapsed`);
  if (result.unreadableLines > 0) notes.push(`${result.unreadableLines} unreadable line(s): run "secret-relay audit verify"`);
  io.out(`\n${notes.join('; ')}\n`);
  return EXIT_OK;
}

function table(records: readonly AuditRecord[]): string {
  const header = ['TIME', 'ACTION', 'STATUS', 'SECRET', 'VERSION', 'TARGET', 'ACTOR', 'DETAIL'];
  const rows = records.map((record) => [
    record.time,
    record.action,
    record.status,
    record.source ? `${new URL(record.source.vault).host}/${record.source.name}` : '-',
    record.source?.version?.slice(0, 8) ?? '-',
    record.target ? (record.target.location ?? record.target.id) : '-',
    `${record.actor.kind}:${record.actor.id}`,
    record.error ? `${record.error.class}${record.error.message ? `: ${record.error.message}` : ''}` : (record.reason ?? ''),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

async function verify(args: readonly string[], io: CliIo, options: AuditCommandOptions): Promise<number> {
  const values = parse(args, COMMON);
  const report = await logFrom(values, options).verify({ from: dateOf('from', values.from), to: dateOf('to', values.to) });
  if (values.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else io.out(verifyText(report));
  return report.ok ? EXIT_OK : EXIT_PROBLEMS;
}

function verifyText(report: VerifyReport): string {
  const counts = `${report.recordsChecked} record(s) in ${report.blobsChecked} blob(s)` +
    (report.duplicateRecords > 0 ? `, ${report.duplicateRecords} duplicate(s) of retried appends` : '');
  if (report.ok) return `OK: every chain is intact; ${counts}\n`;
  const lines = report.problems.map((problem) => `  ${problem.kind.padEnd(18)} ${problem.message}`);
  return `BROKEN: ${report.firstProblem!.message}\n${counts}; ${report.problems.length} problem(s):\n${lines.join('\n')}\n`;
}

function isSettingsError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AuditSettingsError';
}

function describeFailure(error: unknown): string {
  const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string }; name?: string };
  const code = e?.details?.errorCode ?? e?.code ?? (e?.statusCode ? `HTTP ${e.statusCode}` : e?.name ?? 'error');
  return `cannot read the audit container (${code})`;
}
