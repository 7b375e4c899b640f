/**
 * Ownership marks on Kubernetes Secrets: the label `app.kubernetes.io/managed-by=secret-relay` on the Secret, and per
 * data key an entry of the annotation `secret-relay.io/keys` (JSON: key → {source, version, createdOn, fingerprint}),
 * so several routes can feed different keys of one Secret without clobbering each other. The single-valued
 * annotations (`secret-relay.io/source`, `…/source-version`, `…/fingerprint`, `…/synced-at`, `…/source-created`)
 * describe the most recent delivery to the Secret, for operators; the per-key map is what the relay decides on.
 */
import type { OwnershipMarks } from '../../domain/decision.js';

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_RELAY = 'secret-relay';
export const ANNOTATION_KEYS = 'secret-relay.io/keys';
export const ANNOTATION_SOURCE = 'secret-relay.io/source';
export const ANNOTATION_SOURCE_VERSION = 'secret-relay.io/source-version';
export const ANNOTATION_SOURCE_CREATED = 'secret-relay.io/source-created';
export const ANNOTATION_FINGERPRINT = 'secret-relay.io/fingerprint';
export const ANNOTATION_SYNCED_AT = 'secret-relay.io/synced-at';
/** On a Deployment: comma-separated Secret names whose changes restart it (when annotated restarts are enabled). */
export const ANNOTATION_RESTART_ON = 'secret-relay.io/restart-on';
/** What `kubectl rollout restart` sets on the pod template. */
export const ANNOTATION_RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/** The relay's mark on one data key. */
export interface KeyMark {
  /** `<source vault host>/<name>`. */
  readonly source: string;
  readonly version: string;
  /** Unix seconds. */
  readonly createdOn?: number;
  /** Keyed fingerprint of the source value. */
  readonly fingerprint: string;
  /**
   * Keyed fingerprint (adapter's key) of this key's stored bytes, when it differs from `fingerprint`: the key holds a
   * transformation of the value (tls.crt, tls.key) or the source fingerprint was made under another key.
   */
  readonly dataFingerprint?: string;
}

/** The Secret as the target sees it (wire model converted at the edge; data stays base64 so foreign keys round-trip). */
export interface SecretState {
  readonly name: string;
  readonly namespace: string;
  readonly type: string;
  readonly resourceVersion: string;
  /** `metadata.uid`, when the API server gave one. */
  readonly uid?: string;
  readonly immutable: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Base64 values by key. */
  readonly data: Readonly<Record<string, string>>;
  /** Fields the relay does not manage, carried over unchanged when it replaces the Secret. */
  readonly preserve?: Readonly<Record<string, unknown>>;
}

export function isRelayManaged(secret: SecretState): boolean {
  return secret.labels[LABEL_MANAGED_BY] === MANAGED_BY_RELAY;
}

function isKeyMark(value: unknown): value is KeyMark {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.source === 'string' &&
    typeof v.version === 'string' &&
    typeof v.fingerprint === 'string' &&
    (v.createdOn === undefined || typeof v.createdOn === 'number') &&
    (v.dataFingerprint === undefined || typeof v.dataFingerprint === 'string')
  );
}

/** Reads the per-key marks; a missing or malformed annotation yields an empty map (nothing is ours). */
export function keyMarksOf(secret: SecretState): Record<string, KeyMark> {
  const raw = secret.annotations[ANNOTATION_KEYS];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const marks: Record<string, KeyMark> = {};
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) if (isKeyMark(value)) marks[key] = value;
    return marks;
  } catch {
    return {};
  }
}

/** Serializes the per-key marks with keys sorted, so an unchanged map yields an unchanged annotation. */
export function serializeKeyMarks(marks: Readonly<Record<string, KeyMark>>): string {
  const sorted: Record<string, KeyMark> = {};
  for (const key of Object.keys(marks).sort()) sorted[key] = marks[key]!;
  return JSON.stringify(sorted);
}

/** Converts a key mark to the decision's ownership marks. */
export function ownershipOf(mark: KeyMark): OwnershipMarks {
  return {
    source: mark.source,
    sourceVersion: mark.version,
    ...(mark.createdOn !== undefined ? { sourceCreatedOn: mark.createdOn } : {}),
    fingerprint: mark.fingerprint,
  };
}
