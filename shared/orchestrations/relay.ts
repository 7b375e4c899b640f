import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { DeliveryStatus } from '../domain/statuses.js';
import { isSuccess, STATUS_INFO } from '../domain/statuses.js';
import { ACTIVITIES, LANE_DELIVERIES_PER_EXECUTION, MAX_DELIVERIES_PER_ORCHESTRATION, ORCHESTRATIONS } from './names.js';
import { activityRetryOptions, deliveryRetryOptions, failureMessage } from './retry.js';
import { logRelaySummary } from './summaryLog.js';
import { chunk, planLanes, planWaves } from './waves.js';
import type {
  AuditEntry,
  DeliveryResult,
  RelayDelivery,
  RelayInput,
  RelayPartInput,
  RelayPartSummary,
  RelayPlan,
  RelayProgress,
  RelaySummary,
} from './types.js';

const AUDIT_BATCH = 100;

/**
 * Relays one source version to every target routed to it: plan → bounded fan-out (each delivery audits its own
 * outcome as soon as it is known) → summary. A plan that fits the limits at once runs in this orchestration; a larger
 * one runs in lanes (`relayPart`, see `planLanes`) that slide one delivery at a time and return counts and failures. Every activity runs with retry options; a plan that cannot be made
 * (rejected, or transient failures outlasting the retries) is audited as `plan`/`PlanFailed`. An audit append that
 * keeps failing fails the orchestration (fail-closed). Instance id `relay:{source}:{name}:{version}` (see
 * `relayInstanceId`). Deterministic: no clock, no I/O.
 */
export function* relaySecretVersion(context: OrchestrationContext): Generator<df.Task, RelaySummary, unknown> {
  const input = context.df.getInput<RelayInput>();
  setProgress(context, { phase: 'planning', planned: 0, completed: 0, counts: {} });
  let plan: RelayPlan;
  try {
    plan = (yield context.df.callActivityWithRetry(ACTIVITIES.planRelay, activityRetryOptions(), input)) as RelayPlan;
  } catch (error) {
    plan = {
      deliveries: [],
      limits: { maxConcurrent: 1, maxPerEndpoint: 1 },
      rejected: { status: 'FailedUnavailable', reason: 'retries-exhausted', message: `planRelay: ${failureMessage(error)}` },
    };
  }

  if (plan.rejected) {
    const entry: AuditEntry = {
      action: 'plan',
      status: 'PlanFailed',
      cause: input.cause,
      instanceId: context.df.instanceId,
      at: context.df.currentUtcDateTime.toISOString(),
      ref: input.ref,
      reason: plan.rejected.reason,
      message: `${plan.rejected.status}: ${plan.rejected.message}`,
    };
    yield* appendAudit(context, [entry]);
    const rejected = { ...plan.rejected, hint: STATUS_INFO[plan.rejected.status].hint };
    if (!context.df.isReplaying) {
      context.warn(`relay ${context.df.instanceId}: nothing delivered: ${rejected.status} (${rejected.reason}): ${rejected.message} — ${rejected.hint}`);
    }
    setProgress(context, { phase: 'done', planned: 0, completed: 0, counts: {} });
    return { ref: input.ref, planned: 0, outcomes: [], counts: {}, ok: false, failed: 0, rejected };
  }

  if (plan.ignored) {
    // A named, audited outcome without any delivery (the event's id is on the cause).
    const entry: AuditEntry = {
      action: 'reject-event',
      status: 'Ignored',
      cause: input.cause,
      instanceId: context.df.instanceId,
      at: context.df.currentUtcDateTime.toISOString(),
      ref: input.ref,
      reason: plan.ignored.reason,
    };
    yield* appendAudit(context, [entry]);
    if (!context.df.isReplaying) context.info(`relay ${context.df.instanceId}: ignored ${plan.ignored.message}`);
    setProgress(context, { phase: 'done', planned: 0, completed: 0, counts: {} });
    return { ref: input.ref, planned: 0, outcomes: [], counts: {}, ok: true, failed: 0, ignored: plan.ignored };
  }

  let summary: RelaySummary;
  if (plan.deliveries.length <= MAX_DELIVERIES_PER_ORCHESTRATION && planWaves(plan.deliveries, plan.limits).length <= 1) {
    // Everything fits in flight at once: one orchestration, no lanes.
    const outcomes = yield* deliverAtOnce(context, { ref: input.ref, cause: input.cause, deliveries: plan.deliveries, limits: plan.limits });
    summary = summarize(input.ref, plan.deliveries.length, outcomes);
  } else {
    // More than one round: lanes (sub-orchestrations) that each deliver one at a time, the next as soon as the
    // previous is done. Re-yielding already scheduled tasks inside a new Task.any would make the extension schedule
    // them again (durable-functions v3's legacy protocol has no task ids: Azure/azure-functions-durable-js#574), so
    // the window slides per lane, and the lanes together keep every endpoint within its bound (`planLanes`).
    setProgress(context, { phase: 'delivering', planned: plan.deliveries.length, completed: 0, counts: {} });
    const lanes = planLanes(plan.deliveries, plan.limits);
    const parts = lanes.map((deliveries, index) =>
      context.df.callSubOrchestrator(
        ORCHESTRATIONS.relayPart,
        { ref: input.ref, cause: input.cause, deliveries, limits: plan.limits } satisfies RelayPartInput,
        `${context.df.instanceId}:part-${index}`,
      ),
    );
    const results = (yield context.df.Task.all(parts)) as RelayPartSummary[];
    summary = mergeParts(input.ref, plan.deliveries.length, results);
  }

  if (plan.sourceCreatedOn) summary = { ...summary, sourceCreatedOn: plan.sourceCreatedOn };
  logRelaySummary(context, summary);
  setProgress(context, {
    phase: 'done',
    planned: summary.planned,
    completed: Object.values(summary.counts).reduce((sum, n) => sum + (n ?? 0), 0),
    counts: summary.counts,
    failed: summary.failed,
  });
  return summary;
}

/**
 * One lane of a relay: delivers its deliveries one at a time, each scheduled in the episode its predecessor
 * completed in. Outcomes the delivery could not audit itself are appended in a batch beside the next delivery (off
 * the critical path), the last ones at the end. After `LANE_DELIVERIES_PER_EXECUTION` deliveries the lane continues
 * as new with the rest (carrying its tally), so its history and replay cost stay bounded. Returns counts and the failed outcomes.
 */
export function* relayPart(context: OrchestrationContext): Generator<df.Task, RelayPartSummary | undefined, unknown> {
  const input = context.df.getInput<RelayPartInput>();
  const counts: Partial<Record<DeliveryStatus, number>> = { ...input.carried?.counts };
  const failures: DeliveryResult[] = [...(input.carried?.failures ?? [])];
  const planned = (input.carried?.planned ?? 0) + input.deliveries.length;
  let completed = Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0);
  const now = input.deliveries.slice(0, LANE_DELIVERIES_PER_EXECUTION);
  const rest = input.deliveries.slice(LANE_DELIVERIES_PER_EXECUTION);
  setProgress(context, { phase: 'delivering', planned, completed, counts, failed: failures.length });

  let unaudited: DeliveryResult[] = [];
  for (const delivery of now) {
    const task = context.df.callActivityWithRetry(ACTIVITIES.deliverSecret, deliveryRetryOptions(), {
      ref: input.ref,
      delivery,
      cause: input.cause,
      instanceId: context.df.instanceId,
    });
    if (unaudited.length > 0) {
      const audit = appendAuditTask(context, unaudited.map((outcome) => auditEntryOf(context, input, outcome, context.df.currentUtcDateTime.toISOString())));
      unaudited = [];
      try {
        yield context.df.Task.all([task, audit]);
      } catch {
        // Task.all fails fast; each task is collected below on its own.
      }
      // Re-yielding an already scheduled task adds no action: it returns its result, throws its error, or waits.
      // An audit append that still fails after its retries fails the lane, and with it the relay (fail-closed).
      yield audit;
    }
    let result: DeliveryResult;
    try {
      result = withHint((yield task) as DeliveryResult);
    } catch (error) {
      result = exhaustedResult(delivery, error);
    }
    completed += 1;
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    if (!isSuccess(result.status)) failures.push(result);
    if (result.audited !== true) unaudited.push(result);
    setProgress(context, { phase: 'delivering', planned, completed, counts, failed: failures.length });
  }
  if (unaudited.length > 0) {
    setProgress(context, { phase: 'auditing', planned, completed, counts, failed: failures.length });
    const at = context.df.currentUtcDateTime.toISOString();
    yield appendAuditTask(context, unaudited.map((outcome) => auditEntryOf(context, input, outcome, at)));
  }
  if (rest.length > 0) {
    // `planned` of the carried tally: what the executions so far delivered; the next one adds the rest.
    const carried: RelayPartSummary = { planned: completed, counts, failed: failures.length, failures };
    context.df.continueAsNew({ ...input, deliveries: rest, carried } satisfies RelayPartInput);
    return undefined;
  }
  return { planned, counts, failed: failures.length, failures };
}

/** One round: every delivery in flight at once (the plan fits the limits), then the unaudited outcomes appended. */
function* deliverAtOnce(context: OrchestrationContext, input: RelayPartInput): Generator<df.Task, DeliveryResult[], unknown> {
  const outcomes: DeliveryResult[] = [];
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  const planned = input.deliveries.length;
  setProgress(context, { phase: 'delivering', planned, completed: 0, counts });
  const tasks = input.deliveries.map((delivery) =>
    context.df.callActivityWithRetry(ACTIVITIES.deliverSecret, deliveryRetryOptions(), {
      ref: input.ref,
      delivery,
      cause: input.cause,
      instanceId: context.df.instanceId,
    }),
  );
  if (tasks.length > 0) {
    try {
      yield context.df.Task.all(tasks);
    } catch {
      // Task.all fails fast on the first exhausted retry; each task is collected below on its own.
    }
  }
  const unaudited: DeliveryResult[] = [];
  for (const [index, task] of tasks.entries()) {
    let result: DeliveryResult;
    try {
      result = withHint((yield task) as DeliveryResult);
    } catch (error) {
      result = exhaustedResult(input.deliveries[index] as RelayDelivery, error);
    }
    outcomes.push(result);
    if (result.audited !== true) unaudited.push(result);
    counts[result.status] = (counts[result.status] ?? 0) + 1;
  }
  // Deliveries audit their own outcome the moment it is known; only those that could not (retries exhausted, or
  // the audit store failed right after the write) are appended here.
  if (unaudited.length > 0) {
    setProgress(context, { phase: 'auditing', planned, completed: outcomes.length, counts });
    const at = context.df.currentUtcDateTime.toISOString();
    for (const batch of chunk(unaudited.map((outcome) => auditEntryOf(context, input, outcome, at)), AUDIT_BATCH)) {
      yield* appendAudit(context, batch);
    }
  }
  return outcomes;
}

/** The audit entry of one delivery outcome (the same shape the delivery activity appends). */
export function auditEntryOf(
  context: OrchestrationContext,
  input: Pick<RelayPartInput, 'ref' | 'cause'>,
  outcome: DeliveryResult,
  at: string,
): AuditEntry {
  // Typed by assertion: the union of actions × delivery statuses is more than TypeScript enumerates in a literal.
  return {
    // An adoption is audited as its own action: the relay took over something it did not own.
    action: outcome.status === 'Adopted' ? 'adopt' : 'deliver',
    status: outcome.status,
    cause: input.cause,
    instanceId: context.df.instanceId,
    at,
    ref: input.ref,
    target: { id: outcome.targetId, kind: outcome.kind, location: outcome.location },
    reason: outcome.reason,
    ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    ...(outcome.fingerprint !== undefined ? { fingerprint: outcome.fingerprint } : {}),
  } as AuditEntry;
}

/** Appends audit entries with retries; still failing after them fails the orchestration (fail-closed). */
function* appendAudit(context: OrchestrationContext, entries: readonly AuditEntry[]): Generator<df.Task, void, unknown> {
  yield appendAuditTask(context, entries);
}

function appendAuditTask(context: OrchestrationContext, entries: readonly AuditEntry[]): df.Task {
  return context.df.callActivityWithRetry(ACTIVITIES.appendAudit, activityRetryOptions(), entries);
}

function withHint(result: DeliveryResult): DeliveryResult {
  return isSuccess(result.status) || result.hint !== undefined ? result : { ...result, hint: STATUS_INFO[result.status].hint };
}

/**
 * A delivery whose transient failures outlasted the retry policy. The activity prefixes its error message with
 * the status (class identity does not survive the activity boundary).
 */
function exhaustedResult(delivery: RelayDelivery, error: unknown): DeliveryResult {
  const text = error instanceof Error ? error.message : String(error);
  const status: DeliveryStatus = /FailedThrottled/.test(text) ? 'FailedThrottled' : 'FailedUnavailable';
  return {
    deliveryId: delivery.deliveryId,
    routeId: delivery.routeId,
    targetId: delivery.targetId,
    kind: delivery.kind,
    location: `${delivery.endpoint}/${delivery.placement.name}${delivery.placement.key ? `#${delivery.placement.key}` : ''}`,
    status,
    reason: 'retries-exhausted',
    message: truncate(text.split('\n')[0] ?? text, 500),
    hint: STATUS_INFO[status].hint,
  };
}

function summarize(ref: RelayInput['ref'], planned: number, outcomes: readonly DeliveryResult[]): RelaySummary {
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  const failed = outcomes.filter((outcome) => !isSuccess(outcome.status)).length;
  return { ref, planned, outcomes, counts, ok: failed === 0, failed };
}

/** The relay's summary from its parts: every count, every failure in full, successes counted only. */
function mergeParts(ref: RelayInput['ref'], planned: number, parts: readonly RelayPartSummary[]): RelaySummary {
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  const outcomes: DeliveryResult[] = [];
  for (const part of parts) {
    for (const [status, n] of Object.entries(part.counts) as [DeliveryStatus, number][]) counts[status] = (counts[status] ?? 0) + n;
    outcomes.push(...part.failures);
  }
  const total = Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0);
  const failed = outcomes.length;
  return { ref, planned, outcomes, omittedOutcomes: total - failed, counts, ok: failed === 0 && total === planned, failed };
}

function setProgress(context: OrchestrationContext, progress: RelayProgress): void {
  context.df.setCustomStatus(progress);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
