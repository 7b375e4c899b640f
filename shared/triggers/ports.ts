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

const ACTIVE_STATES = ['Pending', 'Running', 'ContinuedAsNew'];

/**
 * Starts an orchestration unless an instance with that id is running or has completed. Used for rotations: a
 * duplicate of a rotation request delivered after the rotation finished must not rotate again. A Failed or
 * Terminated instance is started again (its work was not done; the rotation activity finds a version it already
 * wrote by its rotation tag instead of writing another).
 */
export async function startOnce(
  client: OrchestrationClientPort,
  name: string,
  instanceId: string,
  input: unknown,
): Promise<'started' | 'already-running' | 'already-done'> {
  const existing = await client.status(instanceId);
  if (existing && ACTIVE_STATES.includes(existing.runtimeStatus)) return 'already-running';
  if (existing && existing.runtimeStatus === 'Completed') return 'already-done';
  return client.start(name, instanceId, input);
}

/**
 * Starts a relay unless one of that version is running, or completed with every delivery a success: a late
 * duplicate of the event is then only acknowledged (`duplicate`), not re-run. A relay that completed with failed
 * deliveries, or that failed or was terminated, runs again. (A forced re-relay stays available over HTTP.)
 */
export async function startRelayOnce(
  client: OrchestrationClientPort,
  name: string,
  instanceId: string,
  input: unknown,
  /** The instance's status when the caller already read it (`null`: read, none), to spare a second read. */
  known?: InstanceStatus | null,
): Promise<'started' | 'already-running' | 'already-done'> {
  const existing = known === undefined ? await client.status(instanceId) : (known ?? undefined);
  if (existing && ACTIVE_STATES.includes(existing.runtimeStatus)) return 'already-running';
  if (existing && existing.runtimeStatus === 'Completed' && (existing.output as { ok?: unknown } | null | undefined)?.ok === true) {
    return 'already-done';
  }
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
  await appendEventRecord(runtime, 'Rejected', rejection);
  return { result: 'rejected', detail: rejection.detail };
}

/**
 * Acknowledges an event the relay does not act on (not a configured source, a type it does not handle, a version
 * its own rotation relays): logged at information level and audited as `reject-event`/`Ignored`.
 */
export async function ignoreEvent(
  runtime: Pick<RelayRuntime, 'log' | 'audit' | 'now'>,
  ignored: {
    readonly eventId?: string;
    readonly actorId: string;
    readonly reason: string;
    readonly detail: string;
    readonly ref?: { readonly sourceId: string; readonly vaultUrl: string; readonly name: string; readonly version?: string };
  },
): Promise<EventHandling> {
  runtime.log.info(ignored.detail);
  await appendEventRecord(runtime, 'Ignored', ignored);
  return { result: 'ignored', detail: ignored.detail };
}

/**
 * Acknowledges a duplicate event (its work is running or done): logged and audited as `reject-event`/`Duplicate`,
 * with the instance that does (or did) the work.
 */
export async function duplicateEvent(
  runtime: Pick<RelayRuntime, 'log' | 'audit' | 'now'>,
  duplicate: {
    readonly eventId?: string;
    readonly actorId: string;
    readonly reason: 'already-running' | 'already-done';
    readonly instanceId: string;
    readonly detail: string;
    readonly ref?: { readonly sourceId: string; readonly vaultUrl: string; readonly name: string; readonly version?: string };
  },
): Promise<EventHandling> {
  runtime.log.info(duplicate.detail);
  await appendEventRecord(runtime, 'Duplicate', duplicate);
  return { result: 'duplicate', instanceId: duplicate.instanceId, detail: duplicate.detail };
}

async function appendEventRecord(
  runtime: Pick<RelayRuntime, 'audit' | 'now'>,
  status: 'Rejected' | 'Ignored' | 'Duplicate',
  record: {
    readonly eventId?: string;
    readonly actorId: string;
    readonly reason: string;
    readonly detail: string;
    readonly instanceId?: string;
    readonly ref?: { readonly sourceId: string; readonly vaultUrl: string; readonly name: string; readonly version?: string };
  },
): Promise<void> {
  // The event's own id or sender may be what broke the rules: only what the audit accepts is recorded.
  const eventId = record.eventId !== undefined && AUDITABLE_EVENT_ID.test(record.eventId) ? record.eventId : undefined;
  const actorId = /^[^\x00-\x1f\x7f]{1,256}$/.test(record.actorId) ? record.actorId : 'invalid-sender';
  await runtime.audit.append([
    {
      action: 'reject-event',
      status,
      cause: { actor: { kind: 'event', id: actorId }, trigger: 'event', ...(eventId ? { eventId } : {}) },
      instanceId: record.instanceId ?? `event:${eventId ?? (record.eventId === undefined ? 'unknown' : 'invalid-id')}`,
      at: runtime.now().toISOString(),
      ...(record.ref ? { ref: record.ref } : {}),
      reason: record.reason,
      // Only a refusal is an error; the audit schema keeps messages for failures.
      ...(status === 'Rejected' ? { message: record.detail } : {}),
    },
  ]);
}

/** The `id` of a raw event, when it has a string one (capped). */
export function eventIdOf(raw: unknown): string | undefined {
  if (typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string') {
    return (raw as { id: string }).id.slice(0, 128);
  }
  return undefined;
}
