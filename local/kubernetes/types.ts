/**
 * Types shared by the Kubernetes API emulator, its admin HTTP API and its in-process handle.
 * Everything here is plain JSON so it travels unchanged over the admin API.
 */

/** API verbs as RBAC names them (and as counters and faults match them). */
export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;
export type Verb = (typeof VERBS)[number];

/** Resources the emulator serves. */
export const RESOURCES = ['namespaces', 'secrets', 'configmaps', 'deployments', 'replicasets', 'pods', 'events'] as const;
export type Resource = (typeof RESOURCES)[number];

/**
 * One permission rule of a token, like one RBAC PolicyRule bound in some namespaces: the token may use any of
 * `verbs` on any of `resources` in any of `namespaces`. `'*'` matches everything. Cluster-scoped requests
 * (namespaces themselves) match a rule whose `namespaces` contains `'*'`.
 */
export interface PermissionRule {
  verbs: readonly (Verb | '*')[];
  resources: readonly (Resource | '*')[];
  namespaces: readonly string[];
}

/** A bearer token the emulator accepts, with the user name it authenticates as and what it may do. */
export interface TokenSpec {
  /** Short handle used in the returned `tokens` map, e.g. `admin`, `relay`. */
  name: string;
  /** The token string; random when omitted. */
  token?: string;
  /** User name in 403 messages; default `system:serviceaccount:default:<name>`. */
  user?: string;
  rules: readonly PermissionRule[];
}

/**
 * What a fault does to a matching request.
 * - `latency`: waits, then serves the request normally.
 * - `throttle`: 429 `TooManyRequests` with `Retry-After` (default 1 s).
 * - `forbidden`: 403 `Forbidden` with the real RBAC message.
 * - `rejectToken`: 401 `Unauthorized`, as if the token had expired.
 * - `error`: any status, with a real Status body (`reason` defaults from the status code).
 * - `reset`: destroys the socket without answering (a network error for the client).
 * - `conflictingWrite`: before serving the request, another writer changes the target object (a new
 *   resourceVersion and an annotation `emulator.local/touched`), so a write carrying the old resourceVersion
 *   gets 409 Conflict. Models the race between a read and a write.
 */
export type FaultEffect =
  | { kind: 'latency'; latencyInMs: number }
  | { kind: 'throttle'; retryAfterInSeconds?: number }
  | { kind: 'forbidden' }
  | { kind: 'rejectToken' }
  | { kind: 'error'; status: number; reason?: string; message?: string; retryAfterInSeconds?: number }
  | { kind: 'reset' }
  | { kind: 'conflictingWrite' };

/** A fault rule: which requests it matches, how often, and what it does. Omitted match fields match all. */
export interface FaultRule {
  verb?: Verb;
  resource?: Resource;
  namespace?: string;
  name?: string;
  /** Number of matching requests it applies to, then it is spent; omitted = unlimited. */
  times?: number;
  /** Probability (0..1) that a matching request is affected; default 1. */
  probability?: number;
  effect: FaultEffect;
}

/** A fault rule as stored, with its id and how many times it has applied. */
export interface ActiveFault extends FaultRule {
  id: string;
  applied: number;
}

/**
 * Request counters. `"<verb> <resource>"` (e.g. `"update secrets"`) counts authenticated, authorized requests routed
 * to that verb (including those answered with an injected fault); `unauthorized` and `forbidden` count rejected
 * requests; `discovery` counts discovery and version requests; `total` counts every API request.
 */
export type EmulatorCounters = Record<string, number> & {
  total: number;
  unauthorized: number;
  forbidden: number;
  faults: number;
  discovery: number;
};
