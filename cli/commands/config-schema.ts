import type { Command } from 'commander';
import { relayConfigJsonSchema } from '../../shared/domain/index.js';
import type { CliContext } from '../router.js';

/** The exact text of relay.config.schema.json. */
export function schemaText(): string {
  return `${JSON.stringify(relayConfigJsonSchema(), null, 2)}\n`;
}

/** `secret-relay config schema`: prints the JSON Schema; `> relay.config.schema.json` regenerates the committed file. */
export function registerConfigSchema(config: Command, ctx: CliContext): void {
  config
    .command('schema')
    .description('Print the JSON Schema of relay.config.json (the output is JSON with or without --json)')
    .option('--json', 'accepted for symmetry with the other read commands; the schema is always JSON')
    .action(() => {
      ctx.io.out(schemaText());
    });
}
