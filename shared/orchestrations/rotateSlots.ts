import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { SecretVersionRef } from '../domain/references.js';
import { isSuccess, STATUS_INFO } from '../domain/statuses.js';
import { activityRetryOptions, failureMessage } from './retry.js';
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
  | { readonly ok: false; readonly status: RotationStepFailure['status']; readonly reason: string; readonly message: string; readonly hint: string };

/**
 * The dual-credential protocol as orchestration steps: set the inactive slot at the owner and write the new source
 * version (one activity; the value stays in it) → relay it (the deterministic relay sub-orchestration) → when the
 * relay succeeded, wait the route's grace period, check that every routed target holds the new version, and only
 * then retire the previously active slot. A failed or partial relay, or a target that does not hold the version,
 * keeps the previous slot usable, and the audit says so (`rotate`/`RotationFailed`, reason `previous-slot-kept`).
 * Every step is audited with the `rotate` action. Every activity runs with `activityRetryOptions`; what still fails
 * when the policy is spent ends as a named failure (before publishing) or keeps the previous slot (after).
 * Deterministic: durable clock and timers only.
 */
export function* rotateDualSlot(
  context: OrchestrationContext,
  input: RotateInput,
  plan: DualSlotPlan,
): Generator<df.Task, DualSlotOutput, unknown> {
  const at = () => context.df.currentUtcDateTime.toISOString();
  const audit = (entry: Omit<Extract<AuditEntry, { action: 'rotate' }>, 'action' | 'cause' | 'instanceId' | 'at'>) =>
    context.df.callActivityWithRetry(ACTIVITIES.appendAudit, activityRetryOptions(), [
      { action: 'rotate', cause: input.cause, instanceId: context.df.instanceId, at: at(), ...entry } satisfies AuditEntry,
    ]);
  const step = { sourceId: input.sourceId, name: input.name, rotationId: context.df.instanceId };

  let owner: OwnerRotationResult;
  try {
    owner = (yield context.df.callActivityWithRetry(ACTIVITIES.rotateAtOwner, activityRetryOptions(), step)) as OwnerRotationResult;
  } catch (error) {
    // Transient owner or source failures outlasted the policy: nothing was published (a retried step reuses its version).
    owner = { ok: false, step: 'owner', status: 'FailedUnavailable', reason: 'retries-exhausted', message: `rotateAtOwner: ${failureMessage(error)}` };
  }
  if (!owner.ok) {
    const hint = STATUS_INFO[owner.status].hint;
    yield audit({
      status: 'RotationFailed',
      ref: { sourceId: input.sourceId, name: input.name },
      reason: owner.reason,
      message: `${owner.status}: ${owner.step === 'precheck' ? 'nothing changed' : owner.step === 'owner' ? 'the owner did not set the slot; nothing published' : 'the source version was not written'}: ${owner.message}`,
    });
    if (!context.df.isReplaying) context.error(`rotation ${context.df.instanceId} failed: ${owner.status} (${owner.reason}): ${owner.message} — ${hint}`);
    return { ok: false, status: owner.status, reason: owner.reason, message: owner.message, hint };
  }
  if (owner.reused) {
    yield audit({ status: 'RotationSkipped', ref: owner.ref, reason: 'rotation-already-written' });
  } else {
    yield audit({ status: 'Rotated', ref: owner.ref, reason: `${plan.rotator}-slot-set` });
    yield audit({ status: 'Rotated', ref: owner.ref, reason: 'new-version-written' });
  }

  const relayId = relayInstanceId(owner.ref.sourceId, owner.ref.name, owner.ref.version);
  // Every routed target (rotations are never restricted): the rotation's own Key Vault event is not relayed.
  const relayInput: RelayInput = { ref: owner.ref, cause: { ...input.cause, trigger: 'rotation', parentInstanceId: context.df.instanceId } };
  let relay: RelaySummary | undefined;
  let relayFailure: string | undefined;
  try {
    // With retries, as in rotate.ts: the version's own Key Vault event may hold this relay id for a moment.
    relay = (yield context.df.callSubOrchestratorWithRetry(ORCHESTRATIONS.relaySecretVersion, activityRetryOptions(), relayInput, relayId)) as RelaySummary;
  } catch (error) {
    relayFailure = `relay ${relayId} failed: ${failureMessage(error)}`;
  }
  const summary: RelaySummary = relay ?? { ref: owner.ref, planned: 0, outcomes: [], counts: {}, failed: 0, ok: false };
  // `ok` says the protocol ran to its end; the status API reads the relay's failed deliveries beside it.
  const done = (retirement: Retirement): DualSlotOutput => ({ ok: true, ref: owner.ref, relayInstanceId: relayId, relay: summary, slot: owner.slot, retirement });

  const previous = owner.previousSlot;
  if (!previous) {
    if (!relay || !relay.ok) {
      const text = `${relayFailure ?? `the relay failed for ${summary.failed} of ${summary.planned} targets`}; no previous slot to keep`;
      yield audit({ status: 'RotationFailed', ref: owner.ref, reason: 'relay-failed', message: text });
      if (!context.df.isReplaying) context.warn(`rotation ${context.df.instanceId}: ${text}`);
      return done({ outcome: 'none' });
    }
    yield audit({ status: 'RotationSkipped', ref: owner.ref, reason: 'no-previous-slot' });
    return done({ outcome: 'none' });
  }
  const keep = function* (reason: string, message: string): Generator<df.Task, DualSlotOutput, unknown> {
    const text = `previous slot "${previous}" kept usable: ${message}`;
    yield audit({ status: 'RotationFailed', ref: owner.ref, reason, message: text });
    if (!context.df.isReplaying) context.warn(`rotation ${context.df.instanceId}: ${text}`);
    return done({ outcome: 'kept', slot: previous, reason, message });
  };
  if (!relay || !relay.ok) {
    // Every failed outcome is listed, also for a relay split into parts (which lists no successes).
    const failed = summary.outcomes.filter((o) => !isSuccess(o.status));
    const detail = relayFailure
      ? relayFailure
      : summary.rejected
        ? `the relay was rejected (${summary.rejected.status})`
        : `the relay failed for ${summary.failed} of ${summary.planned} targets (${failed.slice(0, 5).map((o) => `${o.location}: ${o.status}`).join(', ')})`;
    return yield* keep('previous-slot-kept', detail);
  }
  if (plan.retirement.rule === 'grace' && plan.retirement.graceMinutes > 0) {
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + plan.retirement.graceMinutes * 60_000));
  }
  let convergence: ConvergenceResult;
  try {
    convergence = (yield context.df.callActivityWithRetry(ACTIVITIES.checkRotationConvergence, activityRetryOptions(), { ref: owner.ref })) as ConvergenceResult;
  } catch (error) {
    return yield* keep('previous-slot-kept', `the convergence check failed: ${failureMessage(error)}`);
  }
  if (!convergence.converged) {
    const shown = convergence.pending.slice(0, 5).map((p) => `${p.location} holds ${p.held.slice(0, 8)}`).join(', ');
    return yield* keep('previous-slot-kept', `${convergence.pending.length} of ${convergence.checked} targets do not hold the new version (${shown})`);
  }
  let retired: RetireResult;
  try {
    retired = (yield context.df.callActivityWithRetry(ACTIVITIES.retireRotationSlot, activityRetryOptions(), { ...step, routeId: plan.routeId, slot: previous })) as RetireResult;
  } catch (error) {
    retired = { ok: false, status: 'FailedUnavailable', reason: 'retries-exhausted', message: `retireRotationSlot: ${failureMessage(error)}` };
  }
  if (!retired.ok) return yield* keep('retire-failed', `${retired.status}: ${retired.message}`);
  yield audit({ status: 'Rotated', ref: owner.ref, reason: 'previous-slot-retired' });
  return done({ outcome: 'retired', slot: previous });
}
