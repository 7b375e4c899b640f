import { DRIFT_INFO, DRIFT_KINDS, type DriftKind } from '../domain/drift.js';
import { isDeliveryStatus, STATUS_INFO, type DeliveryStatus } from '../domain/statuses.js';
import type { ReconcileReport } from '../orchestrations/types.js';
import type { FleetPlacement, FleetSecret } from './types.js';

/** A placement's state: `in-sync`, or the drift kind that names how it differs. */
export const FLEET_STATES = ['in-sync', ...DRIFT_KINDS] as const;
export type FleetState = (typeof FLEET_STATES)[number];

/** When the relay last wrote the copy the target holds, from the target's own marks. */
export interface LastDelivery {
  /** ISO time: Key Vault the held version's creation time, Kubernetes the `secret-relay.io/synced-at` annotation. */
  readonly at: string;
  readonly version: string;
}

/** One placement in `GET /api/secrets` and `GET /api/targets/{id}`. */
export interface FleetStatusTarget {
  readonly targetId: string;
  /** `name` (Key Vault) or `name#key` (Kubernetes). */
  readonly placement: string;
  readonly inSync: boolean;
  readonly state: FleetState;
  readonly heldVersion: string | null;
  /** Status of the latest delivery to this placement recorded in the latest reconciliation report; null if none. */
  readonly status: DeliveryStatus | null;
  readonly lastDelivery: LastDelivery | null;
  /** What to do, for a placement out of sync or whose last delivery failed; null otherwise. */
  readonly hint: string | null;
  /** Constant reason of a `check-failed` placement (`access-denied`, `timeout`, …). */
  readonly reason?: string;
}

export interface FleetStatusSecret {
  readonly source: string;
  readonly name: string;
  /** The source's current version; null for a disabled or deleted source secret (see `sourceState`). */
  readonly currentVersion: string | null;
  readonly sourceState: FleetSecret['sourceState'];
  readonly targets: readonly FleetStatusTarget[];
}

export interface FleetStatus {
  readonly secrets: readonly FleetStatusSecret[];
  readonly continuationToken?: string;
}

export interface FleetStatusFilter {
  readonly source?: string;
  readonly target?: string;
  readonly states?: readonly FleetState[];
  readonly outOfSync?: boolean;
  /** Secrets per page (default 100). */
  readonly limit?: number;
  /** From a previous answer. */
  readonly continuationToken?: string;
}

/** The status row of one placement; `report` supplies the latest delivery status (bounded: one report blob). */
export function placementStatus(secret: FleetSecret, placement: FleetPlacement, report?: Pick<ReconcileReport, 'repairs'>): FleetStatusTarget {
  // A disabled or deleted source has no current version to be in sync with, even where a target holds nothing of it.
  const state: FleetState = placement.drift ?? (secret.sourceState === 'enabled' ? 'in-sync' : secret.sourceState === 'disabled' ? 'source-disabled' : 'source-deleted');
  const label = `${placement.placement.name}${placement.placement.key ? `#${placement.placement.key}` : ''}`;
  const status = latestStatus(report, secret, placement);
  // A failed last repair says what the operator must do; the drift kind's hint ("nothing to do: reconciliation
  // repairs it") would be wrong for a placement the repair could not reach.
  const failed = status !== null && !STATUS_INFO[status].ok;
  const hint = failed ? STATUS_INFO[status].hint : state !== 'in-sync' ? DRIFT_INFO[state as DriftKind].hint : null;
  return {
    targetId: placement.targetId,
    placement: label,
    inSync: state === 'in-sync',
    state,
    heldVersion: placement.heldVersion ?? null,
    status,
    lastDelivery: placement.heldVersion && placement.deliveredOn ? { at: new Date(placement.deliveredOn * 1_000).toISOString(), version: placement.heldVersion } : null,
    hint,
    ...(placement.failure ? { reason: placement.failure.reason } : {}),
  };
}

/**
 * The `GET /api/secrets` answer from settled snapshot secrets: filtered (source, target, state, out of sync), sorted
 * by source and name, paged by secrets with an opaque continuation token (the last secret returned).
 */
export function fleetStatus(secrets: readonly FleetSecret[], filter: FleetStatusFilter = {}, report?: Pick<ReconcileReport, 'repairs'>): FleetStatus {
  const after = filter.continuationToken ? decodeToken(filter.continuationToken) : undefined;
  const limit = Math.max(1, Math.min(filter.limit ?? 100, 1_000));
  const rows: FleetStatusSecret[] = [];
  let more = false;
  for (const secret of secrets) {
    if (filter.source && secret.sourceId !== filter.source) continue;
    if (after && `${secret.sourceId}/${secret.name.toLowerCase()}` <= after) continue;
    const targets = secret.placements
      .filter((p) => !filter.target || p.targetId === filter.target)
      .map((p) => placementStatus(secret, p, report))
      .filter((t) => (!filter.outOfSync || !t.inSync) && (!filter.states || filter.states.includes(t.state)));
    if (targets.length === 0) continue;
    if (rows.length === limit) {
      more = true;
      break;
    }
    rows.push({ source: secret.sourceId, name: secret.name, currentVersion: secret.sourceState === 'enabled' ? (secret.currentVersion ?? null) : null, sourceState: secret.sourceState, targets });
  }
  const last = rows.at(-1);
  return { secrets: rows, ...(more && last ? { continuationToken: encodeToken(`${last.source}/${last.name.toLowerCase()}`) } : {}) };
}

/** The order `fleetStatus` pages in: source id, then lower-case name. */
export function fleetOrder(a: FleetSecret, b: FleetSecret): number {
  const x = `${a.sourceId}/${a.name.toLowerCase()}`;
  const y = `${b.sourceId}/${b.name.toLowerCase()}`;
  return x < y ? -1 : x > y ? 1 : 0;
}

function latestStatus(report: Pick<ReconcileReport, 'repairs'> | undefined, secret: FleetSecret, placement: FleetPlacement): DeliveryStatus | null {
  if (!report) return null;
  const suffix = `/${placement.targetId}/${placement.placement.name}${placement.placement.key ? `#${placement.placement.key}` : ''}`;
  for (const repair of [...report.repairs].reverse()) {
    if (repair.ref.sourceId !== secret.sourceId || repair.ref.name.toLowerCase() !== secret.name.toLowerCase()) continue;
    const outcome = repair.summary.outcomes.find((o) => o.targetId === placement.targetId && o.deliveryId.endsWith(suffix));
    if (outcome && isDeliveryStatus(outcome.status)) return outcome.status;
  }
  return null;
}

function encodeToken(key: string): string {
  return Buffer.from(JSON.stringify({ after: key }), 'utf8').toString('base64url');
}

/** Throws `RangeError` for a token this API did not issue. */
export function decodeToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string' && parsed.after.length <= 300) return parsed.after;
  } catch {
    // fall through
  }
  throw new RangeError('continuationToken: not a token this API issued');
}
