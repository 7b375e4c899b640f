import { createHash } from 'node:crypto';
import { context, trace, SpanStatusCode, TraceFlags, type Attributes, type Context, type SpanContext } from '@opentelemetry/api';

/** The tracer every relay span comes from. */
export const TRACER_NAME = 'secret-relay';

/** A relay part (`relay:…:part-3`) belongs to its relay's trace. */
export function relayIdOf(instanceId: string): string {
  return instanceId.replace(/:part-\d+$/, '');
}

/**
 * The trace of one relay: its trace id and parent span id are derived from the relay's (deterministic) instance id,
 * so every delivery activity, in whatever process or host instance it runs, and the relay's own span join one trace
 * without carrying a trace context through Durable history.
 */
export function relayTraceContext(relayInstanceId: string): SpanContext {
  const digest = createHash('sha256').update(`secret-relay/trace/${relayIdOf(relayInstanceId)}`).digest('hex');
  return { traceId: digest.slice(0, 32), spanId: digest.slice(32, 48), traceFlags: TraceFlags.SAMPLED, isRemote: true };
}

function relayContext(relayInstanceId: string): Context {
  return trace.setSpanContext(context.active(), relayTraceContext(relayInstanceId));
}

/** What a span reports when its work ends: a named status, and whether it is a failure. */
export interface SpanOutcome {
  readonly status: string;
  readonly failed: boolean;
  readonly attributes?: Attributes;
}

/**
 * Runs `fn` inside a span of the relay's trace; `outcomeOf` names the result. A thrown error ends the span as an
 * error with `statusOf(error)` (the status the activity put first in its message) and is rethrown unchanged.
 */
export async function inRelaySpan<T>(
  name: string,
  relayInstanceId: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  outcomeOf: (result: T) => SpanOutcome,
  statusOf: (error: unknown) => string,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  return tracer.startActiveSpan(name, { attributes }, relayContext(relayInstanceId), async (span) => {
    try {
      const result = await fn();
      const outcome = outcomeOf(result);
      span.setAttributes({ 'secret_relay.status': outcome.status, ...outcome.attributes });
      span.setStatus(outcome.failed ? { code: SpanStatusCode.ERROR, message: outcome.status } : { code: SpanStatusCode.OK });
      return result;
    } catch (error) {
      const status = statusOf(error);
      span.setAttributes({ 'secret_relay.status': status, 'secret_relay.retrying': true });
      // The status only: an error message can name a location, never a value, but the span keeps it short.
      span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Records a finished relay as one span of its trace, from the relay's start to its last delivery. */
export function recordRelaySpan(relayInstanceId: string, startTime: Date, endTime: Date, attributes: Attributes, failed: boolean): void {
  const span = trace.getTracer(TRACER_NAME).startSpan('relay', { startTime, attributes }, relayContext(relayInstanceId));
  span.setStatus(failed ? { code: SpanStatusCode.ERROR, message: 'failed deliveries' } : { code: SpanStatusCode.OK });
  span.end(endTime);
}
