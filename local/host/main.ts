import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startHost } from './host.js';

const usage = `Usage: npx tsx local/host/main.ts --app <module> [--app <module>...] [--port <n>] [--durable-dir <dir>] [--settings <json file>]
  --app          module registering functions (repeatable; TS via tsx, or built JS)
  --port         port to listen on (default 0: any free port)
  --durable-dir  folder for durable state (default .local/durable)
  --settings     JSON file: either {"Values": {...}} (local.settings.json) or a flat {"NAME": "value"} object`;

function readSettings(file: string | undefined): Record<string, string> {
  if (!file) return {};
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const values = (typeof parsed['Values'] === 'object' && parsed['Values'] !== null ? parsed['Values'] : parsed) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string', multiple: true },
      port: { type: 'string' },
      'durable-dir': { type: 'string' },
      settings: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.app || values.app.length === 0) {
    process.stdout.write(`${usage}\n`);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const host = await startHost({
    app: values.app,
    port: values.port ? Number(values.port) : 0,
    settings: readSettings(values.settings),
    ...(values['durable-dir'] ? { durableDir: values['durable-dir'] } : {}),
  });
  for (const fn of host.functions()) {
    process.stdout.write(`  ${fn.name}: ${fn.triggerType}${fn.url ? ` ${fn.methods?.join(',') ?? '*'} ${fn.url}` : ''}${fn.schedule ? ` ${fn.schedule}` : ''}\n`);
  }
  // one machine-readable line: the stack and tests wait for it
  process.stdout.write(
    `Local host ready ${JSON.stringify({ baseUrl: host.baseUrl, rpcBaseUrl: host.rpcBaseUrl, functionKey: host.functionKey, masterKey: host.masterKey, durableTaskKey: host.durableTaskKey, eventGridKey: host.eventGridKey, pid: process.pid })}\n`,
  );
  const stop = (): void => {
    void host.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
