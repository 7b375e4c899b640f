import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { SecretVersionRef } from '../domain/references.js';
import type { ConvergenceResult, OwnerRotationResult, RetireResult, RotationPlan, RotationStepFailure } from '../rotation/protocol.js';
import { ACTIVITIES, ORCHESTRATIONS, relayInstanceId } from './names.js';
import type { AuditEntry, RelayInput, RelaySummary, RotateInput } from './types.js';

/** What happened to the previously active slot at the end of a dual-credential rotation. */
export type Retirement =
  | { readonly outcome: 'retired'; readonly slot: string }
  | { readonly outcome: 'kept'; readonly slot: string; readonly reason: string; readonly message: string }
  | { readonly outcome: 'none' };

export type DualSlotPlan = Extract<RotationPlan, { rotator: 'postgres' | 'webhook' }>;

export type DualSlotOutput =
  | {
      readonly ok: true;
      readonly ref: SecretVersionRef;
      readonly relayInstanceId: string;
      readonly relay: RelaySummary;
      readonly slot: string;
      readonly retirement: Retirement;
    }
  | { readonly ok: false; readonly status: RotationStepFailure['status']; readonly reason: string; readonly message: string };

/**
 * Transient owner and target failures (a database restarting, a 503 from the owner endpoint): the activity has already
 * retried inside (webhook), so the orchestration waits a little longer between attempts.
 */
export function rotationStepRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  options.maxRetryIntervalInMilliseconds = 60_000;
  return options;
}

/**
 * The dual-credential protocol as orchestration steps: set the inactive slot at the owner and write the new source
 * version (one activity; the value stays in it) → relay it (the deterministic relay sub-orchestration) → when the
 * relay succeeded, wait the route's grace period, check that every routed target holds the new version, and only
 * then retire the previously active slot. A failed or partial relay, or a target that does not hold the version,
 * keeps the previous slot usable, and the audit says so (`rotate`/`RotationFailed`, reason `previous-slot-kept`).
 * Every step is audited with the `rotate` action. Deterministic: durable clock and timers only.
 */
export function* rotateDualSlot(
  context: OrchestrationContext,
  input: RotateInput,
  plan: DualSlotPlan,
): Generator<df.Task, DualSlotOutput, unknown> {
  const at = () => context.df.currentUtcDateTime.toISOString();
  const audit = (entry: Omit<AuditEntry, 'action' | 'cause' | 'instanceId' | 'at'> & { status: 'Rotated' | 'RotationSkipped' | 'RotationFailed' }) =>
    context.df.callActivityWithRetry(ACTIVITIES.appendAudit, rotationStepRetryOptions(), [
      { action: 'rotate', cause: input.cause, instanceId: context.df.instanceId, at: at(), ...entry } as AuditEntry,
    ]);
  const step = { sourceId: input.sourceId, name: input.name, rotationId: context.df.instanceId };

  const owner = (yield context.df.callActivityWithRetry(ACTIVITIES.rotateAtOwner, rotationStepRetryOptions(), step)) as OwnerRotationResult;
  if (!owner.ok) {
    yield audit({
      status: 'RotationFailed',
      ref: { sourceId: input.sourceId, name: input.name },
      reason: owner.reason,
      message: `${owner.status}: ${owner.step === 'precheck' ? 'nothing changed' : owner.step === 'owner' ? 'the owner refused; nothing published' : 'the source version was not written'}: ${owner.message}`,
    });
    return { ok: false, status: owner.status, reason: owner.reason, message: owner.message };
  }
  if (owner.reused) {
    yield audit({ status: 'RotationSkipped', ref: owner.ref, reason: 'rotation-already-written' });
  } else {
    yield audit({ status: 'Rotated', ref: owner.ref, reason: `${plan.rotator}-slot-set` });
    yield audit({ status: 'Rotated', ref: owner.ref, reason: 'new-version-written' });
  }

  const relayId = relayInstanceId(owner.ref.sourceId, owner.ref.name, owner.ref.version);
  const relayInput: RelayInput = {
    ref: owner.ref,
    cause: { ...input.cause, trigger: 'rotation', parentInstanceId: context.df.instanceId },
    ...(input.targets ? { targets: input.targets } : {}),
  };
  const relay = (yield context.df.callSubOrchestrator(ORCHESTRATIONS.relaySecretVersion, relayInput, relayId)) as RelaySummary;
  const done = (retirement: Retirement): DualSlotOutput => ({ ok: true, ref: owner.ref, relayInstanceId: relayId, relay, slot: owner.slot, retirement });

  const previous = owner.previousSlot;
  if (!previous) {
    yield audit({ status: 'RotationSkipped', ref: owner.ref, reason: 'no-previous-slot' });
    return done({ outcome: 'none' });
  }
  const keep = function* (reason: string, message: string): Generator<df.Task, DualSlotOutput, unknown> {
    yield audit({ status: 'RotationFailed', ref: owner.ref, reason, message: `previous slot "${previous}" kept usable: ${message}` });
    return done({ outcome: 'kept', slot: previous, reason, message });
  };
  if (!relay.ok) {
    const failed = relay.outcomes.filter((o) => !['Created', 'Updated', 'UpToDate', 'Recovered', 'Adopted'].includes(o.status));
    const detail = relay.rejected
      ? `the relay was rejected (${relay.rejected.status})`
      : `the relay failed for ${failed.length} of ${relay.planned} targets (${failed.slice(0, 5).map((o) => `${o.location}: ${o.status}`).join(', ')})`;
    return yield* keep('previous-slot-kept', detail);
  }
  if (plan.retirement.rule === 'grace' && plan.retirement.graceMinutes > 0) {
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + plan.retirement.graceMinutes * 60_000));
  }
  const convergence = (yield context.df.callActivityWithRetry(ACTIVITIES.checkRotationConvergence, rotationStepRetryOptions(), {
    ref: owner.ref,
  })) as ConvergenceResult;
  if (!convergence.converged) {
    const shown = convergence.pending.slice(0, 5).map((p) => `${p.location} holds ${p.held.slice(0, 8)}`).join(', ');
    return yield* keep('previous-slot-kept', `${convergence.pending.length} of ${convergence.checked} targets do not hold the new version (${shown})`);
  }
  const retired = (yield context.df.callActivityWithRetry(ACTIVITIES.retireRotationSlot, rotationStepRetryOptions(), {
    ...step,
    routeId: plan.routeId,
    slot: previous,
  })) as RetireResult;
  if (!retired.ok) return yield* keep('retire-failed', `${retired.status}: ${retired.message}`);
  yield audit({ status: 'Rotated', ref: owner.ref, reason: 'previous-slot-retired' });
  return done({ outcome: 'retired', slot: previous });
}
