import { AUDITABLE_EVENT_ID } from '../domain/events.js';
import type { RelayRuntime } from '../runtime.js';
/** The narrow view of the Durable Functions client the trigger handlers need (adapted in orchestrations/client.ts). */
export interface OrchestrationClientPort {
  /**
   * Starts orchestration `name` under `instanceId`. Resolves `already-running` when an instance with that id is
   * pending or running (deduplication by id); a completed, failed or terminated one starts again.
   */
  start(name: string, instanceId: string, input: unknown): Promise<'started' | 'already-running'>;
  /** The instance's status, or undefined when there is none. */
  status(instanceId: string): Promise<InstanceStatus | undefined>;
}

export interface InstanceStatus {
  readonly instanceId: string;
  readonly name: string;
  readonly runtimeStatus: string;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly customStatus?: unknown;
  readonly createdTime?: string;
  readonly lastUpdatedTime?: string;
}

/** What a trigger handler did with one event, for logs and tests. */
export interface EventHandling {
  readonly result: 'started' | 'duplicate' | 'ignored' | 'rejected' | 'audited';
  readonly instanceId?: string;
  readonly detail: string;
}

/**
 * Starts an orchestration only if no instance with that id ever existed (in any state). Used for rotations: a
 * duplicate of a rotation request delivered after the rotation finished must not rotate again.
 */
export async function startOnce(
  client: OrchestrationClientPort,
  name: string,
  instanceId: string,
  input: unknown,
): Promise<'started' | 'already-running' | 'already-done'> {
  const existing = await client.status(instanceId);
  if (existing && !['Pending', 'Running', 'ContinuedAsNew'].includes(existing.runtimeStatus)) return 'already-done';
  if (existing) return 'already-running';
  return client.start(name, instanceId, input);
}

/**
 * Refuses an event: logs a warning naming what is wrong and audits it as `reject-event`/`Rejected`, so the event can
 * be acknowledged (never retried forever) without being lost silently. `detail` must name the problem, never a value.
 */
export async function rejectEvent(
  runtime: Pick<RelayRuntime, 'log' | 'audit' | 'now'>,
  rejection: { readonly eventId?: string; readonly actorId: string; readonly reason: string; readonly detail: string },
): Promise<EventHandling> {
  runtime.log.warn(rejection.detail);
  // The refused event's own id or sender may be what broke the rules: only what the audit accepts is recorded.
  const eventId = rejection.eventId !== undefined && AUDITABLE_EVENT_ID.test(rejection.eventId) ? rejection.eventId : undefined;
  const actorId = /^[^\x00-\x1f\x7f]{1,256}$/.test(rejection.actorId) ? rejection.actorId : 'invalid-sender';
  await runtime.audit.append([
    {
      action: 'reject-event',
      status: 'Rejected',
      cause: { actor: { kind: 'event', id: actorId }, trigger: 'event', ...(eventId ? { eventId } : {}) },
      instanceId: `event:${eventId ?? (rejection.eventId === undefined ? 'unknown' : 'invalid-id')}`,
      at: runtime.now().toISOString(),
      reason: rejection.reason,
      message: rejection.detail,
    },
  ]);
  return { result: 'rejected', detail: rejection.detail };
}

/** The `id` of a raw event, when it has a string one (capped). */
export function eventIdOf(raw: unknown): string | undefined {
  if (typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string') {
    return (raw as { id: string }).id.slice(0, 128);
  }
  return undefined;
}
