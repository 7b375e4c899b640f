import { beforeAll, describe, expect, it } from 'vitest';
import { STATUS_INFO } from '../../shared/domain/statuses.js';
import { LANE_BATCHES_PER_EXECUTION, MAX_DELIVERIES_PER_BATCH } from '../../shared/orchestrations/names.js';
import type {
  DeliverBatchInput,
  DeliverBatchResult,
  DeliveryResult,
  RelayDelivery,
  RelayInput,
  RelayPartInput,
  RelayPlan,
  RelaySummary,
  RotateInput,
} from '../../shared/orchestrations/types.js';
import { OrchestrationSpec, type ScheduledActivity } from './specHarness.js';

// Which activities each orchestration schedules, with which retry options, for hand-built histories; results are fed
// back as the host would. The orchestrations run on the real durable-functions replay code (local engine episodes).

beforeAll(async () => {
  await import('../../functions/relaySecretVersion.js');
  await import('../../functions/relayPart.js');
  await import('../../functions/rotateCredential.js');
});

const ACTIVITY_RETRY = { firstRetryIntervalInMilliseconds: 2_000, maxNumberOfAttempts: 6, backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 60_000 };
const DELIVERY_RETRY = { firstRetryIntervalInMilliseconds: 5_000, maxNumberOfAttempts: 4, backoffCoefficient: 3, maxRetryIntervalInMilliseconds: 120_000 };
const VERSION = '0123456789abcdef0123456789abcdef';
const REF = { sourceId: 'platform', vaultUrl: 'https://platform.vault.azure.net', name: 'db-password', version: VERSION };
const CAUSE = { actor: { kind: 'event', id: 'platform' }, eventId: 'evt-1', trigger: 'event' } as const;

function delivery(targetId: string, endpoint: string): RelayDelivery {
  return {
    deliveryId: `db/${targetId}/db-password`,
    routeId: 'db',
    targetId,
    kind: 'keyVault',
    endpoint,
    placement: { name: 'db-password' },
    policy: { adopt: false, recoverDeleted: true, versionsToKeep: 1 },
  };
}

function delivered(d: RelayDelivery, status: string, extra: Record<string, unknown> = {}) {
  return {
    deliveryId: d.deliveryId,
    routeId: d.routeId,
    targetId: d.targetId,
    kind: d.kind,
    location: `${d.endpoint}/db-password`,
    status,
    reason: status === 'Created' ? 'absent' : 'foreign',
    fingerprint: 'hmac-sha256:k1:abc',
    audited: true,
    ...extra,
  };
}

/** The source version's facts as the plan resolves them (never a value). */
const FACTS = { owner: 'platform.vault.azure.net/db-password', version: VERSION, createdOn: 1_764_000_000, isLatest: true, fingerprint: 'hmac-sha256:k1:abc' };

/** The target ids of a scheduled batch. */
const targetsOf = (a: ScheduledActivity) => (a.input as DeliverBatchInput).deliveries.map((d) => d.targetId);

/** What `deliverBatch` returns for these final outcomes (listed, as with `listAll`) and transient failures. */
function batchResult(outcomes: readonly ReturnType<typeof delivered>[], retry: DeliverBatchResult['retry'] = [], listAll = true): DeliverBatchResult {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  const listed = listAll ? outcomes : outcomes.filter((o) => o.status.startsWith('Failed') || o.audited !== true);
  return { counts, outcomes: listed as unknown as DeliveryResult[], retry, notStarted: [] };
}

/**
 * Fails the activity `taskId` on every remaining attempt (each failure is followed by the host's retry timer, as the
 * extension writes it, also after the last attempt). Returns the back-off delays seen.
 */
async function failEveryAttempt(spec: OrchestrationSpec, first: ScheduledActivity, attempts: number, message: string): Promise<number[]> {
  const delays: number[] = [];
  let current = first;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    spec.fail(current.taskId, current.name, message);
    const afterFailure = await spec.episode();
    expect(afterFailure.kind).toBe('running');
    // Only the retry timer: nothing else is scheduled while an attempt waits.
    expect(spec.activities()).toEqual([]);
    const [timer] = spec.timers();
    delays.push(timer!.delayInMs);
    spec.fireTimer(timer!.taskId);
    await spec.episode();
    if (attempt < attempts) {
      const [again] = spec.activities().filter((a) => a.name === current.name);
      expect(again?.input).toEqual(current.input);
      current = again!;
    }
  }
  return delays;
}

describe('relaySecretVersion', () => {
  const contoso = delivery('contoso', 'contoso.vault.azure.net');
  const fabrikam = delivery('fabrikam', 'fabrikam.vault.azure.net');
  const contoso2 = { ...delivery('contoso-2', 'contoso.vault.azure.net'), deliveryId: 'db/contoso-2/db-password', placement: { name: 'db-password-2' } };
  const plan: RelayPlan = { deliveries: [contoso, fabrikam, contoso2].map((d) => ({ ...d, source: FACTS })), limits: { maxConcurrent: 10, maxPerEndpoint: 2 } };
  const input: RelayInput = { ref: REF, cause: CAUSE };

  /** Plans, then returns the batches the relay scheduled for the plan. */
  async function planned(spec: OrchestrationSpec, relayPlan: RelayPlan = plan): Promise<ScheduledActivity[]> {
    expect((await spec.episode()).kind).toBe('running');
    expect(spec.activities()).toEqual([{ taskId: 0, name: 'planRelay', input, retryOptions: ACTIVITY_RETRY }]);
    spec.complete(0, relayPlan);
    await spec.episode();
    return spec.activities();
  }

  it('delivers a plan whose endpoints fit in one batch each in batches side by side (one per endpoint, within its window), and lists every outcome in plan order', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input, `relay:platform:db-password:${VERSION}`);
    const batches = await planned(spec);
    expect(spec.subOrchestrations()).toEqual([]);
    // One batch per endpoint, each with the batch's own retry policy (a host that died mid-batch); the windows (2 for
    // contoso's two deliveries, 1 for fabrikam's one) never exceed the per-endpoint bound.
    expect(batches.map((b) => [b.name, targetsOf(b), (b.input as DeliverBatchInput).window, b.retryOptions])).toEqual([
      ['deliverBatch', ['contoso', 'contoso-2'], 2, ACTIVITY_RETRY],
      ['deliverBatch', ['fabrikam'], 1, ACTIVITY_RETRY],
    ]);
    // The source facts once per batch, not once per delivery; the instance id the audit records name.
    expect(batches[0]!.input).toMatchObject({ ref: REF, cause: CAUSE, instanceId: spec.instanceId, source: FACTS, maxPerEndpoint: 2, listAll: true });
    expect((batches[0]!.input as DeliverBatchInput).deliveries.every((d) => d.source === undefined)).toBe(true);

    // A mix of outcomes: contoso-2 is not ours (a final failure, audited by the batch), fabrikam updated.
    const notOwned = { ...delivered(contoso2, 'FailedNotOwned'), hint: 'Rename the target' };
    spec.complete(batches[0]!.taskId, batchResult([delivered(contoso, 'Created'), notOwned]));
    spec.complete(batches[1]!.taskId, batchResult([delivered(fabrikam, 'Updated')]));
    const done = await spec.episode();
    expect(done.kind).toBe('completed');
    if (done.kind !== 'completed') return;
    const summary = done.output as RelaySummary;
    expect(summary).toMatchObject({ planned: 3, ok: false, failed: 1, counts: { Created: 1, Updated: 1, FailedNotOwned: 1 } });
    // One orchestration: every outcome is listed, in plan order, whichever batch delivered it.
    expect(summary.outcomes.map((o) => [o.targetId, o.status])).toEqual([
      ['contoso', 'Created'],
      ['fabrikam', 'Updated'],
      ['contoso-2', 'FailedNotOwned'],
    ]);
    expect(summary.omittedOutcomes).toBeUndefined();
    expect(done.customStatus).toMatchObject({ phase: 'done', planned: 3, completed: 3, failed: 1 });
    const summaries = spec.logs.filter((l) => l.message.startsWith(`relay ${spec.instanceId}: `));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: 'warning' });
    expect(summaries[0]!.message).toContain('3 deliveries: 1 Created, 1 FailedNotOwned, 1 Updated; 1 failed: contoso-2 FailedNotOwned');
  });

  it('a delivery that fails transiently is retried in a later batch after the delivery back-off, and the relay succeeds', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    const batches = await planned(spec);
    spec.complete(batches[0]!.taskId, batchResult([delivered(contoso, 'Created'), delivered(contoso2, 'Created')]));
    spec.complete(batches[1]!.taskId, batchResult([], [{ deliveryId: fabrikam.deliveryId, message: 'FailedUnavailable: deliver on fabrikam.vault.azure.net/db-password: 503' }]));
    await spec.episode();
    // Nothing but a durable timer of the delivery policy's first interval; progress counts what is final.
    expect(spec.activities()).toEqual([]);
    expect(spec.timers().map((t) => t.delayInMs)).toEqual([5_000]);
    spec.fireTimer(spec.timers()[0]!.taskId);
    await spec.episode();
    const [again] = spec.activities();
    expect([again!.name, targetsOf(again!), again!.retryOptions]).toEqual(['deliverBatch', ['fabrikam'], ACTIVITY_RETRY]);
    spec.complete(again!.taskId, batchResult([delivered(fabrikam, 'Updated')]));
    const done = await spec.episode();
    expect(done).toMatchObject({ kind: 'completed', output: { ok: true, failed: 0, counts: { Created: 2, Updated: 1 } } });
    expect(spec.activities()).toEqual([]);
  });

  it('a delivery failing transiently on every attempt becomes retries-exhausted after the policy\'s attempts, audited with its hint', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    const batches = await planned(spec);
    const transient = { deliveryId: fabrikam.deliveryId, message: 'FailedThrottled: deliver on fabrikam.vault.azure.net/db-password: 429 after the ladder' };
    spec.complete(batches[0]!.taskId, batchResult([delivered(contoso, 'Created'), delivered(contoso2, 'Created')]));
    spec.complete(batches[1]!.taskId, batchResult([], [transient]));
    const delays: number[] = [];
    for (let attempt = 2; attempt <= 4; attempt++) {
      await spec.episode();
      const [timer] = spec.timers();
      delays.push(timer!.delayInMs);
      spec.fireTimer(timer!.taskId);
      await spec.episode();
      const [retry] = spec.activities();
      expect(targetsOf(retry!)).toEqual(['fabrikam']);
      spec.complete(retry!.taskId, batchResult([], [transient]));
    }
    // 5 s × 3ⁿ between the attempts: deliveryRetryOptions, as the host spaced deliverSecret's retries.
    expect(delays).toEqual([5_000, 15_000, 45_000]);
    await spec.episode();
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([
      expect.objectContaining({
        action: 'deliver',
        status: 'FailedThrottled',
        reason: 'retries-exhausted',
        target: { id: 'fabrikam', kind: 'keyVault', location: 'fabrikam.vault.azure.net/db-password' },
        instanceId: spec.instanceId,
      }),
    ]);
    spec.complete(audit!.taskId, 1);
    const done = await spec.episode();
    expect(done.kind).toBe('completed');
    if (done.kind !== 'completed') return;
    const summary = done.output as RelaySummary;
    expect(summary).toMatchObject({ ok: false, failed: 1, counts: { Created: 2, FailedThrottled: 1 } });
    expect(summary.outcomes.find((o) => o.targetId === 'fabrikam')).toMatchObject({
      status: 'FailedThrottled',
      reason: 'retries-exhausted',
      message: expect.stringContaining('429'),
      hint: STATUS_INFO.FailedThrottled.hint,
    });
  });

  it('a batch that fails as a whole is retried with its own policy; failing every attempt makes each of its deliveries retries-exhausted', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    const batches = await planned(spec);
    spec.complete(batches[1]!.taskId, batchResult([delivered(fabrikam, 'Updated')]));
    // The host died under the first attempt; the second finds one target already written (UpToDate).
    spec.fail(batches[0]!.taskId, 'deliverBatch', 'Error: worker process exited');
    await spec.episode();
    const [timer] = spec.timers();
    expect(timer!.delayInMs).toBe(2_000);
    spec.fireTimer(timer!.taskId);
    await spec.episode();
    const [again] = spec.activities();
    expect(again!.input).toEqual(batches[0]!.input);
    spec.complete(again!.taskId, batchResult([delivered(contoso, 'UpToDate'), delivered(contoso2, 'Created')]));
    expect(await spec.episode()).toMatchObject({ kind: 'completed', output: { ok: true, counts: { UpToDate: 1, Created: 1, Updated: 1 } } });

    const doomed = new OrchestrationSpec('relaySecretVersion', input);
    const first = await planned(doomed);
    doomed.complete(first[1]!.taskId, batchResult([delivered(fabrikam, 'Updated')]));
    await failEveryAttempt(doomed, first[0]!, 6, 'Error: worker process exited');
    const [audit] = doomed.activities();
    expect(audit).toMatchObject({ name: 'appendAudit' });
    expect((audit!.input as { target: { id: string }; status: string; reason: string }[]).map((e) => [e.target.id, e.status, e.reason])).toEqual([
      ['contoso', 'FailedUnavailable', 'retries-exhausted'],
      ['contoso-2', 'FailedUnavailable', 'retries-exhausted'],
    ]);
    doomed.complete(audit!.taskId, 1);
    expect(await doomed.episode()).toMatchObject({ kind: 'completed', output: { ok: false, failed: 2, counts: { Updated: 1, FailedUnavailable: 2 } } });
  });

  it('deliveries a batch did not start before its time limit go to the next batch without using an attempt', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    const batches = await planned(spec);
    spec.complete(batches[0]!.taskId, { ...batchResult([delivered(contoso, 'Created')]), notStarted: [contoso2.deliveryId] });
    spec.complete(batches[1]!.taskId, batchResult([delivered(fabrikam, 'Created')]));
    await spec.episode();
    // At once, no back-off timer.
    expect(spec.timers()).toEqual([]);
    const [next] = spec.activities();
    expect(targetsOf(next!)).toEqual(['contoso-2']);
    spec.complete(next!.taskId, batchResult([delivered(contoso2, 'Created')]));
    expect(await spec.episode()).toMatchObject({ kind: 'completed', output: { ok: true, counts: { Created: 3 } } });
  });

  it('an outcome the batch could not audit is appended by the orchestration', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    const [batch] = await planned(spec, { ...plan, deliveries: [contoso] });
    spec.complete(batch!.taskId, batchResult([delivered(contoso, 'Created', { audited: undefined })]));
    await spec.episode();
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([expect.objectContaining({ action: 'deliver', status: 'Created', fingerprint: 'hmac-sha256:k1:abc' })]);
    spec.complete(audit!.taskId, 1);
    expect(await spec.episode()).toMatchObject({ kind: 'completed', output: { ok: true, failed: 0 } });
  });

  it(`a plan beyond one batch per endpoint runs in lanes (one per endpoint, its window its share of the limits), and sums their counts and failures`, async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input, `relay:platform:db-password:${VERSION}`);
    const many = Array.from({ length: MAX_DELIVERIES_PER_BATCH + 1 }, (_, n) => ({ ...delivery(`contoso-${n}`, 'contoso.vault.azure.net'), deliveryId: `db/contoso-${n}/db-password`, source: FACTS }));
    const wide: RelayPlan = { deliveries: [...many, { ...fabrikam, source: FACTS }], limits: { maxConcurrent: 3, maxPerEndpoint: 4 } };
    await planned(spec, wide);
    expect(spec.activities()).toEqual([]);
    const lanes = spec.subOrchestrations();
    expect(lanes.map((l) => [l.name, l.instanceId, (l.input as RelayPartInput).window, (l.input as RelayPartInput).deliveries.length])).toEqual([
      ['relayPart', `${spec.instanceId}:part-0`, 2, MAX_DELIVERIES_PER_BATCH + 1],
      ['relayPart', `${spec.instanceId}:part-1`, 1, 1],
    ]);
    expect(lanes[0]!.input).toMatchObject({ ref: REF, cause: CAUSE, limits: wide.limits, source: FACTS });
    expect((lanes[0]!.input as RelayPartInput).deliveries.every((d) => d.source === undefined)).toBe(true);

    const failure = { ...delivered(fabrikam, 'FailedNotOwned'), hint: 'Rename the target' };
    spec.completeSubOrchestration(lanes[0]!.taskId, { planned: many.length, counts: { Created: many.length }, failed: 0, failures: [] });
    spec.completeSubOrchestration(lanes[1]!.taskId, { planned: 1, counts: { FailedNotOwned: 1 }, failed: 1, failures: [failure] });
    const done = await spec.episode();
    const total = many.length + 1;
    expect(done).toMatchObject({
      kind: 'completed',
      output: { planned: total, ok: false, failed: 1, counts: { Created: many.length, FailedNotOwned: 1 }, omittedOutcomes: many.length, outcomes: [failure] },
      customStatus: { phase: 'done', planned: total, completed: total, failed: 1 },
    });
  });

  it('planRelay failing on every attempt ends in an audited PlanFailed, not a lost relay', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    await spec.episode();
    const [planTask] = spec.activities();
    const delays = await failEveryAttempt(spec, planTask!, 6, 'FailedUnavailable: RestError: 503');
    expect(delays.slice(0, 5)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000]);
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([expect.objectContaining({ action: 'plan', status: 'PlanFailed', reason: 'retries-exhausted' })]);
    spec.complete(audit!.taskId, 1);
    const done = await spec.episode();
    expect(done).toMatchObject({
      kind: 'completed',
      output: { ok: false, planned: 0, rejected: { status: 'FailedUnavailable', reason: 'retries-exhausted', hint: expect.any(String) } },
    });
  });
});

describe('relayPart (a lane)', () => {
  const lane = (deliveries: RelayDelivery[], window = 4): RelayPartInput => ({ ref: REF, cause: CAUSE, deliveries, limits: { maxConcurrent: 10, maxPerEndpoint: 4 }, window, source: FACTS });
  const many = (count: number) => Array.from({ length: count }, (_, n) => ({ ...delivery(`t-${n}`, 'contoso.vault.azure.net'), deliveryId: `db/t-${n}/db-password` }));

  it('runs its batches one after another within its window, appends what a batch could not audit beside the next batch, and returns counts and failures', async () => {
    const ds = many(MAX_DELIVERIES_PER_BATCH + 2);
    const spec = new OrchestrationSpec('relayPart', lane(ds, 3), `relay:platform:db-password:${VERSION}:part-0`);
    await spec.episode();
    const [first] = spec.activities();
    expect(first).toMatchObject({ name: 'deliverBatch', retryOptions: ACTIVITY_RETRY, input: { window: 3, maxPerEndpoint: 4, source: FACTS, instanceId: spec.instanceId } });
    expect(first!.input).not.toHaveProperty('listAll');
    expect(targetsOf(first!)).toEqual(ds.slice(0, MAX_DELIVERIES_PER_BATCH).map((d) => d.targetId));
    // The batch lists only what the relay needs: the failure, and a success it could not audit.
    spec.complete(first!.taskId, {
      counts: { Created: MAX_DELIVERIES_PER_BATCH - 1, FailedNotOwned: 1 },
      outcomes: [delivered(ds[3]!, 'FailedNotOwned', { hint: 'Rename the target' }), delivered(ds[5]!, 'Created', { audited: undefined })],
      retry: [],
      notStarted: [],
    });
    await spec.episode();
    const both = spec.activities();
    expect(both.map((a) => a.name)).toEqual(['deliverBatch', 'appendAudit']);
    expect(targetsOf(both[0]!)).toEqual(['t-100', 't-101']);
    expect(both[1]!.input).toEqual([expect.objectContaining({ status: 'Created', target: expect.objectContaining({ id: 't-5' }) })]);
    expect((await spec.episode()).kind).toBe('running');
    spec.complete(both[1]!.taskId, 1);
    spec.complete(both[0]!.taskId, batchResult([delivered(ds[100]!, 'Created'), delivered(ds[101]!, 'Created')], [], false));
    const done = await spec.episode();
    expect(done).toMatchObject({
      kind: 'completed',
      output: { planned: ds.length, counts: { Created: ds.length - 1, FailedNotOwned: 1 }, failed: 1, failures: [expect.objectContaining({ targetId: 't-3', status: 'FailedNotOwned' })] },
    });
  });

  it('an audit append that fails after its retries fails the lane (fail-closed)', async () => {
    const ds = many(MAX_DELIVERIES_PER_BATCH + 1);
    const spec = new OrchestrationSpec('relayPart', lane(ds));
    await spec.episode();
    spec.complete(spec.activities()[0]!.taskId, { counts: { Created: MAX_DELIVERIES_PER_BATCH }, outcomes: [delivered(ds[0]!, 'Created', { audited: undefined })], retry: [], notStarted: [] });
    await spec.episode();
    const [next, audit] = spec.activities();
    spec.complete(next!.taskId, batchResult([delivered(ds[MAX_DELIVERIES_PER_BATCH]!, 'Created')], [], false));
    await failEveryAttempt(spec, audit!, 6, 'AuditAppendError: StorageUnavailable');
    expect((await spec.episode()).kind).toBe('failed');
  });

  it(`continues as new after ${LANE_BATCHES_PER_EXECUTION} batches, carrying its tally and the retries not yet made, so its history stays bounded`, async () => {
    const ds = many(LANE_BATCHES_PER_EXECUTION * MAX_DELIVERIES_PER_BATCH + 2);
    const spec = new OrchestrationSpec('relayPart', lane(ds));
    let outcome = await spec.episode();
    for (let n = 0; n < LANE_BATCHES_PER_EXECUTION; n++) {
      const [batch] = spec.activities();
      const ids = (batch!.input as DeliverBatchInput).deliveries;
      expect(ids[0]!.targetId).toBe(`t-${n * MAX_DELIVERIES_PER_BATCH}`);
      // The first batch: one not ours, one transient failure (its retry is due in 5 s, after the lane moved on).
      const result =
        n === 0
          ? { counts: { Created: ids.length - 2, FailedNotOwned: 1 }, outcomes: [delivered(ids[7]!, 'FailedNotOwned')], retry: [{ deliveryId: ids[8]!.deliveryId, message: 'FailedUnavailable: 503' }], notStarted: [] }
          : { counts: { Created: ids.length }, outcomes: [], retry: [], notStarted: [] };
      spec.complete(batch!.taskId, result);
      outcome = await spec.episode();
    }
    expect(outcome.kind).toBe('continuedAsNew');
    if (outcome.kind !== 'continuedAsNew') return;
    const next = outcome.input as RelayPartInput;
    expect(next.deliveries.map((d) => d.targetId)).toEqual([`t-${ds.length - 2}`, `t-${ds.length - 1}`]);
    expect(next.retries).toEqual([expect.objectContaining({ delivery: expect.objectContaining({ targetId: 't-8' }), attempts: 1, message: 'FailedUnavailable: 503' })]);
    const done = LANE_BATCHES_PER_EXECUTION * MAX_DELIVERIES_PER_BATCH - 1;
    expect(next.carried).toMatchObject({ planned: done, counts: { Created: done - 1, FailedNotOwned: 1 }, failed: 1 });
    // The next execution: the retry is due (its time passed while the lane delivered), so it rides with the rest.
    const rest = new OrchestrationSpec('relayPart', next, 'spec:relayPart', new Date(Date.parse(next.retries![0]!.dueAt) + 1));
    await rest.episode();
    const [last] = rest.activities();
    expect(targetsOf(last!)).toEqual(['t-8', `t-${ds.length - 2}`, `t-${ds.length - 1}`]);
    rest.complete(last!.taskId, { counts: { Created: 3 }, outcomes: [], retry: [], notStarted: [] });
    expect(await rest.episode()).toMatchObject({
      kind: 'completed',
      output: { planned: ds.length, counts: { Created: ds.length - 1, FailedNotOwned: 1 }, failed: 1, failures: [expect.objectContaining({ targetId: 't-7' })] },
    });
  });
});

describe('rotateCredential', () => {
  const input: RotateInput = { sourceId: 'platform', name: 'db-password', cause: { actor: { kind: 'operator', id: 'ops' }, trigger: 'manual' }, targets: ['contoso'] };
  const newRef = { ...REF, version: 'fedcba9876543210fedcba9876543210' };

  /** The first step asks which rotator the route uses; these tests cover the `generate` path (two slots: rotate-slots-spec). */
  async function planGenerate(spec: OrchestrationSpec): Promise<void> {
    await spec.episode();
    const [plan] = spec.activities();
    expect(plan).toMatchObject({ taskId: 0, name: 'planRotation', input: { sourceId: 'platform', name: 'db-password' }, retryOptions: ACTIVITY_RETRY });
    spec.complete(0, { ok: true, rotator: 'generate' });
  }

  it('a source write that fails then succeeds is retried, audited as Rotated, and relayed to every routed target', async () => {
    const spec = new OrchestrationSpec('rotateCredential', input, 'rotate:platform:db-password:req-1');
    await planGenerate(spec);
    await spec.episode();
    const [rotate] = spec.activities();
    expect(rotate).toEqual({
      taskId: 1,
      name: 'rotateSourceSecret',
      input: { sourceId: 'platform', name: 'db-password', rotationId: 'rotate:platform:db-password:req-1' },
      retryOptions: ACTIVITY_RETRY,
    });
    spec.fail(1, 'rotateSourceSecret', 'FailedUnavailable: RestError: 503 ServiceUnavailable');
    await spec.episode();
    expect(spec.activities()).toEqual([]);
    const [timer] = spec.timers();
    expect(timer!.delayInMs).toBe(2_000);
    spec.fireTimer(timer!.taskId);
    await spec.episode();
    const [again] = spec.activities();
    expect(again).toMatchObject({ name: 'rotateSourceSecret', input: rotate!.input });

    spec.complete(again!.taskId, { ok: true, reused: false, ref: newRef });
    await spec.episode();
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([expect.objectContaining({ action: 'rotate', status: 'Rotated', reason: 'new-version-written', ref: newRef })]);

    spec.complete(audit!.taskId, 1);
    await spec.episode();
    const [relay] = spec.subOrchestrations();
    expect(relay).toMatchObject({ name: 'relaySecretVersion', instanceId: `relay:platform:db-password:${newRef.version}` });
    // No targets restriction: the rotation's own event is not relayed, so every routed target must get the version.
    expect(relay!.input).not.toHaveProperty('targets');
    expect(relay!.input).toMatchObject({ ref: newRef, cause: { trigger: 'rotation', parentInstanceId: spec.instanceId } });

    spec.completeSubOrchestration(relay!.taskId, { ref: newRef, planned: 2, outcomes: [], counts: { Created: 2 }, ok: true, failed: 0 });
    const done = await spec.episode();
    expect(done).toMatchObject({ kind: 'completed', output: { ok: true, ref: newRef } });
  });

  it('a source write failing on every attempt is audited as RotationFailed and answered with a hint', async () => {
    const spec = new OrchestrationSpec('rotateCredential', input, 'rotate:platform:db-password:req-2');
    await planGenerate(spec);
    await spec.episode();
    const [rotate] = spec.activities();
    expect(rotate).toMatchObject({ name: 'rotateSourceSecret' });
    await failEveryAttempt(spec, rotate!, 6, 'FailedUnavailable: RestError: 503 ServiceUnavailable');
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([
      expect.objectContaining({ action: 'rotate', status: 'RotationFailed', reason: 'retries-exhausted', message: expect.stringContaining('503') }),
    ]);
    spec.complete(audit!.taskId, 1);
    const done = await spec.episode();
    expect(spec.subOrchestrations()).toEqual([]);
    expect(done).toMatchObject({ kind: 'completed', output: { ok: false, status: 'FailedUnavailable', reason: 'retries-exhausted', hint: expect.any(String) } });
    expect(spec.logs.some((l) => l.level === 'error' && l.message.includes('rotation rotate:platform:db-password:req-2 failed'))).toBe(true);
  });

  it('a relay id held by the version\'s own event relay is retried under the same id, so the rotation still relays once', async () => {
    const spec = new OrchestrationSpec('rotateCredential', input, 'rotate:platform:db-password:req-4');
    await planGenerate(spec);
    await spec.episode();
    spec.complete(1, { ok: true, reused: false, ref: newRef });
    await spec.episode();
    spec.complete(spec.activities()[0]!.taskId, 1);
    await spec.episode();
    const [first] = spec.subOrchestrations();
    spec.failSubOrchestration(first!.taskId, "Orchestrator function 'relaySecretVersion' failed: An Orchestration instance with the status Running already exists.");
    await spec.episode();
    const [timer] = spec.timers();
    spec.fireTimer(timer!.taskId);
    await spec.episode();
    const [again] = spec.subOrchestrations();
    expect(again).toMatchObject({ name: 'relaySecretVersion', instanceId: first!.instanceId, input: first!.input });
    spec.completeSubOrchestration(again!.taskId, { ref: newRef, planned: 2, outcomes: [], counts: { Created: 2 }, ok: true, failed: 0 });
    expect(await spec.episode()).toMatchObject({ kind: 'completed', output: { ok: true, ref: newRef } });
  });

  it('a relay that fails after the source write is audited as RotationFailed (relay-failed) with a hint to re-relay', async () => {
    const spec = new OrchestrationSpec('rotateCredential', input, 'rotate:platform:db-password:req-3');
    await planGenerate(spec);
    await spec.episode();
    spec.complete(1, { ok: true, reused: false, ref: newRef });
    await spec.episode();
    spec.complete(spec.activities()[0]!.taskId, 1);
    await spec.episode();
    // The relay is retried like an activity (its id may be held by the version's own event relay for a moment).
    for (let attempt = 1; attempt <= 6; attempt += 1) {
      const [relay] = spec.subOrchestrations();
      expect(relay).toMatchObject({ instanceId: `relay:platform:db-password:${newRef.version}` });
      spec.failSubOrchestration(relay!.taskId, 'Activity function appendAudit failed: AuditAppendError: StorageUnavailable');
      await spec.episode();
      const [timer] = spec.timers();
      if (!timer) break;
      spec.fireTimer(timer.taskId);
      await spec.episode();
    }
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([expect.objectContaining({ action: 'rotate', status: 'RotationFailed', reason: 'relay-failed', ref: newRef })]);
    spec.complete(audit!.taskId, 1);
    const done = await spec.episode();
    expect(done).toMatchObject({ kind: 'completed', output: { ok: false, reason: 'relay-failed', hint: expect.stringContaining('mode "relay"') } });
  });
});
