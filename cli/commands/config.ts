import type { Command } from 'commander';
import type { CliContext } from '../router.js';
import { registerConfigCheck } from './config-check.js';
import { registerConfigPush } from './config-push.js';
import { registerConfigSchema } from './config-schema.js';

/** `secret-relay config …`: the config group. Adding a config command is one line here. */
export function registerConfigCommands(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('Validate relay.config.json or print its JSON Schema');
  registerConfigCheck(config, ctx);
  registerConfigPush(config, ctx);
  registerConfigSchema(config, ctx);
}
