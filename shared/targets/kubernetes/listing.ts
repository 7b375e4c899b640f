import { withTimeLimit } from '../../timeLimit.js';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { TargetObservation } from '../../domain/decision.js';
import { fingerprint, sameFingerprint, type FingerprintKey } from '../../domain/fingerprint.js';
import type { Placement } from '../../domain/references.js';
import { classifyKubernetesError } from './errors.js';
import { LIST_PAGE_SIZE } from './kubernetesApi.js';
import { secretStateFrom } from './kubernetesApi.js';
import { isRelayManaged, keyMarksOf, LABEL_MANAGED_BY, MANAGED_BY_RELAY, ownershipOf, type KeyMark, type SecretState } from './marks.js';
import { TYPED_KEYS, type KubernetesSecretType } from './validation.js';

/**
 * Page-by-page reader of the relay-managed Secrets of one namespace (label selector
 * `app.kubernetes.io/managed-by=secret-relay`, `limit`/`continue`), and the observation of a placement computed from
 * a listed Secret in memory: the same answer `KubernetesTarget.observe` gives from a `get`, without one call per
 * placement. Listed Secrets hold data; it never leaves this module except as keyed fingerprints.
 */

/** The label selector of the Secrets the relay manages. */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY_RELAY}`;

/** The slice of `CoreV1Api` the listing uses. */
export type KubernetesListingApi = Pick<CoreV1Api, 'listNamespacedSecret'>;

export interface ListManagedOptions {
  readonly abortSignal?: AbortSignal;
  /** Items per page (default 500, as kubectl). */
  readonly limit?: number;
  readonly onPage?: () => void;
  /** Time limit of one page request; the listing fails with a `TimeoutError` past it. */
  readonly pageTimeLimitInMs?: number;
}

/**
 * Every relay-managed Secret of the namespace, page by page. Permission: `list secrets` in the namespace. Errors are
 * classified (`KubernetesTargetFailure` for 401/403/4xx, `TransientTargetError` otherwise).
 */
export async function* listManagedSecretPages(api: KubernetesListingApi, namespace: string, location: string, options: ListManagedOptions = {}): AsyncGenerator<SecretState[]> {
  let continueToken: string | undefined;
  do {
    let page;
    try {
      const list = () =>
        api.listNamespacedSecret({ namespace, labelSelector: MANAGED_SELECTOR, limit: options.limit ?? LIST_PAGE_SIZE, ...(continueToken ? { _continue: continueToken } : {}) });
      page = options.pageTimeLimitInMs === undefined ? await list() : await withTimeLimit(options.pageTimeLimitInMs, `list secrets on ${location}`, () => list());
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === 'TimeoutError') throw error;
      throw classifyKubernetesError(error, { operation: 'list secrets', location });
    }
    options.onPage?.();
    yield page.items.map((item) => secretStateFrom(item, namespace));
    continueToken = page.metadata?._continue || undefined;
  } while (continueToken);
}

/**
 * The observation of one placement from a listed relay-managed Secret (undefined: none with that name was listed).
 * An unlisted name is `absent` here, but a foreign (unlabelled) Secret of that name may exist: callers confirm an
 * `absent` with one `get` before acting on it. Mirrors `KubernetesTarget.observe` (versionsToKeep 1).
 */
export function observeListed(secret: SecretState | undefined, placement: Placement, type: KubernetesSecretType, fingerprintKey: FingerprintKey): TargetObservation {
  if (!secret) return { state: 'absent' };
  if (!isRelayManaged(secret)) return { state: 'present' };
  const current: readonly string[] = type === 'Opaque' ? [placement.key ?? ''] : TYPED_KEYS[type];
  const marks = keyMarksOf(secret);
  const present = current.filter((k) => k in secret.data);
  const primary = marks[current[0]!];
  if (present.length === 0) return { state: 'absent' };
  const immutable = secret.immutable ? { immutable: true as const } : {};
  if (!primary || present.some((k) => marks[k] === undefined)) return { state: 'present', ...immutable };
  return { state: 'present', marks: ownershipOf(primary), actualFingerprint: actualFingerprint(secret, current, marks, primary, fingerprintKey), ...immutable };
}

function actualFingerprint(secret: SecretState, keys: readonly string[], marks: Record<string, KeyMark>, primary: KeyMark, key: FingerprintKey): string {
  const bytesOf = (base64: string): Buffer => Buffer.from(base64, 'base64');
  const intact = keys.every((k) => {
    const stored = secret.data[k];
    const mark = marks[k];
    return stored !== undefined && mark !== undefined && sameFingerprint(fingerprint(key, bytesOf(stored)), mark.dataFingerprint ?? mark.fingerprint);
  });
  if (intact) return primary.fingerprint;
  return fingerprint(key, Buffer.concat(keys.map((k) => bytesOf(secret.data[k] ?? ''))));
}

