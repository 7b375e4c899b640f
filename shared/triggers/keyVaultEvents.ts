import { parseKeyVaultEvent } from '../domain/events.js';
import { findSourceByVault } from '../domain/plan.js';
import { nameMatches } from '../domain/match.js';
import { matchingRoutes } from '../domain/routes.js';
import { ORCHESTRATIONS, relayInstanceId } from '../orchestrations/names.js';
import type { AuditEntry, Cause, RelayInput, RotateInput } from '../orchestrations/types.js';
import type { RelayRuntime } from '../runtime.js';
import type { EventHandling, InstanceStatus, OrchestrationClientPort } from './ports.js';
import { duplicateEvent, eventIdOf, ignoreEvent, rejectEvent, startOnce, startRelayOnce } from './ports.js';

/**
 * Handles one Key Vault event delivered by Event Grid (either schema). Never throws for bad input: a malformed
 * event is audited as rejected and acknowledged, so Event Grid does not retry it forever. Throws only for
 * transient failures (starting the orchestration, reading the source), so Event Grid redelivers.
 */
export async function handleKeyVaultEvent(
  raw: unknown,
  runtime: RelayRuntime,
  client: OrchestrationClientPort,
): Promise<EventHandling> {
  const parsed = parseKeyVaultEvent(raw);
  const now = runtime.now().toISOString();
  if (!parsed.ok && parsed.reason === 'UnsupportedEventType') {
    // A well-formed event of a type the relay does not act on (e.g. VaultAccessPolicyChanged): acknowledge it.
    const eventId = eventIdOf(raw);
    const detail = `ignored event ${eventId ?? '(no id)'}: ${parsed.detail}`;
    return ignoreEvent(runtime, { ...(eventId ? { eventId } : {}), actorId: 'event-grid', reason: 'unsupported-event-type', detail });
  }
  if (!parsed.ok) {
    const eventId = eventIdOf(raw);
    return rejectEvent(runtime, {
      ...(eventId ? { eventId } : {}),
      actorId: 'event-grid',
      reason: parsed.reason,
      detail: `rejected Key Vault event ${eventId ?? '(no id)'}: ${parsed.reason}: ${parsed.detail}`,
    });
  }
  const event = parsed.event;
  const config = runtime.config;
  // The vault URL in the event's secret id is authoritative (it is what the config names); the vault name is a fallback.
  const source = findSourceByVault(runtime.config, event.vaultUrl) ?? findSourceByVault(runtime.config, event.vaultName);
  if (!source) {
    const detail = `ignored ${event.type} for ${event.vaultName}/${event.objectName}: vault is not a configured source`;
    return ignoreEvent(runtime, { eventId: event.id, actorId: event.vaultName, reason: 'not-a-configured-source', detail });
  }
  const cause: Cause = { actor: { kind: 'event', id: `${event.vaultName}` }, eventId: event.id, trigger: 'event' };
  const ref = { sourceId: source.id, vaultUrl: source.vaultUrl, name: event.objectName, version: event.version };

  switch (event.type) {
    case 'SecretNewVersionCreated': {
      // The answer path reads nothing from the source (Event Grid bursts must be answered fast): routes are matched
      // by name here; their tag conditions, and whether the relay's own rotation wrote this version, are only known
      // from the source and are decided by the relay's plan step (planRelay), which audits what it ignores.
      if (!config.routes.some((route) => route.source === source.id && nameMatches(route.match, event.objectName))) {
        const detail = `ignored ${event.objectName}@${event.version}: no route of source "${source.id}" covers this name`;
        return ignoreEvent(runtime, { eventId: event.id, actorId: event.vaultName, reason: 'no-route', detail, ref });
      }
      const instanceId = relayInstanceId(source.id, event.objectName, event.version);
      const existing = await client.status(instanceId);
      const rotation = rotationOf(existing);
      if (rotation) {
        // The rotation that wrote this version already runs (or ran) its relay under this id.
        const detail = `ignored ${event.objectName}@${event.version}: written by rotation ${rotation}, which relays it`;
        return ignoreEvent(runtime, { eventId: event.id, actorId: event.vaultName, reason: 'written-by-rotation', detail, ref });
      }
      const input: RelayInput = { ref, cause, skipRotationWritten: true };
      const started = await startRelayOnce(client, ORCHESTRATIONS.relaySecretVersion, instanceId, input, existing ?? null);
      if (started !== 'started') {
        const detail = `duplicate event ${event.id}: relay ${instanceId} ${started === 'already-running' ? 'is already running' : 'already delivered this version'}`;
        return duplicateEvent(runtime, { eventId: event.id, actorId: event.vaultName, reason: started, instanceId, detail, ref });
      }
      const detail = `relay ${instanceId} started`;
      runtime.log.info(detail);
      return { result: 'started', instanceId, detail };
    }
    case 'SecretNearExpiry': {
      const properties = await runtime.source(source.id).getVersionProperties(event.objectName, event.version);
      const tags = properties?.tags ?? {};
      const routes = matchingRoutes(runtime.config, { sourceId: source.id, name: event.objectName, tags });
      const policy = routes.find((route) => route.rotation?.rotateOnNearExpiry)?.rotation;
      if (!policy) {
        const detail = `${event.objectName}@${event.version} nears expiry; no route rotates it on near-expiry`;
        runtime.log.warn(detail);
        await runtime.audit.append([expiryEntry('NearExpiry', 'no-rotation-policy', detail)]);
        return { result: 'audited', detail };
      }
      // One rotation per expiring version, however often the event is delivered.
      const instanceId = `rotate:${source.id}:${event.objectName.toLowerCase()}:near-expiry-${event.version.toLowerCase()}`;
      const input: RotateInput = { sourceId: source.id, name: event.objectName, cause: { ...cause, trigger: 'rotation' } };
      const started = await startOnce(client, ORCHESTRATIONS.rotateCredential, instanceId, input);
      if (started !== 'started') {
        const detail = `duplicate event ${event.id}: rotation ${instanceId} ${started}`;
        return duplicateEvent(runtime, { eventId: event.id, actorId: event.vaultName, reason: started, instanceId, detail, ref });
      }
      const detail = `rotation ${instanceId} started (near expiry)`;
      runtime.log.info(detail);
      return { result: 'started', instanceId, detail };
    }
    case 'SecretExpired': {
      const detail = `${source.id}/${event.objectName}@${event.version} has EXPIRED; targets still hold it until a new version is relayed`;
      runtime.log.warn(detail);
      await runtime.audit.append([expiryEntry('Expired', 'secret-expired', detail)]);
      return { result: 'audited', detail };
    }
    default: {
      const detail = `ignored ${event.type} for ${event.vaultName}/${event.objectName}: not handled`;
      return ignoreEvent(runtime, { eventId: event.id, actorId: event.vaultName, reason: 'unsupported-event-type', detail });
    }
  }

  function expiryEntry(status: 'NearExpiry' | 'Expired', reason: string, message: string): AuditEntry {
    return { action: 'expired', status, cause, instanceId: `event:${event.id}`, at: now, ref, reason, message };
  }
}

/** The rotation whose relay an existing relay instance is (its cause names the parent rotation), if any. */
function rotationOf(existing: InstanceStatus | undefined): string | undefined {
  const cause = (existing?.input as { cause?: Partial<Cause> } | null | undefined)?.cause;
  return cause?.trigger === 'rotation' ? (cause.parentInstanceId ?? 'rotation') : undefined;
}
