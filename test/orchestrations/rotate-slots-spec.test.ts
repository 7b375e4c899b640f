import { beforeAll, describe, expect, it } from 'vitest';
import { describe as describeFunction, type FunctionInfo } from '../../local/host/catalog.js';
import { installFunctionsCoreStub, type Registration } from '../../local/host/index.js';
import { decideEpisode, type EpisodeOutcome, type Work } from '../../local/host/durable/episode.js';
import { EventType, historyEvent, type HistoryEvent } from '../../local/host/durable/history.js';
import type { AuditEntry, RelaySummary, RotateInput } from '../../shared/orchestrations/types.js';
import type { ConvergenceResult, OwnerRotationResult, RotationPlan } from '../../shared/rotation/index.js';

// Orchestrator spec for the dual-credential path of `rotateCredential`: hand-built histories through the real
// durable-functions replay code (the local engine's episode function); each test asserts which activities the
// orchestrator schedules, and above all which it does not (no retirement unless every target holds the new version).

let target: { info: FunctionInfo; registration: Registration };

beforeAll(async () => {
  const registry = installFunctionsCoreStub();
  await import('../../functions/rotateCredential.js');
  const registration = registry.functions.get('rotateCredential')!;
  target = { info: describeFunction(registration), registration };
});

const ID = 'rotate:platform:orders-db-credential:req-1';
const INPUT: RotateInput = { sourceId: 'platform', name: 'orders-db-credential', cause: { actor: { kind: 'operator', id: 'ops' }, trigger: 'manual' } };
const RETRY = { firstRetryIntervalInMilliseconds: 2_000, maxNumberOfAttempts: 6, backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 60_000 };
const REF = { sourceId: 'platform', vaultUrl: 'https://platform.vault.azure.net', name: 'orders-db-credential', version: 'b'.repeat(32) };
const plan = (rule: 'converged' | 'grace', graceMinutes = 0): RotationPlan => ({
  ok: true,
  rotator: 'postgres',
  routeId: 'orders-db',
  slots: ['orders_app_blue', 'orders_app_green'],
  retirement: { rule, graceMinutes },
});
const OWNER: OwnerRotationResult = { ok: true, reused: false, ref: REF, slot: 'orders_app_green', previousSlot: 'orders_app_blue' };
const relay = (ok: boolean): RelaySummary => ({
  ref: REF,
  planned: 2,
  ok,
  failed: ok ? 0 : 1,
  counts: ok ? { Updated: 2 } : { Updated: 1, FailedAccessDenied: 1 },
  outcomes: [
    { deliveryId: 'orders-db/contoso/orders-db-credential', routeId: 'orders-db', targetId: 'contoso', kind: 'keyVault', location: 'contoso.vault.azure.net/orders-db-credential', status: ok ? 'Updated' : 'FailedAccessDenied', reason: ok ? 'newer-version' : 'forbidden' },
    { deliveryId: 'orders-db/edge/orders-db#credential', routeId: 'orders-db', targetId: 'edge', kind: 'kubernetes', location: 'edge-1/apps/orders-db#credential', status: 'Updated', reason: 'newer-version' },
  ],
});

class Spec {
  readonly history: HistoryEvent[] = [];
  readonly scheduled = new Set<number>();
  readonly all: Work[] = [];
  private time = new Date('2026-12-01T10:00:00.000Z');

  constructor() {
    this.history.push(historyEvent(EventType.OrchestratorStarted, this.time), historyEvent(EventType.ExecutionStarted, this.time, { Name: 'rotateCredential', Input: JSON.stringify(INPUT) }));
  }

  async episode(): Promise<EpisodeOutcome> {
    const outcome = await decideEpisode({
      target,
      instanceId: ID,
      parentInstanceId: undefined,
      input: INPUT,
      history: [...this.history],
      scheduledIds: this.scheduled,
      now: this.time,
      log: () => undefined,
      durableClientData: () => ({}),
    });
    if (outcome.kind === 'running') {
      for (const work of outcome.work) {
        this.history.push(work.scheduled);
        this.scheduled.add(work.taskId);
        this.all.push(work);
      }
    }
    this.history.push(historyEvent(EventType.OrchestratorCompleted, this.time));
    this.time = new Date(this.time.getTime() + 1_000);
    this.history.push(historyEvent(EventType.OrchestratorStarted, this.time));
    return outcome;
  }

  /** Runs an episode that must schedule exactly one thing, and returns it. */
  async next(): Promise<Work> {
    const outcome = await this.episode();
    expect(outcome.kind, JSON.stringify(outcome)).toBe('running');
    const work = (outcome as Extract<EpisodeOutcome, { kind: 'running' }>).work;
    expect(work).toHaveLength(1);
    return work[0]!;
  }

  complete(work: Work, result: unknown): void {
    const type = work.kind === 'subOrchestration' ? EventType.SubOrchestrationInstanceCompleted : EventType.TaskCompleted;
    this.history.push(historyEvent(type, this.time, { TaskScheduledId: work.taskId, Result: JSON.stringify(result) }));
  }

  fire(work: Work): void {
    this.history.push(historyEvent(EventType.TimerFired, this.time, { TimerId: work.taskId, FireAt: (work as { fireAt: string }).fireAt }));
  }

  /** Feeds audits back until the next non-audit work; returns the audit entries seen and that work (or the outcome). */
  async untilNonAudit(): Promise<{ audits: AuditEntry[]; work?: Work; outcome?: EpisodeOutcome }> {
    const audits: AuditEntry[] = [];
    for (;;) {
      const outcome = await this.episode();
      if (outcome.kind !== 'running') return { audits, outcome };
      const [work] = outcome.work;
      if (work?.kind === 'activity' && work.name === 'appendAudit') {
        expect(work.retryOptions).toMatchObject(RETRY);
        audits.push(...(JSON.parse(work.inputJson!) as AuditEntry[]));
        this.complete(work, 1);
        continue;
      }
      return { audits, work: work! };
    }
  }
}

const activityName = (work: Work | undefined) => (work?.kind === 'activity' ? work.name : work?.kind);
const reasons = (audits: readonly AuditEntry[]) => audits.map((a) => `${a.status} ${a.reason}`);

async function throughRelay(spec: Spec, rule: 'converged' | 'grace', relayOk: boolean, graceMinutes = 0) {
  const planned = await spec.next();
  expect(planned).toMatchObject({ kind: 'activity', name: 'planRotation', retryOptions: RETRY });
  spec.complete(planned, plan(rule, graceMinutes));
  const owner = await spec.next();
  expect(owner).toMatchObject({ kind: 'activity', name: 'rotateAtOwner', retryOptions: RETRY });
  expect(JSON.parse((owner as { inputJson: string }).inputJson)).toEqual({ sourceId: 'platform', name: 'orders-db-credential', rotationId: ID });
  spec.complete(owner, OWNER);
  const written = await spec.untilNonAudit();
  expect(reasons(written.audits)).toEqual(['Rotated postgres-slot-set', 'Rotated new-version-written']);
  expect(written.work).toMatchObject({ kind: 'subOrchestration', name: 'relaySecretVersion', childInstanceId: `relay:platform:orders-db-credential:${REF.version}` });
  spec.complete(written.work!, relay(relayOk));
}

describe('rotateCredential with two slots (orchestrator spec)', () => {
  it('retires the previous slot only after the relay succeeded and the convergence check passed', async () => {
    const spec = new Spec();
    await throughRelay(spec, 'converged', true);
    const check = await spec.next();
    expect(check).toMatchObject({ kind: 'activity', name: 'checkRotationConvergence', retryOptions: RETRY });
    spec.complete(check, { checked: 2, converged: true, pending: [] } satisfies ConvergenceResult);
    const retire = await spec.next();
    expect(retire).toMatchObject({ kind: 'activity', name: 'retireRotationSlot', retryOptions: RETRY });
    expect(JSON.parse((retire as { inputJson: string }).inputJson)).toMatchObject({ routeId: 'orders-db', slot: 'orders_app_blue' });
    spec.complete(retire, { ok: true, slot: 'orders_app_blue' });
    const end = await spec.untilNonAudit();
    expect(reasons(end.audits)).toEqual(['Rotated previous-slot-retired']);
    expect(end.outcome).toMatchObject({ kind: 'completed', output: { ok: true, slot: 'orders_app_green', retirement: { outcome: 'retired', slot: 'orders_app_blue' } } });
  });

  it('a failed relay schedules neither the check nor a retirement, and audits the kept slot with the failed targets', async () => {
    const spec = new Spec();
    await throughRelay(spec, 'converged', false);
    const end = await spec.untilNonAudit();
    expect(end.outcome?.kind).toBe('completed');
    expect(spec.all.map(activityName)).not.toContain('retireRotationSlot');
    expect(spec.all.map(activityName)).not.toContain('checkRotationConvergence');
    expect(reasons(end.audits)).toEqual(['RotationFailed previous-slot-kept']);
    expect(end.audits[0]!.message).toBe(
      'previous slot "orders_app_blue" kept usable: the relay failed for 1 of 2 targets (contoso.vault.azure.net/orders-db-credential: FailedAccessDenied)',
    );
  });

  it('a target that does not hold the new version keeps the previous slot, even after a successful relay', async () => {
    const spec = new Spec();
    await throughRelay(spec, 'converged', true);
    const check = await spec.next();
    spec.complete(check, { checked: 2, converged: false, pending: [{ targetId: 'edge', location: 'edge:orders-db#credential', held: 'a'.repeat(32) }] } satisfies ConvergenceResult);
    const end = await spec.untilNonAudit();
    expect(spec.all.map(activityName)).not.toContain('retireRotationSlot');
    expect(reasons(end.audits)).toEqual(['RotationFailed previous-slot-kept']);
    expect(end.outcome).toMatchObject({ kind: 'completed', output: { retirement: { outcome: 'kept', slot: 'orders_app_blue', reason: 'previous-slot-kept' } } });
  });

  it('the grace rule waits graceMinutes on a durable timer before the convergence check', async () => {
    const spec = new Spec();
    await throughRelay(spec, 'grace', true, 30);
    const timer = await spec.next();
    expect(timer.kind).toBe('timer');
    expect(new Date((timer as { fireAt: string }).fireAt).getTime() - new Date('2026-12-01T10:00:00.000Z').getTime()).toBeGreaterThanOrEqual(30 * 60_000);
    spec.fire(timer);
    expect(await spec.next()).toMatchObject({ kind: 'activity', name: 'checkRotationConvergence' });
  });
});
