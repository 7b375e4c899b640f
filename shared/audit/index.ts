export { createAuditLog, AuditAppendError } from './log.js';
export type {
  AuditAppendFailure,
  AuditCallOptions,
  AuditLog,
  AuditQueryFilter,
  AuditQueryResult,
  CreateAuditLogOptions,
  VerifyOptions,
  VerifyReport,
} from './log.js';
export {
  ACTOR_KINDS,
  AUDIT_ACTIONS,
  AUDIT_ACTION_STATUSES,
  AUDIT_SCHEMA_VERSION,
  AUDIT_TARGET_KINDS,
  AuditRecordRejectedError,
  MAX_ERROR_MESSAGE_LENGTH,
  buildRecordContent,
  recordIdOf,
} from './schema.js';
export type {
  ActorKind,
  AuditAction,
  AuditActor,
  AuditCause,
  AuditError,
  AuditRecord,
  AuditRecordContent,
  AuditRecordInput,
  AuditSourceRef,
  AuditStatus,
  AuditStatusOf,
  AuditTargetKind,
  AuditTargetRef,
} from './schema.js';
export { VERIFY_PROBLEM_KINDS } from './verify.js';
export type { VerifyProblem, VerifyProblemKind } from './verify.js';
export { blobNameOf, hourOf, parseBlobName } from './layout.js';
export type { BlobLocation } from './layout.js';
export {
  AUDIT_SETTING_NAMES,
  AuditSettingsError,
  DEFAULT_AUDIT_CONTAINER,
  DEFAULT_CHAIN_KEY_ID,
  DEFAULT_SEAL_CONTAINER,
  auditChainSettingsFrom,
  auditContainerFromSettings,
  auditSettingsFrom,
} from './settings.js';
export type { AuditChainSettings, AuditSettings } from './settings.js';
export { SEAL_SCHEMA_VERSION } from './seal.js';
export type { SealContent, SealRecord, SealedHead } from './seal.js';
export { auditLogFromSettings } from './factory.js';
