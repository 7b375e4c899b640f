export { planRelays, actionOf, countActions, PLAN_ACTIONS } from './plan.js';
export type { Plan, PlanAction, PlanItem, PlanOptions, PlanPorts } from './plan.js';
export { checkTarget, KEY_VAULT_PROBE_NAME } from './preflight.js';
export type { CheckTargetOptions, KeyVaultPreflightApi, KubernetesAccessReviewer, PermissionCheck, PermissionResult, PreflightPorts, TargetCheckResult } from './preflight.js';
export { listRoutedSecrets } from './routed.js';
export type { RoutedSecret, RoutedSecretFilter, RoutedSecrets, UnreadSource } from './routed.js';
export { operatorOf, planRequest, reconcileNowRequest, reconcileStatusRequest, targetCheckRequest, targetSyncRequest } from './http.js';
export type { ProposedRuntime } from './http.js';
