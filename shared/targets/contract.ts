import { dependsOnLatest, type DeliveryPolicy, type SourceFacts, type TargetObservation } from '../domain/decision.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import type { Placement } from '../domain/references.js';

/**
 * The one contract every target kind implements (Key Vault, Kubernetes, the in-memory fake). A target client is
 * bound to one configured target (one vault, or one cluster namespace). It never logs or returns values.
 */
export interface TargetClient {
  readonly kind: TargetKind;
  /** Target id from the config. */
  readonly targetId: string;

  /**
   * Checks a placement and value against the target's limits (name rules, size, key rules) without any call.
   * Returns every problem found; an empty list means the delivery may proceed.
   */
  validate(placement: Placement, value: string): ValidationProblem[];

  /** Reads the target's ownership metadata, never its value. Requires metadata read (Key Vault: list/get properties). */
  observe(placement: Placement, options?: ObserveOptions): Promise<TargetObservation>;

  /**
   * Delivers one source version: observes, decides, and writes only when the decision says so.
   * Idempotent: repeating the same request finds UpToDate and writes nothing. Failures come back as a Failed…
   * status, except transient ones (5xx, network, throttling beyond the in-call ladder), which throw
   * `TransientTargetError` so the orchestration's retry policy can take over.
   */
  deliver(request: DeliveryRequest, options?: TargetCallOptions): Promise<DeliveryOutcome>;

  /** Deletes the placement only if the relay owns it for `owner`. Deleting a missing thing is success. */
  deleteIfOwned(placement: Placement, owner: string, options?: TargetCallOptions): Promise<DeleteOutcome>;

  /**
   * Resolves once best-effort side work that earlier deliveries started and did not wait for (Kubernetes Events) has
   * finished, failed (logged at warning) or timed out. Never rejects. Absent when a kind has no such work.
   */
  settle?(): Promise<void>;
}

export type TargetKind = 'keyVault' | 'kubernetes' | 'memory';

export interface TargetCallOptions {
  readonly abortSignal?: AbortSignal;
}

export interface ObserveOptions extends TargetCallOptions {
  /** The owner (`<source vault host>/<name>`) being delivered: `previouslyOwned` only counts this owner's marks. */
  readonly owner?: string;
  /** Kubernetes: the Secret type the placement uses (its data keys depend on it); other kinds ignore it. */
  readonly type?: 'Opaque' | 'kubernetes.io/tls' | 'kubernetes.io/dockerconfigjson';
}

/** What a delivery needs. `value` exists only inside the delivering activity and is never returned. */
export interface DeliveryRequest {
  readonly placement: Placement;
  readonly source: SourceVersionFacts;
  readonly value: string;
  readonly policy: DeliveryPolicy & {
    /** Kubernetes: keep the latest N versions as keys `key`, `key-1`, … (default 1). */
    readonly versionsToKeep?: number;
  };
  /** Kubernetes only: the Secret type and the Deployments to restart when the value changed (from the route). */
  readonly kubernetes?: {
    readonly type: 'Opaque' | 'kubernetes.io/tls' | 'kubernetes.io/dockerconfigjson';
    readonly restartDeployments: readonly string[];
  };
  /**
   * Asks the source now whether `source.version` is its current version. `source.isLatest` may be as old as the
   * plan; targets call this (through `sourceForDecision`) only when the decision depends on it.
   */
  readonly confirmLatest?: () => Promise<boolean>;
}

/**
 * The source facts to decide with: `request.source`, with `isLatest` asked again when the decision depends on it
 * (`dependsOnLatest`: a same-second tie with another version of the source) and the request can ask.
 */
export async function sourceForDecision<S extends SourceFacts>(request: { source: S; confirmLatest?: () => Promise<boolean> }, observation: TargetObservation, owner = request.source.owner): Promise<S> {
  const source = request.source;
  if (!request.confirmLatest || !dependsOnLatest({ ...source, owner }, observation)) return source;
  return { ...source, isLatest: await request.confirmLatest() };
}

/** Properties of the source version being delivered (no value). */
export interface SourceVersionFacts extends SourceFacts {
  readonly contentType?: string;
  /** Unix seconds. */
  readonly expiresOn?: number;
  /** Unix seconds. */
  readonly notBefore?: number;
}

export interface DeliveryOutcome {
  readonly status: DeliveryStatus;
  readonly targetId: string;
  /** Human-readable location, e.g. `contoso.vault.azure.net/db-password` or `edge-1/apps/db#password`. */
  readonly location: string;
  /** The version or resourceVersion written, when a write happened. */
  readonly writtenVersion?: string;
  /** Constant reason from the decision or the error classification. */
  readonly reason: string;
  /** Detail for operators; never contains a value. */
  readonly message?: string;
  /** Source version the target held before, if it was ours. */
  readonly previousSourceVersion?: string;
  /** Workloads restarted because the value changed (Kubernetes rollout restarts). */
  readonly restarted?: readonly string[];
  /**
   * Workloads whose rollout restart failed after the value changed (`annotated deployments` when they could not be
   * listed): they keep serving the old value until restarted. The write itself stands.
   */
  readonly restartFailed?: readonly string[];
}

export type DeleteOutcome = 'Deleted' | 'NotFound' | 'NotOwned';

export interface ValidationProblem {
  /** What is wrong, e.g. `name`, `key`, `value`. */
  readonly field: string;
  readonly message: string;
}

/** Thrown for failures worth retrying later (5xx, network, exhausted in-call throttling backoff). */
export class TransientTargetError extends Error {
  override readonly name = 'TransientTargetError';
  constructor(
    message: string,
    readonly status: Extract<DeliveryStatus, 'FailedThrottled' | 'FailedUnavailable'>,
    readonly retryAfterInMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
