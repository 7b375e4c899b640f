import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { DeliveryStatus } from '../domain/statuses.js';
import { isSuccess } from '../domain/statuses.js';
import { ACTIVITIES, MAX_DELIVERIES_PER_ORCHESTRATION, ORCHESTRATIONS } from './names.js';
import { chunk, limitsPerPart, planWaves } from './waves.js';
import type {
  AuditEntry,
  DeliveryResult,
  RelayDelivery,
  RelayInput,
  RelayPartInput,
  RelayPlan,
  RelayProgress,
  RelaySummary,
} from './types.js';

/**
 * Retry policy for transient delivery failures (5xx, network, throttling beyond the in-activity ladder): the
 * activity has already backed off for ~31 s on 429s, so the orchestration waits longer between attempts.
 */
export function deliveryRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 3;
  options.maxRetryIntervalInMilliseconds = 120_000;
  return options;
}

const AUDIT_BATCH = 100;

/**
 * Relays one source version to every target routed to it: plan → bounded fan-out → audit → summary.
 * Instance id `relay:{source}:{name}:{version}` (see `relayInstanceId`). Deterministic: no clock, no I/O.
 */
export function* relaySecretVersion(context: OrchestrationContext): Generator<df.Task, RelaySummary, unknown> {
  const input = context.df.getInput<RelayInput>();
  setProgress(context, { phase: 'planning', planned: 0, completed: 0, counts: {} });
  const plan = (yield context.df.callActivity(ACTIVITIES.planRelay, input)) as RelayPlan;

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
    yield context.df.callActivity(ACTIVITIES.appendAudit, [entry]);
    setProgress(context, { phase: 'done', planned: 0, completed: 0, counts: {} });
    return { ref: input.ref, planned: 0, outcomes: [], counts: {}, ok: false, rejected: plan.rejected };
  }

  let outcomes: DeliveryResult[];
  if (plan.deliveries.length <= MAX_DELIVERIES_PER_ORCHESTRATION) {
    outcomes = yield* deliverAndAudit(context, {
      ref: input.ref,
      cause: input.cause,
      deliveries: plan.deliveries,
      limits: plan.limits,
    });
  } else {
    // Large fan-outs split into parts so that no single history grows past a few hundred tasks.
    setProgress(context, { phase: 'delivering', planned: plan.deliveries.length, completed: 0, counts: {} });
    const chunks = chunk(plan.deliveries, MAX_DELIVERIES_PER_ORCHESTRATION);
    // Parts run at the same time: each gets its share of the limits, so an endpoint never sees more than allowed.
    const limits = limitsPerPart(plan.limits, chunks.length);
    const parts = chunks.map((deliveries, index) =>
      context.df.callSubOrchestrator(
        ORCHESTRATIONS.relayPart,
        { ref: input.ref, cause: input.cause, deliveries, limits } satisfies RelayPartInput,
        `${context.df.instanceId}:part-${index}`,
      ),
    );
    const results = (yield context.df.Task.all(parts)) as DeliveryResult[][];
    outcomes = results.flat();
  }

  const summary = summarize(input.ref, plan.deliveries.length, outcomes);
  setProgress(context, { phase: 'done', planned: summary.planned, completed: outcomes.length, counts: summary.counts });
  return summary;
}

/** One part of a large relay: delivers and audits its share. Returns the outcomes. */
export function* relayPart(context: OrchestrationContext): Generator<df.Task, DeliveryResult[], unknown> {
  const input = context.df.getInput<RelayPartInput>();
  return yield* deliverAndAudit(context, input);
}

function* deliverAndAudit(
  context: OrchestrationContext,
  input: RelayPartInput,
): Generator<df.Task, DeliveryResult[], unknown> {
  const outcomes: DeliveryResult[] = [];
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  const planned = input.deliveries.length;
  setProgress(context, { phase: 'delivering', planned, completed: 0, counts });

  for (const wave of planWaves(input.deliveries, input.limits)) {
    const tasks = wave.map((delivery) =>
      context.df.callActivityWithRetry(ACTIVITIES.deliverSecret, deliveryRetryOptions(), {
        ref: input.ref,
        delivery,
        cause: input.cause,
      }),
    );
    try {
      yield context.df.Task.all(tasks);
    } catch {
      // Task.all fails fast on the first exhausted retry; each task is collected below on its own.
    }
    for (const [index, task] of tasks.entries()) {
      const delivery = wave[index] as RelayDelivery;
      let result: DeliveryResult;
      try {
        // Re-yielding an already scheduled task adds no action: it returns its result or waits for it.
        result = (yield task) as DeliveryResult;
      } catch (error) {
        result = exhaustedResult(delivery, error);
      }
      outcomes.push(result);
      counts[result.status] = (counts[result.status] ?? 0) + 1;
    }
    setProgress(context, { phase: 'delivering', planned, completed: outcomes.length, counts });
  }

  setProgress(context, { phase: 'auditing', planned, completed: outcomes.length, counts });
  // Typed by assertion: a union of 2 actions × every delivery status is more than TypeScript enumerates (25).
  const entries = outcomes.map((outcome) => ({
    // An adoption is audited as its own action: the relay took over something it did not own.
    action: outcome.status === 'Adopted' ? 'adopt' : 'deliver',
    status: outcome.status,
    cause: input.cause,
    instanceId: context.df.instanceId,
    at: context.df.currentUtcDateTime.toISOString(),
    ref: input.ref,
    target: { id: outcome.targetId, kind: outcome.kind, location: outcome.location },
    reason: outcome.reason,
    ...(outcome.message !== undefined ? { message: outcome.message } : {}),
    ...(outcome.fingerprint !== undefined ? { fingerprint: outcome.fingerprint } : {}),
  }) as AuditEntry);
  for (const batch of chunk(entries, AUDIT_BATCH)) {
    yield context.df.callActivity(ACTIVITIES.appendAudit, batch);
  }
  return outcomes;
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
  };
}

function summarize(ref: RelayInput['ref'], planned: number, outcomes: readonly DeliveryResult[]): RelaySummary {
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  return { ref, planned, outcomes, counts, ok: outcomes.every((outcome) => isSuccess(outcome.status)) };
}

function setProgress(context: OrchestrationContext, progress: RelayProgress): void {
  context.df.setCustomStatus(progress);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
