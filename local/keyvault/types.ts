/**
 * Types shared by the Key Vault emulator, its admin HTTP API and the typed admin client.
 * Everything here is plain JSON so it travels unchanged over the admin API.
 */

/** Operation names, as the `SecretClient` method that sends the request (used by counters and faults). */
export const OPERATIONS = [
  'setSecret',
  'getSecret',
  'updateSecretProperties',
  'listSecrets',
  'listSecretVersions',
  'deleteSecret',
  'getDeletedSecret',
  'listDeletedSecrets',
  'recoverDeletedSecret',
  'purgeDeletedSecret',
  'backupSecret',
  'restoreSecret',
] as const;

export type OperationName = (typeof OPERATIONS)[number];

/**
 * Request counters of one vault. Operation counters count authenticated requests routed to that operation
 * (including those answered with an injected fault); `challenges` counts requests answered with the 401 challenge;
 * `total` counts every request the vault origin received.
 */
export type VaultCounters = Record<OperationName, number> & {
  challenges: number;
  /** Requests the vault itself refused with 409 (a soft-deleted or busy name; not injected faults): nothing changed. */
  conflicts: number;
  faults: number;
  total: number;
};

/** An error an injected fault answers with. */
export interface FaultError {
  status: number;
  code: string;
  innerCode?: string;
  message?: string;
  /** Adds `Retry-After: <seconds>` when set. */
  retryAfterInSeconds?: number;
}

/**
 * What a fault does to a matching request.
 * - `latency`: waits, then serves the request normally.
 * - `throttle`: 429 `Throttled` (with `Retry-After` only when `retryAfterInSeconds` is set; real Key Vault omits it).
 * - `forbidden`: 403 `Forbidden` with inner code `ForbiddenByRbac` unless another is given.
 * - `rejectToken`: 401 with the challenge header, as if the bearer token were invalid.
 * - `error`: any status/code.
 * - `reset`: destroys the socket without answering (a network error for the client).
 */
export type FaultEffect =
  | { kind: 'latency'; latencyInMs: number }
  | { kind: 'throttle'; retryAfterInSeconds?: number }
  | { kind: 'forbidden'; innerCode?: string }
  | { kind: 'rejectToken' }
  | { kind: 'error'; error: FaultError }
  | { kind: 'reset' };

/** A fault rule: which requests it matches, how often, and what it does. */
export interface FaultRule {
  /** Vault name; omitted = every vault. */
  vault?: string;
  /** Operation; omitted = every operation. */
  operation?: OperationName;
  /** Number of matching requests it applies to, then it is spent; omitted = unlimited. */
  times?: number;
  /** Probability (0..1) that a matching request is affected; default 1. */
  probability?: number;
  effect: FaultEffect;
}

/** A fault rule as stored, with its id and how many times it is left to apply. */
export interface ActiveFault extends FaultRule {
  id: string;
  applied: number;
}

export type EventSchema = 'eventGrid' | 'cloudEvents';

export type KeyVaultSecretEventType =
  | 'Microsoft.KeyVault.SecretNewVersionCreated'
  | 'Microsoft.KeyVault.SecretNearExpiry'
  | 'Microsoft.KeyVault.SecretExpired';

export interface EventSubscription {
  id: string;
  vault: string;
  endpoint: string;
  schema: EventSchema;
}

/** One delivery attempt series of one event to one subscriber (no secret values: events carry none). */
export interface DeliveryRecord {
  subscriptionId: string;
  vault: string;
  eventId: string;
  eventType: KeyVaultSecretEventType;
  secretName: string;
  version: string;
  attempts: number;
  state: 'pending' | 'delivered' | 'failed';
  lastStatus?: number;
  lastError?: string;
}

/** Properties of a secret version as the admin API reports them (never the value). */
export interface AdminSecretProperties {
  vault: string;
  name: string;
  version: string;
  id: string;
  enabled: boolean;
  contentType?: string;
  tags?: Record<string, string>;
  /** Unix seconds. */
  notBefore?: number;
  /** Unix seconds. */
  expiresOn?: number;
  /** Unix seconds. */
  createdOn: number;
  /** Unix seconds. */
  updatedOn: number;
}

export interface CreateSecretOptions {
  contentType?: string;
  tags?: Record<string, string>;
  enabled?: boolean;
  /** Unix seconds. */
  notBefore?: number;
  /** Unix seconds. */
  expiresOn?: number;
  /** Emit `SecretNewVersionCreated` to subscribers (default true). */
  emitEvent?: boolean;
}

export interface VaultInfo {
  name: string;
  url: string;
}
