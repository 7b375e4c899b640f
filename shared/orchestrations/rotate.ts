import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { SecretVersionRef } from '../domain/references.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import { ACTIVITIES, ORCHESTRATIONS, relayInstanceId } from './names.js';
import type { AuditEntry, RelayInput, RelaySummary, RotateInput } from './types.js';

/** What `rotateSourceSecret` returns: the new version's reference, or why no version was written. */
export type RotateSourceResult =
  | { readonly ok: true; readonly ref: SecretVersionRef; readonly reused: boolean }
  | { readonly ok: false; readonly status: DeliveryStatus; readonly reason: string; readonly message: string };

export type RotateOutput =
  | { readonly ok: true; readonly ref: SecretVersionRef; readonly relayInstanceId: string; readonly relay: RelaySummary }
  | { readonly ok: false; readonly status: DeliveryStatus; readonly reason: string; readonly message: string };

/**
 * Rotates a credential: an activity generates a value per the route's policy and writes it as a new source version
 * (the value never enters history), then the new version is relayed as a sub-orchestration under the deterministic
 * relay id. The version is tagged with this rotation's instance id, so the Event Grid event the write causes is
 * recognised and does not start a second relay.
 */
export function* rotateCredential(context: OrchestrationContext): Generator<df.Task, RotateOutput, unknown> {
  const input = context.df.getInput<RotateInput>();
  const rotated = (yield context.df.callActivity(ACTIVITIES.rotateSourceSecret, {
    sourceId: input.sourceId,
    name: input.name,
    rotationId: context.df.instanceId,
  })) as RotateSourceResult;

  const audit: AuditEntry = {
    action: 'rotate',
    status: rotated.ok ? (rotated.reused ? 'RotationSkipped' : 'Rotated') : 'RotationFailed',
    cause: input.cause,
    instanceId: context.df.instanceId,
    at: context.df.currentUtcDateTime.toISOString(),
    ref: rotated.ok ? rotated.ref : { sourceId: input.sourceId, name: input.name },
    reason: rotated.ok ? (rotated.reused ? 'rotation-already-written' : 'new-version-written') : rotated.reason,
    ...(rotated.ok ? {} : { message: `${rotated.status}: ${rotated.message}` }),
  };
  yield context.df.callActivity(ACTIVITIES.appendAudit, [audit]);
  if (!rotated.ok) return rotated;

  const relayId = relayInstanceId(rotated.ref.sourceId, rotated.ref.name, rotated.ref.version);
  const relayInput: RelayInput = {
    ref: rotated.ref,
    cause: { ...input.cause, trigger: 'rotation', parentInstanceId: context.df.instanceId },
    ...(input.targets ? { targets: input.targets } : {}),
  };
  const relay = (yield context.df.callSubOrchestrator(ORCHESTRATIONS.relaySecretVersion, relayInput, relayId)) as RelaySummary;
  return { ok: true, ref: rotated.ref, relayInstanceId: relayId, relay };
}
