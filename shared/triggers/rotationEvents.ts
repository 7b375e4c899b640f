import { parseRotationEvent } from '../domain/rotationEvents.js';
import { ORCHESTRATIONS, relayInstanceId, rotateInstanceId } from '../orchestrations/names.js';
import type { Cause, RelayInput, RotateInput } from '../orchestrations/types.js';
import type { RelayRuntime } from '../runtime.js';
import type { EventHandling, OrchestrationClientPort } from './ports.js';
import { eventIdOf, rejectEvent, startOnce } from './ports.js';

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
    const started = await client.start(ORCHESTRATIONS.relaySecretVersion, instanceId, input);
    const detail = started === 'started' ? `relay ${instanceId} started` : `relay ${instanceId} is already running`;
    runtime.log.info(detail);
    return { result: started === 'started' ? 'started' : 'duplicate', instanceId, detail };
  }

  // RotationRequested: one rotation per event id, however often the event is delivered.
  const instanceId = rotateInstanceId(source.id, event.data.name, `event-${event.id}`);
  const input: RotateInput = { sourceId: source.id, name: event.data.name, cause: { ...cause, trigger: 'rotation' }, ...(targets ? { targets } : {}) };
  const started = await startOnce(client, ORCHESTRATIONS.rotateCredential, instanceId, input);
  const detail = started === 'started' ? `rotation ${instanceId} started` : `duplicate event ${event.id}: rotation ${instanceId} is ${started}`;
  runtime.log.info(detail);
  return { result: started === 'started' ? 'started' : 'duplicate', instanceId, detail };
}
