import { Command, CommanderError } from 'commander';

/**
 * The `secret-relay` program on commander: one module per command group registers its commands on the root
 * {@link Command}; this module owns the exit codes, where output goes, and how errors become exit codes.
 *
 * Exit codes (docs/cli.md): 0 ok; 1 the command ran and found problems (invalid config, broken audit chain);
 * 2 invalid usage (unknown command or option, a value outside the allowed ones, missing settings);
 * 3 a service is unreachable or refused the request (the local stack is not running, storage unreachable).
 */

/** Where a command writes. Tests pass a capturing implementation. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 3;
export type ExitCode = typeof EXIT_OK | typeof EXIT_PROBLEMS | typeof EXIT_USAGE | typeof EXIT_UNAVAILABLE;

/** What command actions get: output, settings and the way to set the exit code of the run. */
export interface CliContext {
  readonly io: CliIo;
  /** Settings source (`process.env` unless a test passes its own). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The program name used in messages (`secret-relay`). */
  readonly programName: string;
  /** Sets the exit code of this run (default 0). */
  exit(code: ExitCode): void;
}

/** A command group module exports one of these: it adds its commands to the root program. */
export type RegisterCommands = (program: Command, ctx: CliContext) => void;

/**
 * A failure an action reports to the operator: printed as `secret-relay: <message>` on stderr with its exit code.
 * With `command`, the command's help follows (for usage errors that commander cannot see, such as settings).
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly command?: Command,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface RunCliOptions {
  /** Command groups to register (default: every group of the CLI, from ./commands/index.ts). */
  readonly groups?: readonly RegisterCommands[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly programName?: string;
}

/** Builds the root program with `groups` registered; commander errors are thrown (exitOverride), never exit. */
export function createProgram(ctx: CliContext, groups: readonly RegisterCommands[]): Command {
  const program = new Command(ctx.programName)
    .description('Secret Relay: check configs, read the audit trail, plan and act on secrets and targets. Exit codes: 0 ok, 1 problems found, 2 invalid usage, 3 service unreachable.')
    .exitOverride()
    .configureOutput({ writeOut: (text) => ctx.io.out(text), writeErr: (text) => ctx.io.err(text), outputError: (text, write) => write(text) })
    .configureHelp({ helpWidth: 110, sortSubcommands: false })
    .showHelpAfterError()
    .allowExcessArguments(false);
  for (const register of groups) register(program, ctx);
  program.addHelpText('after', () => `\nEvery command:\n${leafCommands(program).join('\n')}\n\nRun "${ctx.programName} <command> --help" for its options.\n`);
  return program;
}

/** `  config check <file> [--json]   Validate …` for every command that runs something, in registration order. */
function leafCommands(program: Command): string[] {
  const rows: [string, string][] = [];
  const walk = (command: Command, words: readonly string[]): void => {
    for (const sub of command.commands) {
      const path = [...words, sub.name()];
      if (sub.commands.length > 0) walk(sub, path);
      else rows.push([`${path.join(' ')} ${sub.usage()}`.trimEnd(), sub.description()]);
    }
  };
  walk(program, []);
  const width = Math.max(0, ...rows.map(([usage]) => usage.length));
  return rows.map(([usage, description]) => `  ${usage.padEnd(width)}  ${description}`);
}

/** Runs `argv` (without node and script); resolves to the exit code, never calls `process.exit`. */
export async function runCli(argv: readonly string[], io: CliIo, options: RunCliOptions = {}): Promise<number> {
  let code: number = EXIT_OK;
  const ctx: CliContext = {
    io,
    env: options.env ?? process.env,
    programName: options.programName ?? 'secret-relay',
    exit: (c) => void (code = c),
  };
  const groups = options.groups ?? (await import('./commands/index.js')).COMMAND_GROUPS;
  const program = createProgram(ctx, groups);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    // Help asked for (`--help`) is exit 0; help shown because a command is missing, or any parse error, is usage.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof CliError) {
      io.err(`${ctx.programName}: ${error.message}\n`);
      if (error.command) io.err(`\n${error.command.helpInformation()}`);
      return error.exitCode;
    }
    throw error;
  }
}
