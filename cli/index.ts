export { runCli, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from './router.js';
export type { CliIo, CommandEntry, CommandModule } from './router.js';
