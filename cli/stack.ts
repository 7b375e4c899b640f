import { readFile } from 'node:fs/promises';
import { CliError, EXIT_UNAVAILABLE } from './router.js';

/** Where `npm start` writes what tools need to reach the local stack (see local/stack.ts, StackInfo). */
export const DEFAULT_STACK_FILE = '.local/stack.json';

/** The parts of `.local/stack.json` the CLI reads (a subset of local/stack.ts StackInfo; keys unchanged). */
export interface LocalStackInfo {
  readonly functions?: { readonly baseUrl?: string; readonly key?: string };
  readonly storage?: { readonly connectionString?: string; readonly auditContainer?: string; readonly reportsContainer?: string };
}

/** Which services of the stack a command needs; each is probed before the command runs. */
export type StackPart = 'storage' | 'functions';

export interface ReadRunningStackOptions {
  readonly needs: readonly StackPart[];
  /** How long one probe may take before the endpoint counts as not answering (default 3 s). */
  readonly probeTimeoutMs?: number;
}

const START_HINT = 'start it with `npm start`';

/**
 * Reads `.local/stack.json` and checks that the endpoints the command needs answer (any HTTP answer counts), so a
 * stopped stack fails at once with "the local stack is not running" (exit 3) instead of a long ECONNREFUSED retry.
 */
export async function readRunningStack(file: string, options: ReadRunningStackOptions): Promise<LocalStackInfo> {
  let info: LocalStackInfo;
  try {
    info = JSON.parse(await readFile(file, 'utf8')) as LocalStackInfo;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `${file} does not exist` : code ? `cannot read ${file} (${code})` : `${file} is not JSON`;
    throw new CliError(EXIT_UNAVAILABLE, `the local stack is not running: ${why}; ${START_HINT}`);
  }
  const timeout = options.probeTimeoutMs ?? 3000;
  for (const part of options.needs) {
    const endpoint = endpointOf(info, part);
    if (endpoint === undefined) {
      throw new CliError(EXIT_UNAVAILABLE, `the local stack is not running: ${file} has no ${part} endpoint; ${START_HINT}`);
    }
    const failure = await probe(endpoint, timeout);
    if (failure) {
      throw new CliError(
        EXIT_UNAVAILABLE,
        `the local stack is not running: ${part} at ${endpoint} ${failure} (${file} is left from an earlier run); ${START_HINT}`,
      );
    }
  }
  return info;
}

/** The URL to probe for one part, or undefined when stack.json does not say. */
export function endpointOf(info: LocalStackInfo, part: StackPart): string | undefined {
  if (part === 'functions') return info.functions?.baseUrl;
  const cs = info.storage?.connectionString;
  return cs ? blobEndpointOf(cs) : undefined;
}

/** The blob endpoint of a storage connection string (explicit `BlobEndpoint`, Azurite's dev store, or account). */
export function blobEndpointOf(connectionString: string): string | undefined {
  const parts = new Map(
    connectionString
      .split(';')
      .filter((p) => p.includes('='))
      .map((p) => [p.slice(0, p.indexOf('=')).trim().toLowerCase(), p.slice(p.indexOf('=') + 1).trim()] as const),
  );
  const explicit = parts.get('blobendpoint');
  if (explicit) return explicit;
  if (parts.get('usedevelopmentstorage') === 'true') return 'http://127.0.0.1:10000/devstoreaccount1';
  const account = parts.get('accountname');
  if (!account) return undefined;
  return `${parts.get('defaultendpointsprotocol') ?? 'https'}://${account}.blob.${parts.get('endpointsuffix') ?? 'core.windows.net'}`;
}

/** Undefined when something answers at `url` (any status); otherwise what went wrong, in words. */
async function probe(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const response = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return undefined;
  } catch (error) {
    const e = error as { name?: string; cause?: { code?: string } };
    if (e.name === 'TimeoutError') return `did not answer within ${timeoutMs / 1000} s`;
    const code = e.cause?.code;
    // A TLS complaint about the certificate means a server answered (the emulators use their own CA).
    if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return undefined;
    return code === 'ECONNREFUSED' ? 'refuses connections' : `cannot be reached (${code ?? e.name ?? 'error'})`;
  }
}
