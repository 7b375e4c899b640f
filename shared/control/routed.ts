import type { RelayConfig } from '../domain/config.js';
import { isRoutedName, planDeliveries, type PlannedDelivery } from '../domain/plan.js';
import type { SourceSecretProperties, SourceVault } from '../sources/index.js';

/** Which routed secrets to enumerate: all of them, one source, one name, or those routed to one target. */
export interface RoutedSecretFilter {
  readonly sourceId?: string;
  /** One source secret name (case-insensitive, as Key Vault); with it no source is listed. */
  readonly name?: string;
  /** Only deliveries to this target. */
  readonly targetId?: string;
}

/** One source secret's current version and the deliveries the config asks for it (metadata only, no value). */
export interface RoutedSecret {
  readonly sourceId: string;
  readonly vaultUrl: string;
  readonly name: string;
  readonly current: SourceSecretProperties;
  readonly deliveries: readonly PlannedDelivery[];
}

/** A source, or one secret of it, that could not be read: its deliveries are unknown. */
export interface UnreadSource {
  readonly source: string;
  readonly name?: string;
  /** Constant reason: `access-denied`, `unavailable`, `throttled`, `not-found`, `error`. */
  readonly reason: string;
  /** Detail for operators (never a value). */
  readonly message: string;
}

export interface RoutedSecrets {
  readonly secrets: readonly RoutedSecret[];
  /** Source secrets routed nowhere (after tag selectors) are not listed; these are the ones that could not be read. */
  readonly unread: readonly UnreadSource[];
  /** Routed source secrets whose current version is disabled or that have no enabled version: a relay skips them. */
  readonly skipped: readonly { readonly source: string; readonly name: string; readonly reason: 'no-enabled-version' }[];
}

/**
 * Lists every source secret the config routes somewhere, with its current version's metadata and its planned
 * deliveries. Reads metadata only: one list of each source (skipped when `name` is given) and one properties read
 * per routed name. Permission: secrets/readMetadata on each source vault. A source that cannot be listed, or a
 * secret that cannot be read, is reported in `unread`; the others are still read.
 */
export async function listRoutedSecrets(
  config: RelayConfig,
  source: (sourceId: string) => Pick<SourceVault, 'listSecrets' | 'getLatestProperties'>,
  filter: RoutedSecretFilter = {},
  options: { readonly abortSignal?: AbortSignal; readonly concurrency?: number } = {},
): Promise<RoutedSecrets> {
  const secrets: RoutedSecret[] = [];
  const unread: UnreadSource[] = [];
  const skipped: { source: string; name: string; reason: 'no-enabled-version' }[] = [];
  const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  for (const configured of config.sources) {
    if (filter.sourceId !== undefined && configured.id !== filter.sourceId) continue;
    if (!config.routes.some((r) => r.source === configured.id)) continue;
    const port = source(configured.id);
    let names: string[];
    if (filter.name !== undefined) {
      names = isRoutedName(config, configured.id, filter.name) ? [filter.name] : [];
    } else {
      names = [];
      try {
        for await (const secret of port.listSecrets(signal)) {
          if (secret.enabled && isRoutedName(config, configured.id, secret.name)) names.push(secret.name);
        }
      } catch (error) {
        unread.push({ source: configured.id, ...failureOf(error) });
        continue;
      }
    }
    const found = await mapLimit(names, options.concurrency ?? 8, async (name) => {
      try {
        return { name, current: await port.getLatestProperties(name, signal) };
      } catch (error) {
        unread.push({ source: configured.id, name, ...failureOf(error) });
        return undefined;
      }
    });
    for (const entry of found) {
      if (!entry) continue;
      const { name, current } = entry;
      if (!current) {
        // Asked for by name and missing, or listed but without an enabled version: nothing a relay would send.
        if (filter.name === undefined || isRoutedName(config, configured.id, name)) skipped.push({ source: configured.id, name, reason: 'no-enabled-version' });
        continue;
      }
      let deliveries = planDeliveries(config, { sourceId: configured.id, name, tags: current.tags });
      if (filter.targetId !== undefined) deliveries = deliveries.filter((d) => d.targetId === filter.targetId);
      if (deliveries.length === 0) continue;
      secrets.push({ sourceId: configured.id, vaultUrl: configured.vaultUrl, name, current, deliveries });
    }
  }
  return { secrets, unread, skipped };
}

/** The constant reason and a value-free message of a failed read (SDK and adapter errors carry no values). */
export function failureOf(error: unknown): { reason: string; message: string } {
  const e = (error ?? {}) as { reason?: unknown; status?: unknown; statusCode?: unknown; code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message.replace(/[\r\n\t]+/g, ' ').slice(0, 300) : 'unknown error';
  if (typeof e.reason === 'string' && e.reason) return { reason: e.reason, message };
  const status = typeof e.status === 'string' ? e.status : undefined;
  const code = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === 'FailedAccessDenied' || code === 403 || code === 401) return { reason: 'access-denied', message };
  if (status === 'FailedThrottled' || code === 429) return { reason: 'throttled', message };
  if (status === 'FailedSourceMissing' || code === 404) return { reason: 'not-found', message };
  if (status === 'FailedUnavailable' || (code !== undefined && code >= 500) || typeof e.code === 'string') return { reason: 'unavailable', message };
  return { reason: 'error', message };
}

/** Maps `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}
