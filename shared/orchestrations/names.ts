/** Registered names of orchestrations and activities (the function names in functions/). */
export const ORCHESTRATIONS = {
  relaySecretVersion: 'relaySecretVersion',
  relayPart: 'relayPart',
  rotateCredential: 'rotateCredential',
  reconcile: 'reconcile',
} as const;

export const ACTIVITIES = {
  planRelay: 'planRelay',
  deliverSecret: 'deliverSecret',
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
 * Deliveries one execution of a lane (`relayPart`) makes before it continues as new with the rest. A lane replays its
 * whole history once per delivery, so the replay work of a lane is about deliveries × this: kept small.
 */
export const LANE_DELIVERIES_PER_EXECUTION = 50;

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
