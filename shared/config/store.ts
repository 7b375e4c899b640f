import { validateConfig, type ConfigProblem, type RelayConfig } from '../domain/config.js';
import type { RelayLog } from '../runtime.js';

/**
 * Where the relay config document lives, seen through the one call the store needs. `blobDocument.ts` implements it
 * over a Blob; tests may implement it over anything.
 */
export interface ConfigDocumentPort {
  /** A human-readable location for logs (`<account>/<container>/<blob>`), never a key or SAS. */
  readonly location: string;
  /**
   * Reads the document. With `ifNoneMatch`, answers `unchanged` when the stored ETag is still that one (a
   * conditional read transfers no body). Throws on transient failures.
   */
  read(options?: { readonly ifNoneMatch?: string }): Promise<ConfigDocument>;
}

export type ConfigDocument =
  | { readonly state: 'found'; readonly text: string; readonly etag: string }
  | { readonly state: 'unchanged' }
  | { readonly state: 'missing' };

/** What one refresh did, as data: the store never throws from `refresh`. */
export type ConfigRefresh =
  | { readonly outcome: 'Loaded'; readonly etag: string }
  | { readonly outcome: 'Unchanged'; readonly etag: string }
  | { readonly outcome: 'Refused'; readonly etag: string; readonly problems: readonly ConfigProblem[] }
  | { readonly outcome: 'Missing' }
  | { readonly outcome: 'Unavailable'; readonly message: string };

/** The store's state for status pages and logs (no config values). */
export interface ConfigStoreStatus {
  readonly location: string;
  /** ETag of the config in use; undefined until a first valid config was loaded. */
  readonly etag?: string;
  readonly loadedAt?: string;
  /** The last refused document (its ETag and problems); cleared when a newer valid one loads. */
  readonly refused?: { readonly etag: string; readonly at: string; readonly problems: readonly ConfigProblem[] };
}

/** No valid config has been loaded yet. Retryable: the next refresh may load one. */
export class ConfigNotLoadedError extends Error {
  override readonly name = 'ConfigNotLoadedError';
  readonly retryable = true;
}

export interface ConfigStoreOptions {
  readonly log: RelayLog;
  /** `refreshIfDue` reads the document at most once per interval (default 30 s). */
  readonly refreshIntervalInMs?: number;
  readonly now?: () => number;
}

export interface ConfigStore {
  /** The last valid config; throws {@link ConfigNotLoadedError} before the first one loaded. */
  current(): RelayConfig;
  /** Reads the document now (conditionally on the ETag in use) and swaps in a new valid config. Never throws. */
  refresh(): Promise<ConfigRefresh>;
  /** `refresh()` when the interval has passed since the last read (or nothing is loaded yet); otherwise undefined. */
  refreshIfDue(): Promise<ConfigRefresh | undefined>;
  status(): ConfigStoreStatus;
}

/**
 * A relay config that an operator can change without a redeploy: validated on every change, a bad new document is
 * refused (logged at warning level with every problem and its JSON path) and the last good config stays in use.
 * Concurrent refreshes share one read. Needs only read access to the document.
 */
export function createConfigStore(port: ConfigDocumentPort, options: ConfigStoreOptions): ConfigStore {
  const intervalInMs = options.refreshIntervalInMs ?? 30_000;
  const now = options.now ?? Date.now;
  let config: RelayConfig | undefined;
  let etag: string | undefined;
  let loadedAt: string | undefined;
  let refused: ConfigStoreStatus['refused'];
  let lastReadAt: number | undefined;
  let inFlight: Promise<ConfigRefresh> | undefined;

  async function read(): Promise<ConfigRefresh> {
    lastReadAt = now();
    let document: ConfigDocument;
    try {
      // A refused ETag is not read again until it changes, so a broken document costs one log line, not one per read.
      const known = refused?.etag ?? etag;
      document = await port.read(known ? { ifNoneMatch: known } : {});
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      options.log.warn(`relay config ${port.location}: cannot read (${message}); ${config ? `keeping config ${etag}` : 'no config loaded yet'}`);
      return { outcome: 'Unavailable', message };
    }
    if (document.state === 'missing') {
      options.log.warn(`relay config ${port.location} does not exist; ${config ? `keeping config ${etag}` : 'no config loaded yet: run "secret-relay config push"'}`);
      return { outcome: 'Missing' };
    }
    if (document.state === 'unchanged') {
      return refused ? { outcome: 'Refused', etag: refused.etag, problems: refused.problems } : { outcome: 'Unchanged', etag: etag! };
    }
    const problems = validate(document.text);
    if (problems.length > 0) {
      refused = { etag: document.etag, at: new Date(now()).toISOString(), problems };
      const list = problems.map((p) => `  ${p.path}: ${p.code}: ${p.message}`).join('\n');
      options.log.warn(
        `relay config ${port.location} version ${document.etag} refused (${problems.length} problem(s)); ${config ? `keeping config ${etag} loaded at ${loadedAt}` : 'no valid config loaded yet'}:\n${list}`,
      );
      return { outcome: 'Refused', etag: document.etag, problems };
    }
    config = parsed.get(document.text)!;
    parsed.clear();
    etag = document.etag;
    loadedAt = new Date(now()).toISOString();
    refused = undefined;
    options.log.info(`relay config ${port.location} version ${etag} loaded: ${config.sources.length} source(s), ${config.targets.length} target(s), ${config.routes.length} route(s)`);
    return { outcome: 'Loaded', etag };
  }

  const parsed = new Map<string, RelayConfig>();
  function validate(text: string): ConfigProblem[] {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return [{ path: '$', code: 'CONFIG_NOT_JSON', message: 'the document is not valid JSON' }];
    }
    const result = validateConfig(raw);
    if (!result.ok) return [...result.problems];
    parsed.set(text, result.config);
    return [];
  }

  function refresh(): Promise<ConfigRefresh> {
    inFlight ??= read().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    current() {
      if (!config) throw new ConfigNotLoadedError(`no valid relay config has been loaded from ${port.location} yet`);
      return config;
    },
    refresh,
    async refreshIfDue() {
      if (config && lastReadAt !== undefined && now() - lastReadAt < intervalInMs) return undefined;
      return refresh();
    },
    status() {
      return {
        location: port.location,
        ...(etag ? { etag } : {}),
        ...(loadedAt ? { loadedAt } : {}),
        ...(refused ? { refused } : {}),
      };
    },
  };
}
