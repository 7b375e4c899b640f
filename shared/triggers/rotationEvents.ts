import { parseRotationEvent } from '../domain/rotationEvents.js';
import { ORCHESTRATIONS, relayInstanceId, rotateInstanceId } from '../orchestrations/names.js';
import type { Cause, RelayInput, RotateInput } from '../orchestrations/types.js';
import type { RelayRuntime } from '../runtime.js';
import type { EventHandling, OrchestrationClientPort } from './ports.js';
import { planDeliveries } from '../domain/plan.js';
import { duplicateEvent, eventIdOf, rejectEvent, startOnce, startRelayOnce } from './ports.js';

/**
 * Handles one credential-rotation CloudEvent (`SecretRelay.CredentialRotated` / `SecretRelay.RotationRequested`).
 * Malformed events are audited as rejected and acknowledged; transient failures throw so Event Grid redelivers.
 */
export async function handleRotationEvent(
  raw: unknown,
  runtime: RelayRuntime,
  client: OrchestrationClientPort,
): Promise<EventHandling> {
  const parsed = parseRotationEvent(raw);
  if (!parsed.ok) {
    const id = eventIdOf(raw);
    return rejectEvent(runtime, {
      ...(id ? { eventId: id } : {}),
      actorId: 'credential-rotation',
      reason: parsed.reason,
      detail: `rejected credential-rotation event ${id ?? '(no id)'}: ${parsed.reason}: ${parsed.detail}`,
    });
  }
  const event = parsed.event;
  const source = runtime.config.sources.find((s) => s.id === event.data.source);
  if (!source) {
    return rejectEvent(runtime, {
      eventId: event.id,
      actorId: event.source,
      reason: 'unknown-source',
      detail: `rejected ${event.type} ${event.id}: source "${event.data.source}" is not in the relay config`,
    });
  }
  const cause: Cause = { actor: { kind: 'event', id: event.source }, eventId: event.id, trigger: 'event' };
  const targets = event.data.targets;
  const ref = { sourceId: source.id, vaultUrl: source.vaultUrl, name: event.data.name };
  if (targets && event.type === 'SecretRelay.RotationRequested') {
    // The rotation's new version reaches the targets only through this rotation: it goes to every routed target.
    return rejectEvent(runtime, {
      eventId: event.id,
      actorId: event.source,
      reason: 'targets-not-allowed',
      detail: `rejected ${event.type} ${event.id}: data.targets cannot restrict a rotation (every routed target must receive the new version); send it without targets`,
    });
  }
  if (targets) {
    const latest = await runtime.source(source.id).getLatestProperties(event.data.name);
    const routed = new Set(planDeliveries(runtime.config, { sourceId: source.id, name: event.data.name, tags: latest?.tags ?? {} }).map((d) => d.targetId));
    const unrouted = targets.filter((id) => !routed.has(id));
    if (unrouted.length > 0) {
      return rejectEvent(runtime, {
        eventId: event.id,
        actorId: event.source,
        reason: 'unknown-targets',
        detail: `rejected ${event.type} ${event.id}: data.targets names target(s) no route sends ${source.id}/${event.data.name} to: ${unrouted.map((t) => `"${t.slice(0, 64)}"`).join(', ')}`,
      });
    }
  }

  if (event.type === 'SecretRelay.CredentialRotated') {
    let version = event.data.version;
    if (!version) {
      const latest = await runtime.source(source.id).getLatestProperties(event.data.name);
      if (!latest) {
        return rejectEvent(runtime, {
          eventId: event.id,
          actorId: event.source,
          reason: 'secret-not-found',
          detail: `rejected ${event.type} ${event.id}: ${source.id}/${event.data.name} has no enabled version in the source vault`,
        });
      }
      version = latest.version;
    }
    const instanceId = relayInstanceId(source.id, event.data.name, version);
    const input: RelayInput = {
      ref: { sourceId: source.id, vaultUrl: source.vaultUrl, name: event.data.name, version },
      cause,
      ...(targets ? { targets } : {}),
    };
    const started = await startRelayOnce(client, ORCHESTRATIONS.relaySecretVersion, instanceId, input);
    if (started !== 'started') {
      const detail = `duplicate event ${event.id}: relay ${instanceId} ${started === 'already-running' ? 'is already running' : 'already delivered this version'}`;
      return duplicateEvent(runtime, { eventId: event.id, actorId: event.source, reason: started, instanceId, detail, ref: { ...ref, version } });
    }
    const detail = `relay ${instanceId} started`;
    runtime.log.info(detail);
    return { result: 'started', instanceId, detail };
  }

  // RotationRequested: one rotation per event id, however often the event is delivered.
  const instanceId = rotateInstanceId(source.id, event.data.name, `event-${event.id}`);
  const input: RotateInput = {
    sourceId: source.id,
    name: event.data.name,
    cause: { ...cause, trigger: 'rotation' },
    ...(event.data.reason !== undefined ? { requestReason: event.data.reason } : {}),
  };
  const started = await startOnce(client, ORCHESTRATIONS.rotateCredential, instanceId, input);
  if (started !== 'started') {
    const detail = `duplicate event ${event.id}: rotation ${instanceId} is ${started}`;
    return duplicateEvent(runtime, { eventId: event.id, actorId: event.source, reason: started, instanceId, detail, ref });
  }
  const detail = `rotation ${instanceId} started${event.data.reason !== undefined ? ` (reason given: ${JSON.stringify(event.data.reason.slice(0, 200))})` : ''}`;
  runtime.log.info(detail);
  return { result: 'started', instanceId, detail };
}
