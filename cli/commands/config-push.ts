import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DefaultAzureCredential } from '@azure/identity';
import { configBlobClientFrom, SETTINGS } from '../../shared/composition.js';
import { blobConfigDocument, ConfigConflictError, diffConfigs, type ConfigChange } from '../../shared/config/index.js';
import { validateConfigText, type ConfigProblem, type RelayConfig } from '../../shared/domain/index.js';
import type { CliContext, CliIo } from '../router.js';
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_UNAVAILABLE, EXIT_USAGE } from '../router.js';

/**
 * `secret-relay config push <file>`: checks the file like `config check`, prints the plan of the change (which
 * sources, targets and routes are added, removed or changed against the config in use), then uploads it to the
 * relay's config blob, only if nobody changed the blob since it was read (ETag). The running relay picks it up on
 * its next refresh (RELAY_CONFIG_REFRESH_INTERVAL_MS) without a redeploy. Needs Storage Blob Data Contributor on
 * the config container (read + write of the blob).
 */
/** Options of {@link pushConfig}; unset account options fall back to the RELAY_CONFIG_* settings in `env`. */
export interface PushConfigOptions {
  readonly dryRun?: boolean;
  readonly blobServiceUri?: string;
  readonly connectionString?: string;
  readonly blob?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type PushConfigResult =
  | { readonly outcome: 'Invalid'; readonly problems: readonly ConfigProblem[] }
  | { readonly outcome: 'Unchanged' | 'Planned'; readonly changes: readonly ConfigChange[] }
  | { readonly outcome: 'Pushed'; readonly changes: readonly ConfigChange[]; readonly etag: string };

/** Checks, plans and (unless `dryRun`) uploads a config file; see the command's summary above. */
export async function pushConfig(file: string, io: CliIo, options: PushConfigOptions = {}): Promise<PushConfigResult> {
  const env = {
    ...(options.env ?? process.env),
    ...(options.blobServiceUri ? { [SETTINGS.configBlobServiceUri]: options.blobServiceUri } : {}),
    ...(options.connectionString ? { [SETTINGS.configStorageConnectionString]: options.connectionString } : {}),
    ...(options.blob ? { [SETTINGS.configBlob]: options.blob } : {}),
  };
  const text = await readFile(file, 'utf8');
  const checked = check(text);
  if (!checked.ok) {
    io.out(`INVALID ${file}: ${checked.problems.length} problem(s); nothing pushed\n`);
    for (const p of checked.problems) io.out(`error   ${p.path}  ${p.code}  ${p.message}\n`);
    return { outcome: 'Invalid', problems: checked.problems };
  }
  const blob = configBlobClientFrom(env, { credential: new DefaultAzureCredential() });
  if (!blob) {
    // A usage problem, not an outage: nothing was tried.
    throw new CliError(
      EXIT_USAGE,
      `no config account: set --blob-service-uri or --connection-string (or ${SETTINGS.configBlobServiceUri} / ${SETTINGS.configStorageConnectionString})`,
    );
  }
  const document = blobConfigDocument(blob);
  const current = await document.read();
  const before = current.state === 'found' ? check(current.text) : undefined;
  if (before && !before.ok) io.out(`the config in use at ${document.location} is not valid (the relay refused it or kept an older one); planning against nothing\n`);
  const changes = diffConfigs(before?.ok ? before.config : undefined, checked.config);
  io.out(`plan for ${document.location}${current.state === 'found' ? ` (now ${current.etag})` : ' (no config yet)'}:\n`);
  if (changes.length === 0) io.out('  no change\n');
  for (const c of changes) io.out(`  ${c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~'} ${c.kind} ${c.id}\n`);
  if (current.state === 'found' && current.text === text) return { outcome: 'Unchanged', changes };
  if (options.dryRun) return { outcome: 'Planned', changes };
  const written = await document.write(text, { expectedEtag: current.state === 'found' ? current.etag : undefined });
  io.out(`pushed ${file} to ${document.location} (${written.etag}); the relay loads it on its next refresh\n`);
  return { outcome: 'Pushed', changes, etag: written.etag };
}

/** Registers `config push` on the config group. */
export function registerConfigPush(config: Command, ctx: CliContext): void {
  config
    .command('push')
    .description('Check a config, print the plan of the change and upload it to the relay (no redeploy)')
    .argument('<file>', 'path of the config file (JSON)')
    .option('--dry-run', 'check and print the plan; upload nothing')
    .option('--blob-service-uri <uri>', 'blob endpoint of the relay storage account (default: RELAY_CONFIG_BLOB_SERVICE_URI)')
    .option('--connection-string <cs>', 'storage connection string instead of Entra ID (prefer the setting: a command line is visible in ps) (default: RELAY_CONFIG_STORAGE_CONNECTION_STRING)')
    .option('--blob <container/blob>', 'config blob (default: RELAY_CONFIG_BLOB or config/relay.config.json)')
    .action(async (file: string, v: { dryRun?: boolean; blobServiceUri?: string; connectionString?: string; blob?: string }) => {
      try {
        const result = await pushConfig(file, ctx.io, {
          ...(v.dryRun ? { dryRun: true } : {}),
          ...(v.blobServiceUri ? { blobServiceUri: v.blobServiceUri } : {}),
          ...(v.connectionString ? { connectionString: v.connectionString } : {}),
          ...(v.blob ? { blob: v.blob } : {}),
          env: ctx.env,
        });
        ctx.exit(result.outcome === 'Invalid' ? EXIT_PROBLEMS : EXIT_OK);
      } catch (error) {
        if (error instanceof CliError) throw error;
        if (error instanceof ConfigConflictError) throw new CliError(EXIT_PROBLEMS, error.message);
        throw new CliError(EXIT_UNAVAILABLE, `config push failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
}

function check(text: string): { ok: true; config: RelayConfig } | { ok: false; problems: ConfigProblem[] } {
  const result = validateConfigText(text);
  return result.ok ? { ok: true, config: result.config } : { ok: false, problems: [...result.problems] };
}
