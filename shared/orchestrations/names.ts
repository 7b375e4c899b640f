/** Registered names of orchestrations and activities (the function names in functions/). */
export const ORCHESTRATIONS = {
  relaySecretVersion: 'relaySecretVersion',
  relayPart: 'relayPart',
  rotateCredential: 'rotateCredential',
  reconcile: 'reconcile',
} as const;

export const ACTIVITIES = {
  planRelay: 'planRelay',
  deliverBatch: 'deliverBatch',
  appendAudit: 'appendAudit',
  rotateSourceSecret: 'rotateSourceSecret',
  planRotation: 'planRotation',
  rotateAtOwner: 'rotateAtOwner',
  checkRotationConvergence: 'checkRotationConvergence',
  retireRotationSlot: 'retireRotationSlot',
  listReconcileItems: 'listReconcileItems',
  checkDrift: 'checkDrift',
  writeDriftReport: 'writeDriftReport',
} as const;

/** Deliveries handled by one orchestration; larger relays split into sub-orchestrations (history stays small). */
export const MAX_DELIVERIES_PER_ORCHESTRATION = 200;

/**
 * Deliveries in one `deliverBatch` activity. Bounds the activity's input (it is in history), the work a host crash
 * makes the retry redo (idempotent: `UpToDate`), and, with `BATCH_START_TIME_LIMIT_IN_MS`, how long one activity runs.
 */
export const MAX_DELIVERIES_PER_BATCH = 100;

/**
 * A batch starts no delivery after this long; the ones it did not start go to the lane's next batch (no attempt
 * used). So one activity lasts at most this plus one delivery, even when a write budget or throttling paces it
 * (Consumption's default function timeout is 5 minutes).
 */
export const BATCH_START_TIME_LIMIT_IN_MS = 60_000;

/**
 * Batches one execution of a lane (`relayPart`) runs before it continues as new with the rest, so the lane's history
 * (and its replay work) stays bounded however many deliveries its endpoints have.
 */
export const LANE_BATCHES_PER_EXECUTION = 10;

/**
 * Deterministic instance id of the relay of one source version: duplicates of the same event find the running
 * instance and are refused; names are lower-cased because Key Vault names are case-insensitive.
 */
export function relayInstanceId(sourceId: string, name: string, version: string): string {
  return `relay:${sourceId}:${name.toLowerCase()}:${version.toLowerCase()}`;
}

/** The single reconciliation instance: at most one runs at a time. */
export const RECONCILE_INSTANCE_ID = 'reconcile';

export function rotateInstanceId(sourceId: string, name: string, requestId: string): string {
  return `rotate:${sourceId}:${name.toLowerCase()}:${requestId}`;
}
