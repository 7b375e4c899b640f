/**
 * A small command router for the `secret-relay` CLI: a table of commands (words, summary, lazy loader), `--help` at
 * every level, exit codes 0 (ok), 1 (the command found problems), 2 (usage error).
 */

/** Where a command writes. Tests pass a capturing implementation. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** What a command module exports. */
export interface CommandModule {
  /** One or more usage lines, without the program name, e.g. `config check <file> [--json]`. */
  readonly usage: string;
  /** Runs the command with the arguments after its words; resolves to the exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** One row of the command table: registering a command is adding one of these. */
export interface CommandEntry {
  readonly words: readonly string[];
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

const isHelp = (arg: string | undefined): boolean => arg === '--help' || arg === '-h' || arg === 'help';

/** Dispatches `argv` (without node and script) to the matching command of the table. */
export async function runCli(
  argv: readonly string[],
  commands: readonly CommandEntry[],
  io: CliIo,
  options: { programName?: string } = {},
): Promise<number> {
  const program = options.programName ?? 'secret-relay';
  const entry = longestMatch(argv, commands);
  if (!entry) {
    const words = argv.filter((a) => !a.startsWith('-'));
    const group = commands.filter((c) => words.length > 0 && words.every((w, i) => c.words[i] === w));
    if (group.length > 0) {
      io.out(helpText(program, group));
      return argv.some(isHelp) ? EXIT_OK : EXIT_USAGE;
    }
    if (argv.length === 0 || isHelp(argv[0])) {
      io.out(helpText(program, commands));
      return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
    }
    io.err(`${program}: unknown command "${argv.join(' ')}"\n\n${helpText(program, commands)}`);
    return EXIT_USAGE;
  }
  const module = await entry.load();
  const args = argv.slice(entry.words.length);
  if (args.some((a) => a === '--help' || a === '-h')) {
    io.out(`${entry.summary}\n\nUsage:\n${indentUsage(program, module.usage)}\n`);
    return EXIT_OK;
  }
  return module.run(args, io);
}

function longestMatch(argv: readonly string[], commands: readonly CommandEntry[]): CommandEntry | undefined {
  let best: CommandEntry | undefined;
  for (const command of commands) {
    if (command.words.every((w, i) => argv[i] === w) && (!best || command.words.length > best.words.length)) best = command;
  }
  return best;
}

function indentUsage(program: string, usage: string): string {
  return usage
    .split('\n')
    .map((line) => `  ${program} ${line}`)
    .join('\n');
}

function helpText(program: string, commands: readonly CommandEntry[]): string {
  const width = Math.max(...commands.map((c) => c.words.join(' ').length));
  const rows = commands.map((c) => `  ${c.words.join(' ').padEnd(width)}  ${c.summary}`);
  return `Usage: ${program} <command> [options]\n\nCommands:\n${rows.join('\n')}\n\nRun "${program} <command> --help" for the options of a command.\n`;
}
