#!/usr/bin/env node
import { runCli } from './router.js';
import type { CommandEntry } from './router.js';

/** The command table of `secret-relay`. Registering a command is one line here. */
const COMMANDS: readonly CommandEntry[] = [
  { words: ['config', 'check'], summary: 'Validate a relay.config.json; print every problem or the routing', load: () => import('./commands/config-check.js') },
  { words: ['config', 'push'], summary: 'Check a config, print the plan of the change and upload it to the relay (no redeploy)', load: () => import('./commands/config.js') },
  { words: ['config', 'schema'], summary: 'Print the JSON Schema of relay.config.json', load: () => import('./commands/config-schema.js') },
  { words: ['audit'], summary: 'Query the audit trail or verify its hash chains (audit query | audit verify)', load: () => import('./commands/audit.js') },
];

const io = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };
process.exitCode = await runCli(process.argv.slice(2), COMMANDS, io);
