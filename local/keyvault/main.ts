/**
 * Standalone Key Vault emulator:
 *   npx tsx local/keyvault/main.ts --vault platform --vault contoso [--state-dir .local/keyvault]
 *     [--admin-port 0] [--port-base 0] [--host 127.0.0.1] [--delete-delay-ms 0] [--recover-delay-ms 0]
 * Prints one JSON line `{"vaultUrls":…,"adminUrl":…,"caCertPath":…,"tenantId":…,"eventTopics":…}` once every origin listens,
 * then runs until SIGINT/SIGTERM.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startKeyVaultEmulator } from './emulator.js';

function toPort(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new TypeError(`${flag} must be a port number`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vault: { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      'admin-port': { type: 'string' },
      'port-base': { type: 'string' },
      host: { type: 'string' },
      'delete-delay-ms': { type: 'string' },
      'recover-delay-ms': { type: 'string' },
    },
    strict: true,
  });
  const vaults = values.vault ?? [];
  if (vaults.length === 0) throw new TypeError('at least one --vault <name> is required');
  const portBase = toPort(values['port-base'], '--port-base');
  const adminPort = toPort(values['admin-port'], '--admin-port');
  const emulator = await startKeyVaultEmulator({
    vaults,
    stateDir: resolve(values['state-dir'] ?? '.local/keyvault'),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(adminPort === undefined ? {} : { adminPort }),
    ...(portBase ? { ports: Object.fromEntries(vaults.map((v, i) => [v, portBase + i])) } : {}),
    ...(values['delete-delay-ms'] === undefined ? {} : { deleteDelayInMs: Number(values['delete-delay-ms']) }),
    ...(values['recover-delay-ms'] === undefined ? {} : { recoverDelayInMs: Number(values['recover-delay-ms']) }),
  });
  process.stdout.write(
    `${JSON.stringify({ vaultUrls: emulator.vaultUrls, adminUrl: emulator.adminUrl, caCertPath: emulator.caCertPath, tenantId: emulator.tenantId, eventTopics: emulator.eventTopics })}\n`,
  );
  const stop = (): void => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`keyvault emulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
