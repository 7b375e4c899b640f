import { createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RelayDelivery, RelayInput, RelayPlan, RotateInput } from '../../../shared/orchestrations/types.js';
import { withBackoff } from '../../../shared/targets/backoff.js';
import { METRIC_NAMES, observeDelivery, otelTelemetry, relayTraceContext } from '../../../shared/telemetry/index.js';
import { OrchestrationSpec } from '../../orchestrations/specHarness.js';
import { recordTelemetry, type Recorded } from './support.js';

// The relay's metrics and spans through the real OpenTelemetry SDK (a pull reader, an in-memory span exporter),
// and the orchestrations' records through the real durable-functions replay code: each relay and rotation is
// recorded once, however many episodes replay it.

let recorded: Recorded;
beforeEach(() => {
  recorded = recordTelemetry();
});
afterEach(async () => {
  await recorded.close();
});
beforeAll(async () => {
  await import('../../../functions/relaySecretVersion.js');
  await import('../../../functions/relayPart.js');
  await import('../../../functions/rotateCredential.js');
});

const VERSION = '0123456789abcdef0123456789abcdef';
const REF = { sourceId: 'platform', vaultUrl: 'https://platform.vault.azure.net', name: 'db-password', version: VERSION };
const CAUSE = { actor: { kind: 'event', id: 'platform' }, eventId: 'evt-42', trigger: 'event' } as const;
const RELAY_ID = `relay:platform:db-password:${VERSION}`;
const VALUE = 'hunter2-correct-horse-battery';

function delivery(targetId: string, kind: 'keyVault' | 'kubernetes' = 'keyVault'): RelayDelivery {
  return {
    deliveryId: `db/${targetId}/db-password`,
    routeId: 'db',
    targetId,
    kind,
    endpoint: `${targetId}.example`,
    placement: { name: 'db-password' },
    policy: { adopt: false, recoverDeleted: true, versionsToKeep: 1 },
  };
}

function outcome(d: RelayDelivery, status: string, reason = 'absent') {
  return { deliveryId: d.deliveryId, routeId: d.routeId, targetId: d.targetId, kind: d.kind, location: `${d.endpoint}/db-password`, status, reason, audited: true } as const;
}

describe('the delivery activity', () => {
  it('counts each outcome by status and target, times every attempt, and puts each delivery in its relay\'s trace with the event id', async () => {
    const contoso = delivery('contoso');
    const edge = delivery('edge-1-apps', 'kubernetes');
    let attempts = 0;
    const deliver = observeDelivery(otelTelemetry, async (input: { ref: typeof REF; delivery: RelayDelivery; cause: typeof CAUSE; instanceId?: string }) => {
      if (input.delivery.targetId === 'contoso') return outcome(input.delivery, 'Updated', 'older-version');
      attempts++;
      // The value passes through the activity but never reaches a record.
      if (attempts === 1) throw new Error(`FailedThrottled: 429 on edge-1 (value ${VALUE.length} chars)`);
      return outcome(input.delivery, 'FailedAccessDenied', 'forbidden');
    });
    await deliver({ ref: REF, delivery: contoso, cause: CAUSE, instanceId: RELAY_ID });
    await expect(deliver({ ref: REF, delivery: edge, cause: CAUSE, instanceId: `${RELAY_ID}:part-1` })).rejects.toThrow(/^FailedThrottled/);
    await deliver({ ref: REF, delivery: edge, cause: CAUSE, instanceId: `${RELAY_ID}:part-1` });

    expect(await recorded.counter(METRIC_NAMES.deliveries, { status: 'Updated', target_kind: 'keyVault', target_id: 'contoso' })).toBe(1);
    expect(await recorded.counter(METRIC_NAMES.deliveries, { status: 'FailedAccessDenied', target_kind: 'kubernetes', target_id: 'edge-1-apps' })).toBe(1);
    // The thrown attempt is retried by the orchestration: timed, not counted as an outcome.
    expect(await recorded.counter(METRIC_NAMES.deliveries)).toBe(2);
    expect((await recorded.histogram(METRIC_NAMES.deliveryDuration)).count).toBe(3);
    expect((await recorded.histogram(METRIC_NAMES.deliveryDuration, { status: 'FailedThrottled', target_kind: 'kubernetes' })).count).toBe(1);

    const spans = recorded.spans();
    expect(spans.map((s) => s.name)).toEqual(['deliver', 'deliver', 'deliver']);
    // One trace per relay, its parts included.
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([relayTraceContext(RELAY_ID).traceId]));
    for (const span of spans) {
      expect(span.attributes['secret_relay.event_id']).toBe('evt-42');
      expect(span.attributes['secret_relay.relay_id']).toBe(RELAY_ID);
    }
    expect(spans.map((s) => [s.attributes['secret_relay.target_id'], s.attributes['secret_relay.status'], s.status.code])).toEqual([
      ['contoso', 'Updated', SpanStatusCode.OK],
      ['edge-1-apps', 'FailedThrottled', SpanStatusCode.ERROR],
      ['edge-1-apps', 'FailedAccessDenied', SpanStatusCode.ERROR],
    ]);
    expect(await recorded.attributeText()).not.toContain(VALUE);
  });
});

describe('the throttling ladder', () => {
  it('counts each 429 waited out by the endpoint host the request went to; other retried answers are not throttling', async () => {
    const throttled = new RestError('Too many requests', { statusCode: 429, request: createPipelineRequest({ url: 'https://contoso.vault.azure.net/secrets/x?api-version=2026-04-01' }) });
    const busy = new RestError('Conflict', { statusCode: 409, request: createPipelineRequest({ url: 'https://contoso.vault.azure.net/secrets/x' }) });
    const answers: unknown[] = [throttled, busy, throttled];
    const result = await withBackoff(
      async () => {
        const next = answers.shift();
        if (next) throw next;
        return 'ok';
      },
      () => ({}),
      { sleep: async () => undefined },
    );
    expect(result).toBe('ok');
    expect(await recorded.counter(METRIC_NAMES.throttled, { endpoint: 'contoso.vault.azure.net' })).toBe(2);
    expect(await recorded.counter(METRIC_NAMES.throttled)).toBe(2);

    // A caller that knows its endpoint (a cluster) names it.
    const k8s = Object.assign(new Error('Too Many Requests'), { code: 429 });
    let first = true;
    await withBackoff(async () => {
      if (first) {
        first = false;
        throw k8s;
      }
      return 1;
    }, () => ({}), { sleep: async () => undefined, endpoint: 'edge-1' });
    expect(await recorded.counter(METRIC_NAMES.throttled, { endpoint: 'edge-1' })).toBe(1);
  });
});

describe('orchestrations record once per run, however many episodes replay them', () => {
  it('a relay: event-to-converged from the source version\'s creation, the deliveries whose retries ran out, one relay span, one summary line', async () => {
    const contoso = delivery('contoso');
    const fabrikam = delivery('fabrikam');
    const start = new Date('2026-12-01T10:00:00Z');
    const plan: RelayPlan = {
      deliveries: [contoso, fabrikam],
      limits: { maxConcurrent: 10, maxPerEndpoint: 4 },
      sourceCreatedOn: new Date(start.getTime() - 3_000).toISOString(),
    };
    const input: RelayInput = { ref: REF, cause: CAUSE };
    const spec = new OrchestrationSpec('relaySecretVersion', input, RELAY_ID, start);
    await spec.episode();
    spec.complete(0, plan);
    await spec.episode();
    // One batch per endpoint; fabrikam's delivery fails transiently on each of its 4 attempts (retried after timers).
    const [toContoso, toFabrikam] = spec.activities();
    spec.complete(toContoso!.taskId, { counts: { Created: 1 }, outcomes: [outcome(contoso, 'Created')], retry: [], notStarted: [] });
    const transient = { counts: {}, outcomes: [], retry: [{ deliveryId: fabrikam.deliveryId, message: 'FailedUnavailable: deliver on fabrikam.example/db-password: 503' }], notStarted: [] };
    spec.complete(toFabrikam!.taskId, transient);
    for (let attempt = 2; attempt <= 4; attempt++) {
      await spec.episode();
      spec.fireTimer(spec.timers()[0]!.taskId);
      await spec.episode();
      spec.complete(spec.activities()[0]!.taskId, transient);
    }
    await spec.episode();
    const [audit] = spec.activities();
    expect(audit!.name).toBe('appendAudit');
    spec.complete(audit!.taskId, 1);
    const done = await spec.episode();
    expect(done.kind).toBe('completed');
    // More than a dozen episodes replayed the relay's start; each record exists once.
    expect(spec.history.filter((e) => e.EventType === 12).length).toBeGreaterThan(8);

    const converged = await recorded.histogram(METRIC_NAMES.eventToConverged, { source_id: 'platform', ok: false });
    expect(converged.count).toBe(1);
    // Created 3 s before the relay started, done after the retry back-off (5 + 15 + 45 s).
    expect(converged.sum).toBeGreaterThanOrEqual(3 + 65);
    // The activity counts what it returns; the relay counts the delivery whose retries ran out.
    expect(await recorded.counter(METRIC_NAMES.deliveries, { status: 'FailedUnavailable', target_id: 'fabrikam' })).toBe(1);
    expect(await recorded.counter(METRIC_NAMES.deliveries)).toBe(1);

    const relaySpans = recorded.spans().filter((s) => s.name === 'relay');
    expect(relaySpans).toHaveLength(1);
    expect(relaySpans[0]!.spanContext().traceId).toBe(relayTraceContext(RELAY_ID).traceId);
    expect(relaySpans[0]!.attributes).toMatchObject({ 'secret_relay.event_id': 'evt-42', 'secret_relay.planned': 2, 'secret_relay.failed': 1 });
    expect(relaySpans[0]!.status.code).toBe(SpanStatusCode.ERROR);

    const summaries = spec.logs.filter((l) => l.message.startsWith(`relay ${RELAY_ID}: `));
    expect(summaries.map((l) => [l.level, l.message.split(';')[0]])).toEqual([['warning', `relay ${RELAY_ID}: 2 deliveries: 1 Created, 1 FailedUnavailable`]]);
  });

  it('a rotation: counted by its final status', async () => {
    const input: RotateInput = { sourceId: 'platform', name: 'db-password', cause: { actor: { kind: 'operator', id: 'ops' }, trigger: 'manual' } };
    const spec = new OrchestrationSpec('rotateCredential', input, 'rotate:platform:db-password:req-9');
    await spec.episode();
    spec.complete(0, { ok: true, rotator: 'generate' });
    await spec.episode();
    const [rotate] = spec.activities();
    expect(rotate!.name).toBe('rotateSourceSecret');
    spec.complete(rotate!.taskId, { ok: false, status: 'FailedAccessDenied', reason: 'access-denied', message: 'the relay may not set versions' });
    await spec.episode();
    const [audit] = spec.activities();
    spec.complete(audit!.taskId, 1);
    expect((await spec.episode()).kind).toBe('completed');
    expect(await recorded.counter(METRIC_NAMES.rotations, { status: 'FailedAccessDenied' })).toBe(1);
    expect(await recorded.counter(METRIC_NAMES.rotations)).toBe(1);
  });
});
