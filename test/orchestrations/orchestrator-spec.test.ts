import { beforeAll, describe, expect, it } from 'vitest';
import { LANE_DELIVERIES_PER_EXECUTION } from '../../shared/orchestrations/names.js';
import type { RelayDelivery, RelayPartInput, RelayPlan, RelayInput, RotateInput } from '../../shared/orchestrations/types.js';
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

const names = (activities: ScheduledActivity[]) => activities.map((a) => a.name);

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
  const plan: RelayPlan = { deliveries: [contoso, fabrikam, contoso2], limits: { maxConcurrent: 10, maxPerEndpoint: 2 } };
  const input: RelayInput = { ref: REF, cause: CAUSE };

  it('plans with retries, delivers a plan that fits the limits at once with the delivery retry policy, audits only what the deliveries could not, and reports the failure with its hint', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input, `relay:platform:db-password:${VERSION}`);
    expect((await spec.episode()).kind).toBe('running');
    expect(spec.activities()).toEqual([{ taskId: 0, name: 'planRelay', input, retryOptions: ACTIVITY_RETRY }]);

    spec.complete(0, plan);
    await spec.episode();
    // Two per endpoint: all three at once; each carries the instance id its audit record names.
    const all = spec.activities();
    expect(all.map((a) => [a.name, (a.input as { delivery: RelayDelivery }).delivery.targetId, a.retryOptions])).toEqual([
      ['deliverSecret', 'contoso', DELIVERY_RETRY],
      ['deliverSecret', 'fabrikam', DELIVERY_RETRY],
      ['deliverSecret', 'contoso-2', DELIVERY_RETRY],
    ]);
    expect(all[0]!.input).toMatchObject({ ref: REF, cause: CAUSE, instanceId: spec.instanceId });
    expect(spec.subOrchestrations()).toEqual([]);

    // contoso and contoso-2 succeed (and audited themselves); fabrikam keeps failing transiently until the policy is spent.
    spec.complete(all[0]!.taskId, delivered(contoso, 'Created'));
    spec.complete(all[2]!.taskId, delivered(contoso2, 'Created'));
    const delays = await failEveryAttempt(spec, all[1]!, 4, 'FailedUnavailable: deliver on fabrikam.vault.azure.net/db-password: 503');
    // Back-off 5 s × 3ⁿ between attempts (the timer after the last attempt only ends the retries).
    expect(delays.slice(0, 3)).toEqual([5_000, 15_000, 45_000]);

    // The exhausted delivery is audited (the ones that succeeded are not audited twice).
    const audit = spec.activities();
    expect(names(audit)).toEqual(['appendAudit']);
    expect(audit[0]!.retryOptions).toEqual(ACTIVITY_RETRY);
    expect(audit[0]!.input).toEqual([
      expect.objectContaining({
        action: 'deliver',
        status: 'FailedUnavailable',
        reason: 'retries-exhausted',
        target: { id: 'fabrikam', kind: 'keyVault', location: 'fabrikam.vault.azure.net/db-password' },
        instanceId: spec.instanceId,
      }),
    ]);

    spec.complete(audit[0]!.taskId, 1);
    const done = await spec.episode();
    expect(done.kind).toBe('completed');
    if (done.kind !== 'completed') return;
    const summary = done.output as { ok: boolean; failed: number; outcomes: { targetId: string; status: string; hint?: string }[]; omittedOutcomes?: number };
    expect(summary.ok).toBe(false);
    expect(summary.failed).toBe(1);
    // One orchestration: every outcome is listed.
    expect(summary.outcomes.map((o) => o.targetId)).toEqual(['contoso', 'fabrikam', 'contoso-2']);
    expect(summary.omittedOutcomes).toBeUndefined();
    expect(summary.outcomes.find((o) => o.targetId === 'fabrikam')).toMatchObject({ status: 'FailedUnavailable', hint: expect.stringContaining('reconciliation will retry') });
    expect(done.customStatus).toMatchObject({ phase: 'done', failed: 1 });
    // One summary line, at warning level, with the counts and the failure's hint.
    const summaries = spec.logs.filter((l) => l.message.startsWith(`relay ${spec.instanceId}: `));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ level: 'warning' });
    expect(summaries[0]!.message).toContain('3 deliveries: 2 Created, 1 FailedUnavailable; 1 failed: fabrikam FailedUnavailable');
    expect(summaries[0]!.message).toContain('reconciliation will retry');
  });

  it('a plan beyond the limits runs in lanes whose endpoints never exceed their bound, and sums their counts and failures', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input, `relay:platform:db-password:${VERSION}`);
    await spec.episode();
    // One per endpoint: contoso has two deliveries, so the plan does not fit at once.
    spec.complete(0, { ...plan, limits: { maxConcurrent: 10, maxPerEndpoint: 1 } });
    await spec.episode();
    expect(spec.activities()).toEqual([]);
    const lanes = spec.subOrchestrations();
    expect(lanes.map((l) => [l.name, l.instanceId])).toEqual([
      ['relayPart', `${spec.instanceId}:part-0`],
      ['relayPart', `${spec.instanceId}:part-1`],
    ]);
    const laneTargets = lanes.map((l) => (l.input as RelayPartInput).deliveries.map((d) => d.targetId));
    // One lane per endpoint (its bound is 1): contoso's two deliveries one after the other in the same lane.
    expect(laneTargets).toEqual([['contoso', 'contoso-2'], ['fabrikam']]);
    expect(lanes[0]!.input).toMatchObject({ ref: REF, cause: CAUSE, limits: { maxConcurrent: 10, maxPerEndpoint: 1 } });

    const failure = { ...delivered(fabrikam, 'FailedNotOwned'), hint: 'Rename the target' };
    spec.completeSubOrchestration(lanes[0]!.taskId, { planned: 2, counts: { Created: 2 }, failed: 0, failures: [] });
    spec.completeSubOrchestration(lanes[1]!.taskId, { planned: 1, counts: { FailedNotOwned: 1 }, failed: 1, failures: [failure] });
    const done = await spec.episode();
    expect(done).toMatchObject({
      kind: 'completed',
      output: { planned: 3, ok: false, failed: 1, counts: { Created: 2, FailedNotOwned: 1 }, omittedOutcomes: 2, outcomes: [failure] },
      customStatus: { phase: 'done', planned: 3, completed: 3, failed: 1 },
    });
    expect(spec.logs.some((l) => l.level === 'warning' && l.message.includes('3 deliveries: 2 Created, 1 FailedNotOwned; 1 failed') && l.message.includes('fabrikam FailedNotOwned'))).toBe(true);
  });

  it('a delivery whose own audit append failed is audited by the orchestration', async () => {
    const spec = new OrchestrationSpec('relaySecretVersion', input);
    await spec.episode();
    spec.complete(0, { ...plan, deliveries: [contoso] });
    await spec.episode();
    const [deliver] = spec.activities();
    spec.complete(deliver!.taskId, delivered(contoso, 'Created', { audited: undefined }));
    await spec.episode();
    const [audit] = spec.activities();
    expect(audit).toMatchObject({ name: 'appendAudit', retryOptions: ACTIVITY_RETRY });
    expect(audit!.input).toEqual([expect.objectContaining({ action: 'deliver', status: 'Created', fingerprint: 'hmac-sha256:k1:abc' })]);
    spec.complete(audit!.taskId, 1);
    const done = await spec.episode();
    expect(done).toMatchObject({ kind: 'completed', output: { ok: true, failed: 0 } });
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
  const lane = (deliveries: RelayDelivery[]): RelayPartInput => ({ ref: REF, cause: CAUSE, deliveries, limits: { maxConcurrent: 10, maxPerEndpoint: 4 } });
  const targetOf = (a: ScheduledActivity) => (a.input as { delivery: RelayDelivery }).delivery.targetId;

  it('delivers one at a time, each next delivery scheduled in the episode its predecessor completed in, with the delivery retry policy', async () => {
    const ds = [1, 2, 3].map((n) => ({ ...delivery(`contoso-${n}`, 'contoso.vault.azure.net'), deliveryId: `db/contoso-${n}/db-password` }));
    const spec = new OrchestrationSpec('relayPart', lane(ds), `relay:platform:db-password:${VERSION}:part-0`);
    await spec.episode();
    const first = spec.activities();
    expect(first.map((a) => [a.name, targetOf(a), a.retryOptions])).toEqual([['deliverSecret', 'contoso-1', DELIVERY_RETRY]]);
    expect((first[0]!.input as { instanceId: string }).instanceId).toBe(spec.instanceId);

    spec.complete(first[0]!.taskId, delivered(ds[0]!, 'Created'));
    await spec.episode();
    const second = spec.activities();
    expect(second.map(targetOf)).toEqual(['contoso-2']);
    // A non-transient failure comes back as a value: no retry, and the activity audited it itself.
    spec.complete(second[0]!.taskId, delivered(ds[1]!, 'FailedNotOwned', { hint: 'Rename the target' }));
    await spec.episode();
    const third = spec.activities();
    expect(third.map(targetOf)).toEqual(['contoso-3']);
    spec.complete(third[0]!.taskId, delivered(ds[2]!, 'Updated'));
    const done = await spec.episode();
    expect(spec.activities()).toEqual([]);
    expect(done).toMatchObject({
      kind: 'completed',
      // Counts for every outcome, the failed ones in full: the relay's history does not carry every result.
      output: { planned: 3, counts: { Created: 1, FailedNotOwned: 1, Updated: 1 }, failed: 1, failures: [expect.objectContaining({ targetId: 'contoso-2', status: 'FailedNotOwned', hint: 'Rename the target' })] },
    });
  });

  it('appends what a delivery could not audit beside the next delivery (off the critical path), and the last ones at the end', async () => {
    const ds = [1, 2].map((n) => ({ ...delivery(`contoso-${n}`, 'contoso.vault.azure.net'), deliveryId: `db/contoso-${n}/db-password` }));
    const spec = new OrchestrationSpec('relayPart', lane(ds));
    await spec.episode();
    const [first] = spec.activities();
    spec.complete(first!.taskId, delivered(ds[0]!, 'Created', { audited: undefined }));
    await spec.episode();
    const both = spec.activities();
    // The next delivery and the audit of the previous one go out in the same episode.
    expect(both.map((a) => a.name)).toEqual(['deliverSecret', 'appendAudit']);
    expect(both[1]).toMatchObject({ retryOptions: ACTIVITY_RETRY, input: [expect.objectContaining({ action: 'deliver', status: 'Created', target: expect.objectContaining({ id: 'contoso-1' }) })] });
    spec.complete(both[1]!.taskId, 1);
    await spec.episode();
    expect(spec.activities()).toEqual([]);
    spec.complete(both[0]!.taskId, delivered(ds[1]!, 'Created', { audited: undefined }));
    await spec.episode();
    const [last] = spec.activities();
    expect(last).toMatchObject({ name: 'appendAudit', input: [expect.objectContaining({ target: expect.objectContaining({ id: 'contoso-2' }) })] });
    spec.complete(last!.taskId, 1);
    expect(await spec.episode()).toMatchObject({ kind: 'completed', output: { planned: 2, counts: { Created: 2 }, failed: 0, failures: [] } });
  });

  it('an audit append that fails after its retries fails the lane (fail-closed)', async () => {
    const ds = [1, 2].map((n) => ({ ...delivery(`contoso-${n}`, 'contoso.vault.azure.net'), deliveryId: `db/contoso-${n}/db-password` }));
    const spec = new OrchestrationSpec('relayPart', lane(ds));
    await spec.episode();
    spec.complete(spec.activities()[0]!.taskId, delivered(ds[0]!, 'Created', { audited: undefined }));
    await spec.episode();
    const [next, audit] = spec.activities();
    spec.complete(next!.taskId, delivered(ds[1]!, 'Created'));
    await failEveryAttempt(spec, audit!, 6, 'AuditAppendError: StorageUnavailable');
    expect(spec.history.at(-1)).toBeDefined();
    expect((await spec.episode()).kind).toBe('failed');
  });

  it(`continues as new after ${LANE_DELIVERIES_PER_EXECUTION} deliveries, carrying its tally, so its history stays bounded`, async () => {
    const ds = Array.from({ length: LANE_DELIVERIES_PER_EXECUTION + 2 }, (_, n) => ({ ...delivery(`t-${n}`, 'contoso.vault.azure.net'), deliveryId: `db/t-${n}/db-password` }));
    const spec = new OrchestrationSpec('relayPart', lane(ds));
    let outcome = await spec.episode();
    for (let n = 0; n < LANE_DELIVERIES_PER_EXECUTION; n++) {
      const [next] = spec.activities();
      expect(targetOf(next!)).toBe(`t-${n}`);
      spec.complete(next!.taskId, delivered(ds[n]!, n === 7 ? 'FailedNotOwned' : 'Created'));
      outcome = await spec.episode();
    }
    expect(outcome.kind).toBe('continuedAsNew');
    if (outcome.kind !== 'continuedAsNew') return;
    const next = outcome.input as RelayPartInput;
    expect(next.deliveries.map((d) => d.targetId)).toEqual([`t-${LANE_DELIVERIES_PER_EXECUTION}`, `t-${LANE_DELIVERIES_PER_EXECUTION + 1}`]);
    expect(next.carried).toMatchObject({ planned: LANE_DELIVERIES_PER_EXECUTION, counts: { Created: LANE_DELIVERIES_PER_EXECUTION - 1, FailedNotOwned: 1 }, failed: 1 });
    // The next execution finishes the lane and reports the whole tally.
    const rest = new OrchestrationSpec('relayPart', next);
    await rest.episode();
    for (const n of [0, 1]) {
      const [d] = rest.activities();
      rest.complete(d!.taskId, delivered(next.deliveries[n]!, 'Created'));
      await rest.episode();
    }
    const final = await rest.episode();
    expect(final).toMatchObject({ kind: 'completed', output: { planned: LANE_DELIVERIES_PER_EXECUTION + 2, counts: { Created: LANE_DELIVERIES_PER_EXECUTION + 1, FailedNotOwned: 1 }, failed: 1 } });
    expect(next.carried!.failures.map((f) => f.targetId)).toEqual(['t-7']);
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
