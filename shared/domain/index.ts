export { DELIVERY_STATUSES, ROLLOUT_RESTART_HINT, STATUS_INFO, isSuccess, isWrite, isDeliveryStatus } from './statuses.js';
export type { DeliveryStatus, StatusInfo } from './statuses.js';
export { fingerprint, fingerprintKeyFrom, parseFingerprint, sameFingerprint } from './fingerprint.js';
export type { FingerprintKey } from './fingerprint.js';
export { decideDelivery, DECISION_REASONS } from './decision.js';
export type { Decision, DecisionReason, DeliveryPolicy, OwnershipMarks, SourceFacts, TargetObservation } from './decision.js';
export { ownerOf } from './references.js';
export type { Placement, SecretVersionRef } from './references.js';
export {
  RelayConfigSchema,
  SourceConfigSchema,
  TargetConfigSchema,
  KeyVaultTargetConfigSchema,
  KubernetesTargetConfigSchema,
  RouteConfigSchema,
  RouteTargetConfigSchema,
  RouteMatchSchema,
  RotationPolicySchema,
  RotatorSchema,
  PostgresRotatorSchema,
  WebhookRotatorSchema,
  RetirementSchema,
  CONFIG_PROBLEM_CODES,
  AZURE_VAULT_SUFFIXES,
  BUILTIN_TEMPLATE_VARIABLES,
  DEFAULT_WRITE_BUDGET,
  K8S_SECRET_TYPES,
  validateConfig,
  validateConfigText,
  parseConfigText,
  lineColumnOf,
  relayConfigJsonSchema,
  templateValues,
  toJsonPath,
  vaultHostOf,
  openVariableOfGlob,
} from './config.js';
export type {
  RelayConfig,
  RelayConfigInput,
  SourceConfig,
  TargetConfig,
  KeyVaultTargetConfig,
  KubernetesTargetConfig,
  RouteConfig,
  RouteTargetConfig,
  RouteMatchConfig,
  RotationPolicy,
  RotatorConfig,
  PostgresRotatorConfig,
  WebhookRotatorConfig,
  RetirementConfig,
  ConfigProblem,
  ConfigProblemCode,
  ConfigValidation,
} from './config.js';
export {
  ANY_KEY_VAULT_NAME,
  K8S_NAME_MAX_LENGTH,
  KEY_VAULT_NAME_MAX_LENGTH,
  TEMPLATE_FILTERS,
  TEMPLATE_PROBLEM_CODES,
  isValidK8sKey,
  isValidK8sNamespace,
  isValidK8sSecretName,
  isValidKeyVaultName,
  parseTemplate,
  renderTemplate,
  templateVariables,
  validateTemplate,
} from './templates.js';
export type {
  OpenVariable,
  ParsedTemplate,
  ParseTemplateResult,
  TemplateFilter,
  TemplateKind,
  TemplatePart,
  TemplateProblem,
  TemplateProblemCode,
  TemplateValidation,
  ValidateTemplateOptions,
} from './templates.js';
export { globToRegExpSource, globsIntersect, isValidGlob, matchesGlob, nameMatches, routeMatches, routeNamePatterns } from './match.js';
export type { RouteMatch, SecretFacts } from './match.js';
export { findSourceByVault, isRoutedName, planDeliveries } from './plan.js';
export type { PlannedDelivery, PlanRequest } from './plan.js';
export { EVENT_REJECT_REASONS, KEY_VAULT_EVENT_TYPES, parseKeyVaultEvent, parseKeyVaultEvents } from './events.js';
export type { EventRejectReason, KeyVaultEvent, KeyVaultEventType, ParseEventResult } from './events.js';
