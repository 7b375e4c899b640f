export { createKubernetesTarget, KubernetesTarget } from './target.js';
export type { CreateKubernetesTargetOptions, KubernetesCallOptions, KubernetesConnector, KubernetesTargetOptions } from './target.js';
export { KUBERNETES_CLIENT_PACKAGE, loadKubernetesClient } from './client.js';
export type { KubernetesClientLoadLog, KubernetesClientModule } from './client.js';
export { AKS_SERVER_APP_ID, ClusterAccessError, createClusterAccess, STORED_CREDENTIAL_TTL_IN_MS } from './access.js';
export type { ClusterAccess, ClusterAccessOptions, KubernetesClusterConfig, ReadSecretValue } from './access.js';
export { sdkSecretsApi, secretStateFrom } from './kubernetesApi.js';
export type { KubernetesSecretsApi, SecretWrite, SecretWritten } from './kubernetesApi.js';
export {
  createSecretEventRecorder,
  EVENT_REPORTING_COMPONENT,
  eventMessageOf,
  eventTypeOf,
  MAX_EVENT_MESSAGE_LENGTH,
  sdkEventsApi,
} from './events.js';
export type { EventLog, EventWrite, InvolvedSecret, KubernetesEventsApi, RecordedOutcome, SecretEventRecorder, SecretEventRecorderOptions } from './events.js';
export {
  classifyKubernetesError,
  isConflict,
  isNotFound,
  KUBERNETES_ERROR_REASONS,
  kubernetesErrorInfo,
  kubernetesRetryHint,
  KubernetesTargetFailure,
} from './errors.js';
export type { KubernetesErrorInfo, KubernetesErrorReason } from './errors.js';
export {
  ANNOTATION_FINGERPRINT,
  ANNOTATION_KEYS,
  ANNOTATION_RESTART_ON,
  ANNOTATION_RESTARTED_AT,
  ANNOTATION_SOURCE,
  ANNOTATION_SOURCE_CREATED,
  ANNOTATION_SOURCE_VERSION,
  ANNOTATION_SYNCED_AT,
  isRelayManaged,
  keyMarksOf,
  LABEL_MANAGED_BY,
  MANAGED_BY_RELAY,
} from './marks.js';
export type { KeyMark, SecretState } from './marks.js';
export { KUBERNETES_LIMITS, splitTlsValue, validateKubernetesPlacement } from './validation.js';
export type { KubernetesSecretType, KubernetesValidationOptions, TlsPair } from './validation.js';
