export { DELIVERY_STATUSES, STATUS_INFO, isSuccess, isWrite, isDeliveryStatus } from './statuses.js';
export type { DeliveryStatus, StatusInfo } from './statuses.js';
export { fingerprint, fingerprintKeyFrom, parseFingerprint, sameFingerprint } from './fingerprint.js';
export type { FingerprintKey } from './fingerprint.js';
export { decideDelivery, DECISION_REASONS } from './decision.js';
export type { Decision, DecisionReason, DeliveryPolicy, OwnershipMarks, SourceFacts, TargetObservation } from './decision.js';
export { ownerOf } from './references.js';
export type { Placement, SecretVersionRef } from './references.js';
