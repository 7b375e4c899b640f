export { runCli, createProgram, CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_UNAVAILABLE } from './router.js';
export type { CliContext, CliIo, ExitCode, RegisterCommands, RunCliOptions } from './router.js';
export { DEFAULT_STACK_FILE, readRunningStack } from './stack.js';
