import type { Attributes } from '@opentelemetry/api';
import { instruments } from './metrics.js';
import { inRelaySpan, recordRelaySpan, type SpanOutcome } from './tracing.js';

/**
 * Where the relay reports what it did: metrics and spans. Attributes are statuses, kinds, config ids and endpoint
 * hosts only: never a value, a fingerprint or a key. The default {@link otelTelemetry} records through the global
 * OpenTelemetry API (no-ops until a provider is registered: Azure Monitor in the worker, Prometheus locally).
 */
export interface RelayTelemetry {
  /** One delivery outcome (a value the activity returned, or retries exhausted), counted once. */
  delivery(outcome: { readonly status: string; readonly targetKind: string; readonly targetId: string }): void;
  /** How long one delivery attempt took, with its status (a thrown attempt: the status its error starts with). */
  deliveryDuration(seconds: number, attributes: { readonly status: string; readonly targetKind: string }): void;
  /** A relay is done: seconds from the source version's creation to its last delivery. */
  converged(seconds: number, attributes: { readonly sourceId: string; readonly ok: boolean }): void;
  /** One reconciliation finding. */
  drift(kind: string): void;
  /** One finished rotation. */
  rotation(status: string): void;
  /** One 429 waited out on the backoff ladder. */
  throttled(endpoint: string): void;
  /** One reconciliation run wrote its report. */
  reconciliation(outcome: 'clean' | 'drift' | 'check-failed'): void;
  /** Runs one unit of a relay's work in a span of the relay's trace. */
  span<T>(
    name: string,
    relayInstanceId: string,
    attributes: Attributes,
    fn: () => Promise<T>,
    outcomeOf: (result: T) => SpanOutcome,
    statusOf: (error: unknown) => string,
  ): Promise<T>;
  /** Records a finished relay's own span. */
  relaySpan(relayInstanceId: string, startTime: Date, endTime: Date, attributes: Attributes, failed: boolean): void;
}

/** The telemetry port over the global OpenTelemetry API. */
export const otelTelemetry: RelayTelemetry = {
  delivery: ({ status, targetKind, targetId }) => instruments().deliveries.add(1, { status, target_kind: targetKind, target_id: targetId }),
  deliveryDuration: (seconds, { status, targetKind }) =>
    instruments().deliveryDuration.record(Math.max(0, seconds), { status, target_kind: targetKind }),
  converged: (seconds, { sourceId, ok }) => instruments().eventToConverged.record(Math.max(0, seconds), { source_id: sourceId, ok }),
  drift: (kind) => instruments().drift.add(1, { kind }),
  rotation: (status) => instruments().rotations.add(1, { status }),
  throttled: (endpoint) => instruments().throttled.add(1, { endpoint }),
  reconciliation: (outcome) => instruments().reconciliations.add(1, { outcome }),
  span: inRelaySpan,
  relaySpan: recordRelaySpan,
};
