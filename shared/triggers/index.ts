export { handleKeyVaultEvent } from './keyVaultEvents.js';
export { handleRotationEvent } from './rotationEvents.js';
export { startRotationRequest, getRotationStatus, getSecretStatus, actorFromRequest, isAppServiceAuthEnabled } from './http.js';
export type { ActorSources } from './http.js';
export type { HttpAnswer } from './http.js';
export { startReconcile } from './reconcile.js';
export { startOnce } from './ports.js';
export type { OrchestrationClientPort, InstanceStatus, EventHandling } from './ports.js';
export { getFleetStatus, getTargetStatus, settledSnapshot, fleetPorts } from './fleet.js';
