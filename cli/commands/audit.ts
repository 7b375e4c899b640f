import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { AuditQueryFilter, AuditRecord, VerifyReport } from '../../shared/audit/index.js';
import { AUDIT_ACTION_STATUSES, AUDIT_ACTIONS } from '../../shared/audit/schema.js';
import type { AuditAction, AuditStatus } from '../../shared/audit/schema.js';
import type { CliContext, CliIo, ExitCode } from '../router.js';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_UNAVAILABLE, EXIT_USAGE, runCli } from '../router.js';
import { DEFAULT_STACK_FILE, readRunningStack } from '../stack.js';

/**
 * `secret-relay audit query|verify`: reads the audit trail in Blob Storage. Settings come from the environment
 * (`AUDIT_STORAGE_CONNECTION_STRING`, or `AUDIT_BLOB_SERVICE_URI` + optional `AUDIT_IDENTITY_CLIENT_ID`;
 * `AUDIT_CONTAINER`; for a keyed, sealed trail `AUDIT_CHAIN_KEY`, `AUDIT_CHAIN_KEY_ID`, `AUDIT_SEAL_CONTAINER`), from
 * the running local stack with `--stack`, overridden by `--connection-string` / `--container`. Needs read and list on
 * the containers. `verify` exits 0 when every chain is intact and every seal holds, 1 when anything is broken; 2 is
 * a usage or settings error; 3 the storage (or the local stack) cannot be reached.
 */

/** Every status an audit record can carry: the union of the closed per-action sets of shared/audit/schema.ts. */
export const AUDIT_STATUS_CHOICES: readonly AuditStatus[] = [...new Set(Object.values(AUDIT_ACTION_STATUSES).flat())] as AuditStatus[];

interface CommonOptions {
  connectionString?: string;
  container?: string;
  stack?: string | true;
  from?: Date;
  to?: Date;
  json?: boolean;
}

interface VerifyCommandOptions extends CommonOptions {
  allowUnkeyed?: boolean;
}

interface QueryOptions extends CommonOptions {
  secret?: string;
  vault?: string;
  target?: string;
  status?: AuditStatus;
  action?: AuditAction;
}

export interface AuditCommandOptions {
  /** Settings source (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const isoDate = (text: string): Date => {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('not a date/time (use ISO 8601, e.g. 2025-03-01T10:00:00Z)');
  return date;
};

function commonOptions(command: Command): Command {
  return command
    .addOption(new Option('--from <iso>', 'only records at or after this time (ISO 8601)').argParser(isoDate))
    .addOption(new Option('--to <iso>', 'only records before this time (ISO 8601)').argParser(isoDate))
    .option('--json', 'print the result as JSON')
    .option('--connection-string <cs>', 'storage connection string (default: AUDIT_STORAGE_CONNECTION_STRING)')
    .option('--container <name>', 'audit container (default: AUDIT_CONTAINER, else "audit")')
    .option('--stack [stack.json]', `read the storage of the running local stack (npm start) from ${DEFAULT_STACK_FILE}`);
}

/** `secret-relay audit …`: the audit group. */
export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('Query the audit trail or verify its hash chains');

  commonOptions(
    audit
      .command('query')
      .description('List audit records, oldest first, filtered by secret, vault, target, status, action and time')
      .option('--secret <name>', 'source secret name')
      .option('--vault <url|host>', 'source vault URL or host')
      .option('--target <id>', 'target id')
      .addOption(new Option('--status <status>', 'record status').choices(AUDIT_STATUS_CHOICES))
      .addOption(new Option('--action <action>', 'audited action').choices(AUDIT_ACTIONS)),
  ).action(async (options: QueryOptions, command: Command) => {
    ctx.exit(await query(options, command, ctx));
  });

  commonOptions(
    audit
      .command('verify')
      .description('Check every hash chain, record id and seal of the trail; exit 1 and name each finding when one is broken')
      .option('--allow-unkeyed', 'accept plain sha256 records in a keyed trail (a trail begun before keyed chains)'),
  ).action(async (options: VerifyCommandOptions) => {
    ctx.exit(await verify(options, ctx));
  });
}

/**
 * Runs `audit query …` or `audit verify …` (`args` start with the subcommand) and resolves to the exit code; the
 * same as `secret-relay audit …`, for tests and callers that hold the arguments.
 */
export async function run(args: readonly string[], io: CliIo, options: AuditCommandOptions = {}): Promise<number> {
  return runCli(['audit', ...args], io, { groups: [registerAuditCommands], ...(options.env ? { env: options.env } : {}) });
}

async function logFrom(values: CommonOptions, ctx: CliContext) {
  const { AUDIT_SETTING_NAMES, auditLogFromSettings } = await import('../../shared/audit/index.js');
  const env = { ...ctx.env };
  if (values.stack !== undefined) {
    const file = values.stack === true ? DEFAULT_STACK_FILE : values.stack;
    const stack = await readRunningStack(file, { needs: ['storage'] });
    if (stack.storage?.connectionString) env[AUDIT_SETTING_NAMES.connectionString] = stack.storage.connectionString;
    if (stack.storage?.auditContainer) env[AUDIT_SETTING_NAMES.container] = stack.storage.auditContainer;
    // The stack runs a keyed, sealed chain: verify with its key and seal container (docs/security.md).
    const keyed = stack as { storage?: { sealContainer?: string }; audit?: { chainKeyId?: string; chainKeyPath?: string } };
    if (keyed.storage?.sealContainer) env[AUDIT_SETTING_NAMES.sealContainer] = keyed.storage.sealContainer;
    if (keyed.audit?.chainKeyPath) {
      try {
        env[AUDIT_SETTING_NAMES.chainKey] = readFileSync(keyed.audit.chainKeyPath, 'utf8').trim();
      } catch {
        throw new CliError(EXIT_USAGE, `audit: cannot read the audit chain key file named in ${file}`);
      }
      if (keyed.audit.chainKeyId) env[AUDIT_SETTING_NAMES.chainKeyId] = keyed.audit.chainKeyId;
    }
  }
  if (values.connectionString !== undefined) env[AUDIT_SETTING_NAMES.connectionString] = values.connectionString;
  if (values.container !== undefined) env[AUDIT_SETTING_NAMES.container] = values.container;
  try {
    return auditLogFromSettings(env);
  } catch (error) {
    if (error instanceof Error && error.name === 'AuditSettingsError') throw new CliError(EXIT_USAGE, `audit: ${error.message}`);
    throw error;
  }
}

/** Runs one storage call; a failure is exit 3 with the storage error code, never a stack trace. */
async function callStorage<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new CliError(EXIT_UNAVAILABLE, `audit: cannot read the audit container (${describeFailure(error)})`);
  }
}

async function query(options: QueryOptions, command: Command, ctx: CliContext): Promise<ExitCode> {
  if (options.status !== undefined && options.action !== undefined) {
    const allowed = AUDIT_ACTION_STATUSES[options.action] as readonly string[];
    if (!allowed.includes(options.status)) {
      throw new CliError(EXIT_USAGE, `--status ${options.status} never occurs with --action ${options.action}; its statuses are ${allowed.join(', ')}`, command);
    }
  }
  const filter: AuditQueryFilter = {
    secret: options.secret,
    sourceVault: options.vault,
    target: options.target,
    status: options.status,
    action: options.action,
    from: options.from,
    to: options.to,
  };
  const log = await logFrom(options, ctx);
  const result = await callStorage(() => log.query(filter));
  const io = ctx.io;
  if (options.json) {
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

async function verify(options: VerifyCommandOptions, ctx: CliContext): Promise<ExitCode> {
  const log = await logFrom(options, ctx);
  const report = await callStorage(() => log.verify({ from: options.from, to: options.to, ...(options.allowUnkeyed ? { allowUnkeyed: true } : {}) }));
  if (options.json) ctx.io.out(`${JSON.stringify(report, null, 2)}\n`);
  else ctx.io.out(verifyText(report));
  return report.ok ? EXIT_OK : EXIT_PROBLEMS;
}

function verifyText(report: VerifyReport): string {
  const counts = `${report.recordsChecked} record(s) in ${report.blobsChecked} blob(s)` +
    (report.duplicateRecords > 0 ? `, ${report.duplicateRecords} duplicate(s) of retried appends` : '');
  const seals = report.sealed
    ? `${report.sealsChecked} seal(s), the last at ${report.lastSealTime ?? '-'}; ${report.unsealedRecords} record(s) after the last seal of their blob`
    : `no seals checked (no chain key / seal container configured); ${report.unsealedRecords} record(s) unanchored`;
  if (report.ok) return `OK: every chain is intact; ${counts}\n${seals}\n`;
  const lines = report.problems.map((problem) => `  ${problem.kind.padEnd(18)} ${problem.message}`);
  return `BROKEN: ${report.firstProblem!.message}\n${counts}; ${seals}; ${report.problems.length} problem(s):\n${lines.join('\n')}\n`;
}

function describeFailure(error: unknown): string {
  const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string }; name?: string };
  return e?.details?.errorCode ?? e?.code ?? (e?.statusCode ? `HTTP ${e.statusCode}` : (e?.name ?? 'error'));
}
