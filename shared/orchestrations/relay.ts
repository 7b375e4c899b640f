import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { DeliveryStatus } from '../domain/statuses.js';
import { isSuccess, STATUS_INFO } from '../domain/statuses.js';
import type { SourceVersionFacts } from '../targets/contract.js';
import { ACTIVITIES, LANE_BATCHES_PER_EXECUTION, MAX_DELIVERIES_PER_BATCH, MAX_DELIVERIES_PER_ORCHESTRATION, ORCHESTRATIONS } from './names.js';
import { activityRetryOptions, deliveryRetryOptions, failureMessage, retryDelayInMs } from './retry.js';
import { logRelaySummary } from './summaryLog.js';
import { chunk, nextBatch, planLanes } from './waves.js';
import type {
  AuditEntry,
  DeliverBatchInput,
  DeliverBatchResult,
  DeliveryResult,
  PendingRetry,
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
 * Relays one source version to every target routed to it: plan → bounded fan-out in batches (`deliverBatch`: the
 * deliveries of whole endpoints in one activity with a sliding window; each delivery audits its own outcome as soon
 * as it is known) → summary. The endpoints are split into lanes (`planLanes`); when every lane fits in one batch the
 * batches run in this orchestration, otherwise each lane is a sub-orchestration (`relayPart`) that runs its batches
 * one after another and returns counts and failures. Every activity runs with retry options; a plan that cannot be made
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
  const lanes = planLanes(plan.deliveries, plan.limits);
  const { deliveries, source } = hoistSource(plan.deliveries);
  const common: BatchCommon = { ref: input.ref, cause: input.cause, maxPerEndpoint: plan.limits.maxPerEndpoint, ...(source ? { source } : {}) };
  const stripped = new Map(deliveries.map((d) => [d.deliveryId, d] as const));
  if (plan.deliveries.length <= MAX_DELIVERIES_PER_ORCHESTRATION && lanes.every((lane) => lane.items.length <= MAX_DELIVERIES_PER_BATCH)) {
    // Every lane fits in one batch: the batches run here, side by side, and list every outcome.
    const states = lanes.map((lane): LaneState => ({ window: lane.window, queue: lane.items.map((d) => stripped.get(d.deliveryId)!), retries: [] }));
    const run = yield* deliverInBatches(context, common, states, { listAll: true, planned: plan.deliveries.length });
    const order = new Map(plan.deliveries.map((d, index) => [d.deliveryId, index]));
    summary = summarize(input.ref, plan.deliveries.length, [...run.outcomes].sort((a, b) => order.get(a.deliveryId)! - order.get(b.deliveryId)!));
  } else {
    // Lanes (sub-orchestrations), one per endpoint (or group of whole endpoints), each running its batches one after
    // another: the next batch of an endpoint never waits for another endpoint. Re-yielding already scheduled tasks
    // inside a new Task.any would make the extension schedule them again (durable-functions v3's legacy protocol has
    // no task ids: Azure/azure-functions-durable-js#574), so nothing here races tasks: one Task.all over the lanes.
    setProgress(context, { phase: 'delivering', planned: plan.deliveries.length, completed: 0, counts: {} });
    const parts = lanes.map((lane, index) =>
      context.df.callSubOrchestrator(
        ORCHESTRATIONS.relayPart,
        {
          ref: input.ref,
          cause: input.cause,
          deliveries: lane.items.map((d) => stripped.get(d.deliveryId)!),
          limits: plan.limits,
          window: lane.window,
          ...(source ? { source } : {}),
        } satisfies RelayPartInput,
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
 * One lane of a relay: the deliveries of the endpoints it owns, in batches (`deliverBatch`) one after another, each
 * with at most the lane's window in flight. Transient failures come back from the batch and are retried in a later
 * batch once their back-off (the delivery retry policy) has passed; outcomes a delivery could not audit itself are
 * appended beside the next batch (off the critical path), the last ones at the end. After
 * `LANE_BATCHES_PER_EXECUTION` batches the lane continues as new with the rest (carrying its tally and pending
 * retries), so its history stays bounded. Returns counts and the failed outcomes.
 */
export function* relayPart(context: OrchestrationContext): Generator<df.Task, RelayPartSummary | undefined, unknown> {
  const input = context.df.getInput<RelayPartInput>();
  const carried = input.carried;
  const planned = (carried?.planned ?? 0) + input.deliveries.length + (input.retries?.length ?? 0);
  const lane: LaneState = { window: input.window ?? input.limits.maxPerEndpoint, queue: [...input.deliveries], retries: [...(input.retries ?? [])] };
  const common: BatchCommon = { ref: input.ref, cause: input.cause, maxPerEndpoint: input.limits.maxPerEndpoint, ...(input.source ? { source: input.source } : {}) };
  const run = yield* deliverInBatches(context, common, [lane], {
    listAll: false,
    planned,
    maxBatches: LANE_BATCHES_PER_EXECUTION,
    ...(carried ? { carried: { counts: carried.counts, failures: carried.failures } } : {}),
  });
  const failures = run.outcomes.filter((outcome) => !isSuccess(outcome.status));
  const tally: RelayPartSummary = { planned: planned - lane.queue.length - lane.retries.length, counts: run.counts, failed: failures.length, failures };
  if (lane.queue.length > 0 || lane.retries.length > 0) {
    // `planned` of the carried tally: what the executions so far delivered; the next one adds the rest.
    context.df.continueAsNew({ ...input, deliveries: lane.queue, retries: lane.retries, carried: tally } satisfies RelayPartInput);
    return undefined;
  }
  return { ...tally, planned };
}

/** What every batch of one relay shares. */
interface BatchCommon {
  readonly ref: RelayInput['ref'];
  readonly cause: RelayInput['cause'];
  readonly maxPerEndpoint: number;
  readonly source?: SourceVersionFacts;
}

/** A lane while it runs: its window, the deliveries not yet attempted, those waiting for their next attempt. */
interface LaneState {
  readonly window: number;
  queue: RelayDelivery[];
  retries: PendingRetry[];
}

/**
 * Runs the lanes' batches: each step schedules the next batch of every lane that has one ready (its retries that
 * are due first, then its queue) beside the audit of what earlier batches could not audit, and waits for them
 * (`Task.all`; never a race of already scheduled tasks). A lane with only retries that are not due yet waits on a
 * durable timer. A transient failure is retried after `deliveryRetryOptions`' back-off and becomes a
 * `retries-exhausted` outcome after its last attempt; a batch that fails as a whole after its own retries makes every
 * delivery in it `retries-exhausted`. Stops after `maxBatches` steps (the lane continues as new), leaving the rest in
 * the lane states. An audit append that keeps failing fails the orchestration (fail-closed).
 */
function* deliverInBatches(
  context: OrchestrationContext,
  common: BatchCommon,
  lanes: LaneState[],
  options: {
    readonly listAll: boolean;
    readonly planned: number;
    readonly maxBatches?: number;
    readonly carried?: { readonly counts: Partial<Record<DeliveryStatus, number>>; readonly failures: readonly DeliveryResult[] };
  },
): Generator<df.Task, { counts: Partial<Record<DeliveryStatus, number>>; outcomes: DeliveryResult[] }, unknown> {
  const counts: Partial<Record<DeliveryStatus, number>> = { ...options.carried?.counts };
  const outcomes: DeliveryResult[] = [...(options.carried?.failures ?? [])];
  const { planned } = options;
  let completed = Object.values(counts).reduce((sum, n) => sum + (n ?? 0), 0);
  let failed = outcomes.filter((outcome) => !isSuccess(outcome.status)).length;
  let unaudited: DeliveryResult[] = [];
  const record = (outcome: DeliveryResult, counted: boolean) => {
    if (!counted) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
    if (!counted) completed += 1;
    if (!isSuccess(outcome.status)) failed += 1;
    if (options.listAll || !isSuccess(outcome.status)) outcomes.push(outcome);
    if (outcome.audited !== true) unaudited.push(outcome);
  };
  setProgress(context, { phase: 'delivering', planned, completed, counts, failed });

  for (let steps = 0; options.maxBatches === undefined || steps < options.maxBatches; ) {
    if (!lanes.some((lane) => lane.queue.length > 0 || lane.retries.length > 0)) break;
    const now = context.df.currentUtcDateTime.getTime();
    const ready: { lane: LaneState; batch: RelayDelivery[]; attempts: Map<string, number> }[] = [];
    for (const lane of lanes) {
      const due = lane.retries.filter((r) => Date.parse(r.dueAt) <= now);
      const { batch, rest } = nextBatch(due.map((r) => r.delivery), lane.queue, MAX_DELIVERIES_PER_BATCH);
      if (batch.length === 0) continue;
      const taken = new Set(batch.map((d) => d.deliveryId));
      const attempts = new Map(due.filter((r) => taken.has(r.delivery.deliveryId)).map((r) => [r.delivery.deliveryId, r.attempts] as const));
      lane.queue = rest;
      lane.retries = lane.retries.filter((r) => !taken.has(r.delivery.deliveryId));
      ready.push({ lane, batch, attempts });
    }
    if (ready.length === 0) {
      // Only retries that are not due yet: wait for the first of them.
      const next = Math.min(...lanes.flatMap((lane) => lane.retries.map((r) => Date.parse(r.dueAt))));
      yield context.df.createTimer(new Date(next));
      continue;
    }
    steps += 1;
    const tasks = ready.map(({ lane, batch }) =>
      context.df.callActivityWithRetry(ACTIVITIES.deliverBatch, activityRetryOptions(), {
        ref: common.ref,
        cause: common.cause,
        instanceId: context.df.instanceId,
        deliveries: batch,
        ...(common.source ? { source: common.source } : {}),
        window: lane.window,
        maxPerEndpoint: common.maxPerEndpoint,
        ...(options.listAll ? { listAll: true } : {}),
      } satisfies DeliverBatchInput),
    );
    const audit = unaudited.length > 0 ? appendAuditTask(context, auditEntries(context, common, unaudited)) : undefined;
    unaudited = [];
    try {
      yield context.df.Task.all(audit ? [...tasks, audit] : tasks);
    } catch {
      // Task.all fails fast; each task is collected below on its own.
    }
    // Re-yielding an already scheduled task adds no action: it returns its result, throws its error, or waits.
    if (audit) yield audit;
    for (const [index, task] of tasks.entries()) {
      const { lane, batch, attempts } = ready[index]!;
      let result: DeliverBatchResult;
      try {
        result = (yield task) as DeliverBatchResult;
      } catch (error) {
        // The batch failed as a whole on every attempt (its host kept dying, or a bug): none of it is known.
        for (const delivery of batch) record(exhaustedResult(delivery, `deliverBatch: ${failureMessage(error)}`), false);
        continue;
      }
      for (const [status, n] of Object.entries(result.counts) as [DeliveryStatus, number][]) {
        counts[status] = (counts[status] ?? 0) + n;
        completed += n;
      }
      for (const outcome of result.outcomes) record(withHint(outcome), true);
      const byId = new Map(batch.map((d) => [d.deliveryId, d] as const));
      const failedAt = context.df.currentUtcDateTime.getTime();
      for (const { deliveryId, message } of result.retry) {
        const delivery = byId.get(deliveryId);
        if (!delivery) continue;
        const made = (attempts.get(deliveryId) ?? 0) + 1;
        const delayInMs = retryDelayInMs(deliveryRetryOptions(), made);
        if (delayInMs === undefined) record(exhaustedResult(delivery, message), false);
        else lane.retries.push({ delivery, attempts: made, dueAt: new Date(failedAt + delayInMs).toISOString(), message });
      }
      const notStarted = new Set(result.notStarted);
      const back = batch.filter((d) => notStarted.has(d.deliveryId));
      // Not started: no attempt used. Retries among them keep their count and are due at once.
      for (const delivery of back) {
        const made = attempts.get(delivery.deliveryId);
        if (made === undefined) continue;
        lane.retries.push({ delivery, attempts: made, dueAt: new Date(failedAt).toISOString(), message: 'not started' });
      }
      lane.queue = [...back.filter((d) => !attempts.has(d.deliveryId)), ...lane.queue];
    }
    setProgress(context, { phase: 'delivering', planned, completed, counts, failed });
  }
  // Deliveries audit their own outcome the moment it is known; only those that could not (retries exhausted, or
  // the audit store failed right after the write) are appended here.
  if (unaudited.length > 0) {
    setProgress(context, { phase: 'auditing', planned, completed, counts, failed });
    for (const batch of chunk(unaudited, AUDIT_BATCH)) yield* appendAudit(context, auditEntries(context, common, batch));
  }
  return { counts, outcomes };
}

function auditEntries(context: OrchestrationContext, common: BatchCommon, outcomes: readonly DeliveryResult[]): AuditEntry[] {
  const at = context.df.currentUtcDateTime.toISOString();
  return outcomes.map((outcome) => auditEntryOf(context, common, outcome, at));
}

/**
 * The deliveries without their source facts, and the facts once, when every delivery carries the same (one relay is
 * one source version): a smaller history for every batch and lane. Deliveries whose facts differ keep them.
 */
function hoistSource(deliveries: readonly RelayDelivery[]): { deliveries: RelayDelivery[]; source?: SourceVersionFacts } {
  const first = deliveries[0]?.source;
  if (!first) return { deliveries: [...deliveries] };
  const text = JSON.stringify(first);
  if (!deliveries.every((d) => d.source !== undefined && JSON.stringify(d.source) === text)) return { deliveries: [...deliveries] };
  return { deliveries: deliveries.map(({ source: _source, ...rest }) => rest), source: first };
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
 * A delivery whose transient failures outlasted the retry policy, from its last error message. The activity prefixes
 * its error message with the status (class identity does not survive the activity boundary).
 */
function exhaustedResult(delivery: RelayDelivery, text: string): DeliveryResult {
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
