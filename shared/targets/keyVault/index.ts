export { createKeyVaultTarget, KeyVaultTarget } from './target.js';
export type { KeyVaultTargetOptions, KeyVaultObserveOptions } from './target.js';
export type { KeyVaultRecoveryApi, KeyVaultSecretsApi, MetadataOnlyRecoveryOptions } from './secretsApi.js';
export { metadataOnlyRecovery, KEY_VAULT_API_VERSION } from './secretsApi.js';
export {
  classifyKeyVaultError,
  ERROR_REASONS,
  isBusyConflict,
  isDeletedButRecoverable,
  isNotFound,
  keyVaultErrorInfo,
  keyVaultRetryHint,
  TargetFailure,
} from './errors.js';
export type { ErrorReason, KeyVaultErrorInfo } from './errors.js';
export {
  dateFromUnixSeconds,
  latestVersionOf,
  marksFromTags,
  MANAGED_BY_RELAY,
  TAG_FINGERPRINT,
  TAG_MANAGED_BY,
  TAG_REPLACES,
  TAG_SOURCE,
  TAG_SOURCE_CREATED,
  TAG_SOURCE_VERSION,
  tagsFromMarks,
  unixSecondsFrom,
  versionInfoFrom,
} from './transformations.js';
export type { DeletedSecretInfo, SecretVersionInfo } from './transformations.js';
export { KEY_VAULT_LIMITS, validateKeyVaultMetadata, validateKeyVaultPlacement, validateSecretName } from './validation.js';
