import { relayConfigJsonSchema } from '../../shared/domain/index.js';
import type { CliIo } from '../router.js';
import { EXIT_OK, EXIT_USAGE } from '../router.js';

/** `secret-relay config schema`: prints the JSON Schema; `> relay.config.schema.json` regenerates the committed file. */
export const usage = 'config schema';

/** The exact text of relay.config.schema.json. */
export function schemaText(): string {
  return `${JSON.stringify(relayConfigJsonSchema(), null, 2)}\n`;
}

export async function run(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length > 0) {
    io.err(`config schema takes no arguments\nUsage: secret-relay ${usage}\n`);
    return EXIT_USAGE;
  }
  io.out(schemaText());
  return EXIT_OK;
}
