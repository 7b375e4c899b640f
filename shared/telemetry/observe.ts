import type * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { relayIdOf } from './tracing.js';
import type { RelayTelemetry } from './port.js';

// Structural views of the activity and orchestration shapes (shared/orchestrations/types.ts), so this folder
// depends on nothing of the relay's own code.
interface DeliveryInputView {
  readonly ref: { readonly sourceId: string; readonly name: string; readonly version: string };
  readonly delivery: { readonly deliveryId: string; readonly targetId: string; readonly kind: string };
  readonly cause: { readonly trigger: string; readonly eventId?: string };
  readonly instanceId?: string;
}
interface DeliveryResultView {
  readonly status: string;
  readonly kind: string;
  readonly targetId: string;
  readonly reason: string;
}
interface RelaySummaryView {
  readonly ref: { readonly sourceId: string };
  readonly planned: number;
  readonly failed: number;
  readonly outcomes: readonly DeliveryResultView[];
  readonly rejected?: unknown;
  /** ISO time the relayed source version was created (from the plan). */
  readonly sourceCreatedOn?: string;
}

const isFailure = (status: string) => status.startsWith('Failed');

/** The status a transient failure's message starts with (activities prefix it; class identity does not survive). */
export function statusOfError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return /^(Failed[A-Za-z]+):/.exec(text)?.[1] ?? 'FailedUnavailable';
}

/**
 * Wraps the delivery activity: a span per delivery in the relay's trace (with the triggering event id), the
 * outcome counted by status and target, and each attempt's duration. A thrown (retried) attempt is timed but not
 * counted: its final outcome is, by the activity's next attempt or by the relay when retries run out.
 */
export function observeDelivery<I extends DeliveryInputView, R extends DeliveryResultView>(
  telemetry: RelayTelemetry,
  deliver: (input: I) => Promise<R>,
  now: () => number = () => performance.now(),
): (input: I) => Promise<R> {
  return async (input) => {
    const startedAt = now();
    const targetKind = input.delivery.kind;
    const elapsed = () => (now() - startedAt) / 1000;
    return telemetry.span(
      'deliver',
      input.instanceId ?? `relay:${input.ref.sourceId}:${input.ref.name}:${input.ref.version}`,
      {
        'secret_relay.delivery_id': input.delivery.deliveryId,
        'secret_relay.target_id': input.delivery.targetId,
        'secret_relay.target_kind': targetKind,
        'secret_relay.source_id': input.ref.sourceId,
        'secret_relay.trigger': input.cause.trigger,
        ...(input.cause.eventId ? { 'secret_relay.event_id': input.cause.eventId } : {}),
        ...(input.instanceId ? { 'secret_relay.relay_id': relayIdOf(input.instanceId) } : {}),
      },
      async () => {
        try {
          const result = await deliver(input);
          telemetry.delivery({ status: result.status, targetKind: result.kind, targetId: result.targetId });
          telemetry.deliveryDuration(elapsed(), { status: result.status, targetKind: result.kind });
          return result;
        } catch (error) {
          telemetry.deliveryDuration(elapsed(), { status: statusOfError(error), targetKind });
          throw error;
        }
      },
      (result) => ({ status: result.status, failed: isFailure(result.status), attributes: { 'secret_relay.reason': result.reason } }),
      statusOfError,
    );
  };
}

/** Wraps the drift check activity: every finding counted by its drift kind (`check-failed` included). */
export function observeDriftCheck<I, R extends { readonly findings: readonly { readonly drift: string }[] }>(
  telemetry: RelayTelemetry,
  check: (item: I) => Promise<R>,
): (item: I) => Promise<R> {
  return async (item) => {
    const result = await check(item);
    for (const finding of result.findings) telemetry.drift(finding.drift);
    return result;
  };
}

/** Wraps the report writer: a written drift report is a completed reconciliation run. */
export function observeReconcileReport<R extends { readonly checkFailed: number; readonly drift: readonly unknown[] }>(
  telemetry: RelayTelemetry,
  write: (report: R) => Promise<string>,
): (report: R) => Promise<string> {
  return async (report) => {
    const blob = await write(report);
    telemetry.reconciliation(report.checkFailed > 0 ? 'check-failed' : report.drift.length > 0 ? 'drift' : 'clean');
    return blob;
  };
}

type Orchestrator<T> = (context: OrchestrationContext) => Generator<df.Task, T, unknown>;

/**
 * Wraps the relay orchestration: when it is done (never while replaying, so each relay is recorded once, by the
 * episode that finished it), records the time from the source version's creation to now (the durable clock at
 * the last completion), the deliveries whose retries ran out (the activity could not count them), and the
 * relay's own span.
 */
export function observeRelay<T extends RelaySummaryView>(telemetry: RelayTelemetry, orchestrator: Orchestrator<T>): Orchestrator<T> {
  return function* observedRelay(context) {
    const startedAt = context.df.currentUtcDateTime;
    const summary = yield* orchestrator(context);
    if (context.df.isReplaying) return summary;
    const doneAt = context.df.currentUtcDateTime;
    const input = context.df.getInput<{ cause?: { trigger?: string; eventId?: string } } | undefined>();
    for (const outcome of summary.outcomes) {
      if (outcome.reason === 'retries-exhausted') telemetry.delivery({ status: outcome.status, targetKind: outcome.kind, targetId: outcome.targetId });
    }
    const createdOn = summary.sourceCreatedOn ? Date.parse(summary.sourceCreatedOn) : NaN;
    if (summary.planned > 0 && Number.isFinite(createdOn)) {
      telemetry.converged((doneAt.getTime() - createdOn) / 1000, { sourceId: summary.ref.sourceId, ok: summary.failed === 0 });
    }
    telemetry.relaySpan(
      context.df.instanceId,
      startedAt,
      doneAt,
      {
        'secret_relay.relay_id': context.df.instanceId,
        'secret_relay.source_id': summary.ref.sourceId,
        'secret_relay.planned': summary.planned,
        'secret_relay.failed': summary.failed,
        ...(input?.cause?.trigger ? { 'secret_relay.trigger': input.cause.trigger } : {}),
        ...(input?.cause?.eventId ? { 'secret_relay.event_id': input.cause.eventId } : {}),
      },
      summary.failed > 0 || summary.rejected !== undefined,
    );
    return summary;
  };
}

/** Wraps a rotation orchestration: its final status counted once (never while replaying). */
export function observeRotation<T>(telemetry: RelayTelemetry, orchestrator: Orchestrator<T>, statusOf: (output: T) => string): Orchestrator<T> {
  return function* observedRotation(context) {
    const output = yield* orchestrator(context);
    if (!context.df.isReplaying) telemetry.rotation(statusOf(output));
    return output;
  };
}
