export { startKubernetesEmulator, renderKubeconfig } from './emulator.js';
export type { KubernetesEmulator, KubernetesEmulatorOptions } from './emulator.js';
export { ADMIN_RULES, RELAY_RULES, DEFAULT_TOKENS } from './auth.js';
export { VERBS, RESOURCES } from './types.js';
export type { ActiveFault, EmulatorCounters, FaultEffect, FaultRule, PermissionRule, Resource, TokenSpec, Verb } from './types.js';
export { MAX_SECRET_SIZE_IN_BYTES } from './validation.js';
