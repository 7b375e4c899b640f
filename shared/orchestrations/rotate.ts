import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { SecretVersionRef } from '../domain/references.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import { STATUS_INFO } from '../domain/statuses.js';
import { ACTIVITIES, ORCHESTRATIONS, relayInstanceId } from './names.js';
import { activityRetryOptions, failureMessage } from './retry.js';
import type { AuditEntry, RelayInput, RelaySummary, RotateInput } from './types.js';
import type { RotationPlan } from '../rotation/protocol.js';
import { rotateDualSlot, type Retirement } from './rotateSlots.js';

/** What `rotateSourceSecret` returns: the new version's reference, or why no version was written. */
export type RotateSourceResult =
  | { readonly ok: true; readonly ref: SecretVersionRef; readonly reused: boolean }
  | { readonly ok: false; readonly status: DeliveryStatus; readonly reason: string; readonly message: string };

export type RotateOutput =
  | {
      readonly ok: boolean;
      readonly ref: SecretVersionRef;
      readonly relayInstanceId: string;
      readonly relay: RelaySummary;
      readonly requestReason?: string;
      /** Two-slot rotators only: the slot now active and what happened to the previous one. */
      readonly slot?: string;
      readonly retirement?: Retirement;
    }
  | {
      readonly ok: false;
      readonly status: DeliveryStatus;
      readonly reason: string;
      readonly message: string;
      readonly hint: string;
      readonly requestReason?: string;
    };

/**
 * Rotates a credential: an activity generates a value per the route's policy and writes it as a new source version
 * (the value never enters history), then the new version is relayed to every routed target as a sub-orchestration
 * under the deterministic relay id. The version is tagged with this rotation's instance id, so the Event Grid event
 * the write causes is recognised and does not start a second relay. Transient failures of the source write are
 * retried; a rotation that still fails (or whose relay fails) is audited as `rotate`/`RotationFailed`.
 */
export function* rotateCredential(context: OrchestrationContext): Generator<df.Task, RotateOutput, unknown> {
  const input = context.df.getInput<RotateInput>();
  const requested = input.requestReason !== undefined ? { requestReason: input.requestReason } : {};
  // Routes with an owner (postgres, webhook) rotate with two credentials: shared/orchestrations/rotateSlots.ts.
  let plan: RotationPlan;
  try {
    plan = (yield context.df.callActivityWithRetry(ACTIVITIES.planRotation, activityRetryOptions(), { sourceId: input.sourceId, name: input.name })) as RotationPlan;
  } catch (error) {
    // Never fall back to generating a value: for an owned credential that would publish one its owner rejects.
    plan = { ok: false, status: 'FailedUnavailable', reason: 'retries-exhausted', message: `planRotation: ${failureMessage(error)}` };
  }
  if (plan.ok && plan.rotator !== 'generate') return { ...(yield* rotateDualSlot(context, input, plan)), ...requested };
  if (!plan.ok && plan.reason === 'retries-exhausted') {
    const hint = STATUS_INFO[plan.status].hint;
    yield context.df.callActivityWithRetry(ACTIVITIES.appendAudit, activityRetryOptions(), [
      {
        action: 'rotate',
        status: 'RotationFailed',
        cause: input.cause,
        instanceId: context.df.instanceId,
        at: context.df.currentUtcDateTime.toISOString(),
        ref: { sourceId: input.sourceId, name: input.name },
        reason: plan.reason,
        message: `${plan.status}: ${plan.message}`,
      } satisfies AuditEntry,
    ]);
    if (!context.df.isReplaying) context.error(`rotation ${context.df.instanceId} failed: ${plan.status} (${plan.reason}): ${plan.message} — ${hint}`);
    return { ok: false, status: plan.status, reason: plan.reason, message: plan.message, hint, ...requested };
  }
  let rotated: RotateSourceResult;
  try {
    rotated = (yield context.df.callActivityWithRetry(ACTIVITIES.rotateSourceSecret, activityRetryOptions(), {
      sourceId: input.sourceId,
      name: input.name,
      rotationId: context.df.instanceId,
    })) as RotateSourceResult;
  } catch (error) {
    rotated = { ok: false, status: 'FailedUnavailable', reason: 'retries-exhausted', message: `rotateSourceSecret: ${failureMessage(error)}` };
  }

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
  yield context.df.callActivityWithRetry(ACTIVITIES.appendAudit, activityRetryOptions(), [audit]);
  if (!rotated.ok) {
    const hint = STATUS_INFO[rotated.status].hint;
    if (!context.df.isReplaying) {
      context.error(`rotation ${context.df.instanceId} failed: ${rotated.status} (${rotated.reason}): ${rotated.message} — ${hint}`);
    }
    return { ...rotated, hint, ...requested };
  }

  const relayId = relayInstanceId(rotated.ref.sourceId, rotated.ref.name, rotated.ref.version);
  // No `targets` restriction: the rotation's own Key Vault event is not relayed, so this relay is the only way the
  // new version reaches the targets; every routed target must receive it.
  const relayInput: RelayInput = {
    ref: rotated.ref,
    cause: { ...input.cause, trigger: 'rotation', parentInstanceId: context.df.instanceId },
  };
  let relay: RelaySummary;
  try {
    // With retries: the version's own Key Vault event may have started a relay under this id first; that relay
    // ends at once as ignored (written-by-rotation), and the retry then runs this one in its place.
    relay = (yield context.df.callSubOrchestratorWithRetry(ORCHESTRATIONS.relaySecretVersion, activityRetryOptions(), relayInput, relayId)) as RelaySummary;
  } catch (error) {
    const message = `relay ${relayId} failed: ${failureMessage(error)}`;
    yield context.df.callActivityWithRetry(ACTIVITIES.appendAudit, activityRetryOptions(), [
      { ...audit, status: 'RotationFailed', reason: 'relay-failed', message } satisfies AuditEntry,
    ]);
    const hint = 'The new source version exists but its relay failed: start a relay of it (POST /api/rotations, mode "relay") or wait for reconciliation.';
    if (!context.df.isReplaying) context.error(`rotation ${context.df.instanceId}: ${message} — ${hint}`);
    return { ok: false, status: 'FailedUnavailable', reason: 'relay-failed', message, hint, ...requested };
  }
  if (!relay.ok && !context.df.isReplaying) {
    context.warn(`rotation ${context.df.instanceId}: new version ${rotated.ref.version} written, ${relay.failed} of ${relay.planned} deliveries failed (see ${relayId})`);
  }
  return { ok: relay.ok, ref: rotated.ref, relayInstanceId: relayId, relay, ...requested };
}
