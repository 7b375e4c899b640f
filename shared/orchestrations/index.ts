export { relaySecretVersion, relayPart, auditEntryOf } from './relay.js';
export { activityRetryOptions, deliveryRetryOptions, failureMessage } from './retry.js';
export { rotateCredential } from './rotate.js';
export type { RotateOutput, RotateSourceResult } from './rotate.js';
export { reconcile } from './reconcile.js';
export { planWaves, planLanes, chunk } from './waves.js';
export {
  ACTIVITIES,
  ORCHESTRATIONS,
  MAX_DELIVERIES_PER_ORCHESTRATION,
  LANE_DELIVERIES_PER_EXECUTION,
  RECONCILE_INSTANCE_ID,
  relayInstanceId,
  rotateInstanceId,
} from './names.js';
export type * from './types.js';
export { orchestrationClientPort } from './client.js';
