import { withTimeLimit } from '../../timeLimit.js';
import type { DeletedSecret, SecretProperties } from '@azure/keyvault-secrets';
import { classifyKeyVaultError } from './errors.js';
import { unixSecondsFrom } from './transformations.js';

/**
 * Page-by-page readers of a whole vault's secret metadata (`GET /secrets`, `GET /deletedsecrets`), for the fleet
 * snapshot and reconciliation. One call per page of at most 25 items (Key Vault's maximum); never a value.
 */

/** The slice of `SecretClient` the listing uses (a `SecretClient` satisfies it). */
export interface KeyVaultListingApi {
  listPropertiesOfSecrets(options?: { abortSignal?: AbortSignal }): { byPage(settings?: { maxPageSize?: number; continuationToken?: string }): AsyncIterableIterator<SecretProperties[]> };
  listDeletedSecrets(options?: { abortSignal?: AbortSignal }): { byPage(settings?: { maxPageSize?: number; continuationToken?: string }): AsyncIterableIterator<DeletedSecret[]> };
}

/**
 * One secret as `GET /secrets` lists it: the current version's attributes, tags and content type. Key Vault's list
 * item carries no version id (`id` is `{vault}/secrets/{name}`), so the current version is known only through the
 * relay's marks (`relay-source-created` against `createdOn`) or one extra read.
 */
export interface ListedSecret {
  readonly name: string;
  /** Creation time of the current version, unix seconds (0 when the service did not say). */
  readonly createdOn: number;
  /** Unix seconds. */
  readonly updatedOn?: number;
  readonly enabled: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly contentType?: string;
  /** True for certificate-backed secrets (the relay never routes them differently, but reports it). */
  readonly managed?: boolean;
}

/** A soft-deleted secret as `GET /deletedsecrets` lists it (tags of its version at deletion). */
export interface ListedDeletedSecret {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
}

export interface ListPagesOptions {
  readonly abortSignal?: AbortSignal;
  /** Items per page; Key Vault allows 1–25 (default 25). */
  readonly maxPageSize?: number;
  /** Called once per page fetched (counts calls for benchmarks and reports). */
  readonly onPage?: () => void;
  /** Time limit of one page request; the listing fails with a `TimeoutError` past it. */
  readonly pageTimeLimitInMs?: number;
}

/** Key Vault's largest list page. */
export const KEY_VAULT_LIST_PAGE_SIZE = 25;

/**
 * Every secret of the vault, page by page (one `GET /secrets` per page), metadata only. Permission:
 * secrets/readMetadata (the `list` access policy). Throttling is retried with the relay's ladder; other errors are
 * classified (`TargetFailure` for 401/403/4xx, `TransientTargetError` otherwise) with `location` in the message.
 */
export async function* listSecretPages(api: KeyVaultListingApi, location: string, options: ListPagesOptions = {}): AsyncGenerator<ListedSecret[]> {
  const pages = (abortSignal: AbortSignal) => api.listPropertiesOfSecrets({ abortSignal }).byPage({ maxPageSize: options.maxPageSize ?? KEY_VAULT_LIST_PAGE_SIZE });
  for await (const page of paged(pages, 'listPropertiesOfSecrets', location, options)) yield page.map(listedFrom);
}

/**
 * Every soft-deleted secret of the vault, page by page (one `GET /deletedsecrets` per page). Permission:
 * secrets/readMetadata (access policy `list` on deleted secrets). Errors as {@link listSecretPages}.
 */
export async function* listDeletedSecretPages(api: KeyVaultListingApi, location: string, options: ListPagesOptions = {}): AsyncGenerator<ListedDeletedSecret[]> {
  const pages = (abortSignal: AbortSignal) => api.listDeletedSecrets({ abortSignal }).byPage({ maxPageSize: options.maxPageSize ?? KEY_VAULT_LIST_PAGE_SIZE });
  for await (const page of paged(pages, 'listDeletedSecrets', location, options)) {
    yield page.map((deleted) => ({ name: deleted.name, tags: { ...(deleted.properties.tags ?? {}) } }));
  }
}

async function* paged<T>(open: (abortSignal: AbortSignal) => AsyncIterableIterator<T[]>, operation: string, location: string, options: ListPagesOptions): AsyncGenerator<T[]> {
  // A page that fails with 429 (after the SDK's own retries, if any) reopens the listing: the SDK's iterator cannot
  // be resumed after a throw, so the pages already yielded are skipped by count (and counted again as calls).
  let yielded = 0;
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.abortSignal?.reason);
    options.abortSignal?.addEventListener('abort', onAbort, { once: true });
    const iterator = open(controller.signal);
    let index = 0;
    try {
      for (;;) {
        const next = await (options.pageTimeLimitInMs === undefined
          ? iterator.next()
          : withTimeLimit(options.pageTimeLimitInMs, `${operation} on ${location}`, () => iterator.next(), controller));
        // The SDK's last `next()` ends the listing without a request: only pages fetched are counted.
        if (next.done) return;
        options.onPage?.();
        if (index++ < yielded) continue;
        yielded++;
        yield next.value;
      }
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === 'TimeoutError') throw error;
      const classified = classifyKeyVaultError(error, { operation, location });
      if ((classified as { status?: unknown }).status === 'FailedThrottled' && attempt < 3) {
        await sleep((classified as { retryAfterInMs?: number }).retryAfterInMs ?? 1_000 * 2 ** attempt, options.abortSignal);
        continue;
      }
      throw classified;
    } finally {
      options.abortSignal?.removeEventListener('abort', onAbort);
    }
  }
}

function listedFrom(properties: SecretProperties): ListedSecret {
  const updatedOn = unixSecondsFrom(properties.updatedOn);
  return {
    name: properties.name,
    createdOn: unixSecondsFrom(properties.createdOn) ?? 0,
    ...(updatedOn !== undefined ? { updatedOn } : {}),
    enabled: properties.enabled !== false,
    tags: { ...(properties.tags ?? {}) },
    ...(properties.contentType !== undefined ? { contentType: properties.contentType } : {}),
    ...(properties.managed ? { managed: true } : {}),
  };
}


function sleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    abortSignal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(abortSignal.reason);
    }, { once: true });
  });
}
