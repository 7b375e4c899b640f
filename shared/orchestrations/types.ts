import type { DeliveryStatus } from '../domain/statuses.js';
import type { Placement, SecretVersionRef } from '../domain/references.js';
import type { AuditAction, AuditStatusOf } from '../audit/index.js';
import { DRIFT_INFO, DRIFT_KINDS, type DriftKind, type SourceState } from '../domain/drift.js';
import type { SourceVersionFacts } from '../targets/contract.js';

/**
 * Inputs and outputs of orchestrations and activities. Everything here lands in Durable Functions history, which is
 * stored in plain text: references, statuses and keyed fingerprints only, never a value.
 */

/** Who or what started the work (goes to the audit as the actor). */
export type Actor =
  | { readonly kind: 'event'; readonly id: string }
  | { readonly kind: 'operator'; readonly id: string }
  | { readonly kind: 'timer'; readonly id: string };

/** Why the work runs: the event or request that caused it, for the audit trail. */
export interface Cause {
  readonly actor: Actor;
  /** Event Grid / CloudEvents id, when an event started it. */
  readonly eventId?: string;
  /** What kind of start: a source event, a rotation, a manual request, a reconciliation repair. */
  readonly trigger: 'event' | 'rotation' | 'manual' | 'reconcile';
  /** The orchestration that started this one, if any. */
  readonly parentInstanceId?: string;
}

/** One planned delivery of a source secret to one target placement. */
export interface RelayDelivery {
  /** Stable id within a relay: `<routeId>/<targetId>/<name>[#key]`. */
  readonly deliveryId: string;
  readonly routeId: string;
  readonly targetId: string;
  readonly kind: 'keyVault' | 'kubernetes';
  /** The endpoint that bounds concurrency: vault host or cluster server. */
  readonly endpoint: string;
  readonly placement: Placement;
  readonly policy: {
    readonly adopt: boolean;
    readonly recoverDeleted: boolean;
    readonly versionsToKeep: number;
  };
  /** Kubernetes only: Secret type and Deployments to restart on change. */
  readonly kubernetes?: {
    readonly type: 'Opaque' | 'kubernetes.io/tls' | 'kubernetes.io/dockerconfigjson';
    readonly restartDeployments: readonly string[];
  };
  /**
   * The source version's facts as the plan resolved them once for the whole fan-out (creation time, isLatest,
   * keyed fingerprint, content type, expiry; never the value): the delivery then reads only the value. Absent in
   * plans made before this field existed; the delivery then reads the facts itself.
   */
  readonly source?: SourceVersionFacts;
}

export interface RelayInput {
  readonly ref: SecretVersionRef;
  readonly cause: Cause;
  /** Restrict the relay to these target ids (manual relays, reconciliation repairs). */
  readonly targets?: readonly string[];
  /**
   * Set by the Key Vault event handler: a version the relay's own rotation wrote (tag `relay-rotation`) is not
   * relayed from its event (the rotation relays it); the plan ends the relay as ignored (`written-by-rotation`).
   */
  readonly skipRotationWritten?: boolean;
}

/**
 * Input of one part of a relay: a lane (sub-orchestration) that owns whole endpoints (see `planLanes`) and delivers
 * their deliveries in batches (`deliverBatch`), one after another, with at most `window` in flight. A lane of more
 * than `LANE_BATCHES_PER_EXECUTION` batches continues as new with the rest, carrying its tally and pending retries.
 */
export interface RelayPartInput {
  readonly ref: SecretVersionRef;
  readonly cause: Cause;
  readonly deliveries: readonly RelayDelivery[];
  readonly limits: ConcurrencyLimits;
  /** Deliveries in flight at once in this lane (its share of `limits.maxConcurrent`). Absent: `limits.maxPerEndpoint`. */
  readonly window?: number;
  /** The source version's facts, once for every delivery (deliveries then carry none: a smaller history). */
  readonly source?: SourceVersionFacts;
  /** Set by `continueAsNew`: what the earlier executions of this lane delivered. */
  readonly carried?: RelayPartSummary;
  /** Set by `continueAsNew`: deliveries of earlier executions waiting for their next attempt. */
  readonly retries?: readonly PendingRetry[];
}

/** A delivery whose last attempt failed transiently, waiting for its next one (the delivery retry policy). */
export interface PendingRetry {
  readonly delivery: RelayDelivery;
  /** Attempts made so far. */
  readonly attempts: number;
  /** When the next attempt is due (ISO, from the orchestration's clock). */
  readonly dueAt: string;
  /** The last attempt's error (starts with its status; value-free). */
  readonly message: string;
}

/** What one part returns to the relay: counts for every outcome, failed outcomes in full (with their hints). */
export interface RelayPartSummary {
  readonly planned: number;
  readonly counts: Partial<Record<DeliveryStatus, number>>;
  readonly failed: number;
  readonly failures: readonly DeliveryResult[];
}

/** Input of `deliverBatch`: deliveries of one relay to the endpoints one lane owns. No value, only references. */
export interface DeliverBatchInput {
  readonly ref: SecretVersionRef;
  readonly cause: Cause;
  /** The relay (or relay part) instance: the audit records' `cause.instanceId`. */
  readonly instanceId?: string;
  readonly deliveries: readonly RelayDelivery[];
  /** The source version's facts for deliveries that carry none. */
  readonly source?: SourceVersionFacts;
  /** Deliveries in flight at once in this batch. */
  readonly window: number;
  /** Deliveries in flight at once against one endpoint. */
  readonly maxPerEndpoint: number;
  /** Return every final outcome (a relay small enough to list them all); else failures and unaudited ones only. */
  readonly listAll?: boolean;
}

/** What `deliverBatch` returns: small and value-free, whatever the batch size. */
export interface DeliverBatchResult {
  /** Final outcomes by status (not the retryable ones, not the ones not started). */
  readonly counts: Partial<Record<DeliveryStatus, number>>;
  /**
   * With `listAll`, every final outcome; otherwise the failed ones and the successes whose audit record the activity
   * could not append (`audited` unset: the orchestration appends them).
   */
  readonly outcomes: readonly DeliveryResult[];
  /** Transient failures: each message starts with its status; the orchestration retries them after a durable timer. */
  readonly retry: readonly { readonly deliveryId: string; readonly message: string }[];
  /** Deliveries not started before the batch's time limit (no attempt used): they go to the next batch. */
  readonly notStarted: readonly string[];
}

export interface ConcurrencyLimits {
  /** Deliveries in flight at once, overall. */
  readonly maxConcurrent: number;
  /** Deliveries in flight at once against one endpoint (vault or cluster). */
  readonly maxPerEndpoint: number;
}

/** The outcome of one delivery, as recorded in history and the audit. */
export interface DeliveryResult {
  readonly deliveryId: string;
  readonly routeId: string;
  readonly targetId: string;
  readonly kind: 'keyVault' | 'kubernetes';
  readonly location: string;
  readonly status: DeliveryStatus;
  readonly reason: string;
  readonly message?: string;
  readonly writtenVersion?: string;
  /** Keyed fingerprint of the delivered value (absent when the source could not be read). */
  readonly fingerprint?: string;
  /** Deployments restarted because the value changed (Kubernetes). */
  readonly restarted?: readonly string[];
  /** Deployments whose rollout restart failed after the value changed: they still run the old value (Kubernetes). */
  readonly restartFailed?: readonly string[];
  /** What the operator should do (failures only): the status's hint. */
  readonly hint?: string;
  /** True when the delivery activity appended this outcome's audit record itself (as soon as it was known). */
  readonly audited?: boolean;
}

/** What `planRelay` returns. */
export interface RelayPlan {
  readonly deliveries: readonly RelayDelivery[];
  readonly limits: ConcurrencyLimits;
  /** Set when the source version cannot be planned (unknown source, missing secret): nothing is delivered. */
  readonly rejected?: { readonly status: DeliveryStatus; readonly reason: string; readonly message: string };
  /**
   * Set when the version is deliberately not relayed (e.g. `written-by-rotation`: an event of a version the relay's
   * own rotation wrote and relays): nothing is delivered, the relay ends audited as `reject-event`/`Ignored`.
   */
  readonly ignored?: { readonly reason: string; readonly message: string };
  /** When the relayed source version was created (ISO), for the event-to-converged metric. */
  readonly sourceCreatedOn?: string;
}

export interface RelaySummary {
  readonly ref: SecretVersionRef;
  readonly planned: number;
  /**
   * Every failed outcome in full; successful ones too when the relay ran in one orchestration. A relay split into
   * parts lists only its failures (its history would otherwise carry every result): `counts` has them all and
   * `omittedOutcomes` says how many successes are not listed.
   */
  readonly outcomes: readonly DeliveryResult[];
  /** Successful outcomes counted in `counts` but not listed in `outcomes` (relays split into parts). */
  readonly omittedOutcomes?: number;
  readonly counts: Partial<Record<DeliveryStatus, number>>;
  /** True when every delivery ended in a success status (and the plan was not rejected). */
  readonly ok: boolean;
  /** Deliveries that ended in a failure status; each failed outcome carries its `hint`. */
  readonly failed: number;
  readonly rejected?: RelayPlan['rejected'] & { readonly hint?: string };
  readonly ignored?: RelayPlan['ignored'];
  /** When the relayed source version was created (ISO; from the plan). */
  readonly sourceCreatedOn?: string;
}

/** Custom status of a running relay, for `GET /api/rotations/{id}`. */
export interface RelayProgress {
  readonly phase: 'planning' | 'delivering' | 'auditing' | 'done';
  readonly planned: number;
  readonly completed: number;
  readonly counts: Partial<Record<DeliveryStatus, number>>;
  /** Deliveries that ended in a failure status so far. */
  readonly failed?: number;
}

export interface RotateInput {
  readonly sourceId: string;
  readonly name: string;
  readonly cause: Cause;
  /**
   * Accepted for compatibility with older starters and ignored: a rotation writes a new source version, which every
   * routed target must receive (the version's own Key Vault event is not relayed again).
   */
  readonly targets?: readonly string[];
  /** Why the rotation was requested (RotationRequested `reason`): shown in the rotation status and log, not audited. */
  readonly requestReason?: string;
}

export interface RotateResult {
  readonly ref: SecretVersionRef;
  readonly relayInstanceId: string;
  readonly relay: RelaySummary;
}

export interface ReconcileInput {
  readonly cause: Cause;
}

/** One source secret whose targets the reconciliation checks. */
export interface ReconcileItem {
  readonly sourceId: string;
  readonly name: string;
  /** The source's current version (absent for a deleted source secret). */
  readonly version?: string;
  readonly vaultUrl: string;
  /**
   * What the source says about the secret: `enabled` (a current enabled version), `disabled` (the current version
   * is disabled), `deleted` (soft-deleted in the source). Absent means `enabled`.
   */
  readonly state?: SourceState;
  /** Tags of the deleted secret (route tag selectors), for `deleted` items. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Set when the item comes from the fleet snapshot (list pages): only its drifted placements, which `checkDrift`
   * settles with a few reads instead of observing every target.
   */
  readonly fleet?: {
    /** Creation time of the source's current version (unix seconds). */
    readonly createdOn: number;
    /** Placements the routes give the secret (in sync or not). */
    readonly planned: number;
    /** The current version id must be read (no mark settled it). */
    readonly needsVersion?: boolean;
    readonly placements: readonly import('../fleet/types.js').FleetPlacement[];
  };
}

export type { DriftKind, SourceState } from '../domain/drift.js';
export { DRIFT_KINDS } from '../domain/drift.js';

/** Drift kinds the reconciliation repairs by relaying the source's current version to the target. */
export const REPAIRABLE_DRIFT: ReadonlySet<DriftKind> = new Set(DRIFT_KINDS.filter((kind) => DRIFT_INFO[kind].repaired));

export interface DriftFinding {
  /** The source version the target should hold (for a deleted source: the version the target holds, if known). */
  readonly ref: Omit<SecretVersionRef, 'version'> & { readonly version?: string };
  readonly targetId: string;
  readonly kind: 'keyVault' | 'kubernetes';
  readonly location: string;
  /** What differs; `check-failed` when the target could not be read (see `reason`). */
  readonly drift: DriftKind;
  readonly heldVersion?: string;
  /** Constant reason of a failed check (`access-denied`, `unavailable`, `timeout`, …). */
  readonly reason?: string;
  /** Detail for operators (never a value). */
  readonly message?: string;
}

/** What `checkDrift` returns for one source secret. */
export interface DriftCheck {
  /** Targets planned for the secret (each checked, or reported as `check-failed`). */
  readonly checked: number;
  readonly sourceState: SourceState;
  readonly findings: readonly DriftFinding[];
}

/** What `listReconcileItems` returns. */
export interface ReconcileListing {
  readonly items: readonly ReconcileItem[];
  /** Sources whose secrets could not be listed (constant reason, value-free message). */
  readonly unlistedSources: readonly UncheckedSource[];
  /** Fleet snapshot only: routed secrets (and their placements) found in sync, not returned as items. */
  readonly inSync?: { readonly secrets: number; readonly placements: number };
  /** Fleet snapshot only: list pages read (sources, target vaults, cluster namespaces). */
  readonly listPages?: number;
}

/** A source, or one secret of it, that could not be read: none of its targets were checked. */
export interface UncheckedSource {
  readonly sourceId: string;
  readonly vaultUrl: string;
  /** Set when only this secret could not be read. */
  readonly name?: string;
  readonly reason: string;
  readonly message: string;
}

export interface ReconcileReport {
  readonly instanceId: string;
  readonly startedAt: string;
  readonly checkedSecrets: number;
  readonly checkedTargets: number;
  /** Targets that could not be checked (also in `drift` as `check-failed`). */
  readonly checkFailed: number;
  /** Sources that could not be listed, and secrets whose source could not be read: their targets were not checked. */
  readonly unchecked: readonly UncheckedSource[];
  readonly drift: readonly DriftFinding[];
  readonly repairs: readonly { readonly ref: SecretVersionRef; readonly instanceId: string; readonly summary: RelaySummary }[];
  /** Findings the relay will not repair by itself (not owned, disabled or deleted, immutable, check failed). */
  readonly unrepaired: readonly DriftFinding[];
  /** List pages the run read (fleet snapshot). */
  readonly listPages?: number;
  readonly reportBlob?: string;
}

/** An audit entry as the orchestrations describe it; the audit activity turns it into a chained record. */
export type AuditEntry = {
  [A in AuditAction]: AuditEntryBase & { readonly action: A; readonly status: AuditStatusOf<A> };
}[AuditAction];

interface AuditEntryBase {
  /** When the orchestration recorded it (its deterministic clock); part of the record's deterministic id. */
  readonly at: string;
  readonly cause: Cause;
  readonly instanceId: string;
  readonly ref?: Partial<SecretVersionRef>;
  readonly target?: { readonly id: string; readonly kind: 'keyVault' | 'kubernetes'; readonly location: string };
  readonly reason?: string;
  readonly message?: string;
  readonly fingerprint?: string;
}
