export { relaySecretVersion, relayPart, auditEntryOf } from './relay.js';
export { activityRetryOptions, deliveryRetryOptions, failureMessage, retryDelayInMs } from './retry.js';
export { rotateCredential } from './rotate.js';
export type { RotateOutput, RotateSourceResult } from './rotate.js';
export { reconcile } from './reconcile.js';
export { planLanes, nextBatch, runInWindow, chunk, type Lane } from './waves.js';
export {
  ACTIVITIES,
  ORCHESTRATIONS,
  MAX_DELIVERIES_PER_ORCHESTRATION,
  MAX_DELIVERIES_PER_BATCH,
  BATCH_START_TIME_LIMIT_IN_MS,
  LANE_BATCHES_PER_EXECUTION,
  RECONCILE_INSTANCE_ID,
  relayInstanceId,
  rotateInstanceId,
} from './names.js';
export type * from './types.js';
export { orchestrationClientPort } from './client.js';
