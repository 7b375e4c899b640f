import { beforeAll, describe, expect, it } from 'vitest';
import { describe as describeFunction, type FunctionInfo } from '../../local/host/catalog.js';
import { installFunctionsCoreStub, type Registration } from '../../local/host/index.js';
import { decideEpisode, type EpisodeOutcome, type Work } from '../../local/host/durable/episode.js';
import { EventType, historyEvent, type HistoryEvent } from '../../local/host/durable/history.js';
import type { AuditEntry, DriftCheck, DriftFinding, ReconcileItem, ReconcileListing, ReconcileReport, RelayInput } from '../../shared/orchestrations/types.js';

// Orchestrator spec for `reconcile`, in the style of durable-functions' own test/integration/orchestrator-spec.ts:
// hand-built histories go through the real durable-functions replay code (the local engine's episode function), and
// each test asserts exactly which activities and sub-orchestrations the orchestrator schedules, with which inputs and
// retry options, then feeds results back.

let target: { info: FunctionInfo; registration: Registration };

beforeAll(async () => {
  const registry = installFunctionsCoreStub();
  await import('../../functions/reconcile.js');
  const registration = registry.functions.get('reconcile')!;
  target = { info: describeFunction(registration), registration };
});

const INPUT = { cause: { actor: { kind: 'timer' as const, id: 'reconcileTimer' }, trigger: 'reconcile' as const } };
const RETRY = { firstRetryIntervalInMilliseconds: 5_000, maxNumberOfAttempts: 3, backoffCoefficient: 2 };
const VAULT = 'https://platform.vault.azure.net';
const V = (n: number) => String(n).repeat(32);
const item = (name: string, version: string) => ({ sourceId: 'platform', vaultUrl: VAULT, name, version }) satisfies ReconcileItem;

/** One orchestration's history, grown episode by episode as the engine would. */
class Spec {
  readonly history: HistoryEvent[] = [];
  readonly scheduled = new Set<number>();
  private time = new Date('2026-12-01T10:00:00.000Z');

  constructor() {
    this.history.push(historyEvent(EventType.OrchestratorStarted, this.time), historyEvent(EventType.ExecutionStarted, this.time, { Name: 'reconcile', Input: JSON.stringify(INPUT) }));
  }

  /** Runs one episode; records what it scheduled, as the engine does. */
  async episode(): Promise<EpisodeOutcome> {
    const outcome = await decideEpisode({
      target,
      instanceId: 'reconcile',
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
      }
    }
    this.history.push(historyEvent(EventType.OrchestratorCompleted, this.time));
    this.time = new Date(this.time.getTime() + 1_000);
    this.history.push(historyEvent(EventType.OrchestratorStarted, this.time));
    return outcome;
  }

  /** Runs an episode that must schedule work, and returns that work. */
  async work(): Promise<Work[]> {
    const outcome = await this.episode();
    expect(outcome.kind, JSON.stringify(outcome)).toBe('running');
    return (outcome as Extract<EpisodeOutcome, { kind: 'running' }>).work;
  }

  complete(work: Work, result: unknown): void {
    const type = work.kind === 'subOrchestration' ? EventType.SubOrchestrationInstanceCompleted : EventType.TaskCompleted;
    this.history.push(historyEvent(type, this.time, { TaskScheduledId: work.taskId, Result: JSON.stringify(result) }));
  }

  fail(work: Work, message: string): void {
    this.history.push(
      historyEvent(EventType.TaskFailed, this.time, {
        TaskScheduledId: work.taskId,
        Reason: `Activity function '${work.kind === 'activity' ? work.name : ''}' failed: ${message}`,
        Details: '',
        FailureDetails: { ErrorType: 'Error', ErrorMessage: message, IsNonRetriable: false },
      }),
    );
  }

  fire(work: Work): void {
    expect(work.kind).toBe('timer');
    this.history.push(historyEvent(EventType.TimerFired, this.time, { TimerId: work.taskId, FireAt: (work as { fireAt: string }).fireAt }));
  }
}

/** What a user of the spec compares: kind, name, input and retry options of each scheduled item. */
function shape(work: Work): Record<string, unknown> {
  switch (work.kind) {
    case 'activity':
      return { activity: work.name, input: work.inputJson === undefined ? undefined : JSON.parse(work.inputJson), retry: work.retryOptions };
    case 'subOrchestration':
      return { subOrchestration: work.name, instanceId: work.childInstanceId, input: work.inputJson === undefined ? undefined : JSON.parse(work.inputJson) };
    case 'timer':
      return { timer: work.fireAt };
    case 'immediate':
      return { immediate: work.taskId };
  }
}

const entries = (work: Work) => JSON.parse((work as { inputJson: string }).inputJson) as AuditEntry[];

describe('reconcile (orchestrator spec)', () => {
  it('checks each source secret, keeps going when one check fails, audits every finding and repairs only the repairable', async () => {
    const spec = new Spec();
    const [started] = await spec.work();
    expect(shape(started!)).toMatchObject({ activity: 'appendAudit', retry: RETRY });
    expect(entries(started!)).toEqual([expect.objectContaining({ action: 'reconcile', status: 'ReconcileStarted', instanceId: 'reconcile' })]);
    spec.complete(started!, 1);

    const [list] = await spec.work();
    expect(shape(list!)).toEqual({ activity: 'listReconcileItems', input: {}, retry: RETRY });
    const listing: ReconcileListing = { items: [item('app-a', V(1)), item('app-b', V(2)), item('app-c', V(3))], unlistedSources: [] };
    spec.complete(list!, listing);

    const checks = await spec.work();
    expect(checks.map(shape)).toEqual(listing.items.map((i) => ({ activity: 'checkDrift', input: i, retry: RETRY })));

    // app-a: contoso was overwritten by a foreign writer; fabrikam answered 403 to the check.
    const overwritten: DriftFinding = { ref: item('app-a', V(1)), targetId: 'contoso', kind: 'keyVault', location: 'contoso:app-a', drift: 'foreign-overwrite' };
    const denied: DriftFinding = {
      ref: item('app-a', V(1)),
      targetId: 'fabrikam',
      kind: 'keyVault',
      location: 'fabrikam:fabrikam--app-a',
      drift: 'check-failed',
      reason: 'access-denied',
      message: 'listPropertiesOfSecretVersions on fabrikam.vault.azure.net/fabrikam--app-a: Key Vault answered 403 Forbidden',
    };
    spec.complete(checks[0]!, { checked: 3, sourceState: 'enabled', findings: [overwritten, denied] } satisfies DriftCheck);
    // app-b: the source read fails once (503), is retried after the policy's interval, then succeeds.
    spec.fail(checks[1]!, 'FailedUnavailable: getLatestProperties on platform: Key Vault answered 503');
    spec.complete(checks[2]!, { checked: 3, sourceState: 'enabled', findings: [] } satisfies DriftCheck);
    const [retryTimer] = await spec.work();
    expect(shape(retryTimer!)).toEqual({ timer: expect.any(String) });
    spec.fire(retryTimer!);
    const [again] = await spec.work();
    expect(shape(again!)).toEqual({ activity: 'checkDrift', input: listing.items[1], retry: RETRY });
    spec.complete(again!, { checked: 3, sourceState: 'enabled', findings: [] } satisfies DriftCheck);

    const [findings] = await spec.work();
    expect(shape(findings!)).toMatchObject({ activity: 'appendAudit', retry: RETRY });
    expect(entries(findings!).map((e) => [e.action, e.status, e.target?.id, e.reason])).toEqual([
      ['drift', 'Drifted', 'contoso', 'foreign-overwrite'],
      ['drift', 'CheckFailed', 'fabrikam', 'access-denied'],
    ]);
    expect(entries(findings!)[1]!.message).toContain('403');
    spec.complete(findings!, 2);

    // Only the overwritten copy is repaired; the target that could not be checked is left for the next run.
    const [repair] = await spec.work();
    expect(shape(repair!)).toEqual({
      subOrchestration: 'relaySecretVersion',
      instanceId: 'reconcile:20261201100000:repair-0',
      input: {
        ref: item('app-a', V(1)),
        cause: { ...INPUT.cause, trigger: 'reconcile', parentInstanceId: 'reconcile' },
        targets: ['contoso'],
      } satisfies RelayInput,
    });
    spec.complete(repair!, { ref: item('app-a', V(1)), planned: 1, outcomes: [], counts: { Updated: 1 }, ok: true, failed: 0 });

    const [report] = await spec.work();
    expect(shape(report!)).toMatchObject({ activity: 'writeDriftReport', retry: RETRY });
    const written = JSON.parse((report as { inputJson: string }).inputJson) as ReconcileReport;
    expect(written).toMatchObject({ checkedSecrets: 3, checkedTargets: 9, checkFailed: 1, unchecked: [] });
    expect(written.unrepaired).toEqual([denied]);
    spec.complete(report!, 'reports/drift/2026/12/01/x.json');

    const [completed] = await spec.work();
    expect(entries(completed!)).toEqual([expect.objectContaining({ action: 'reconcile', status: 'ReconcileCompleted', reason: 'checks-failed' })]);
    spec.complete(completed!, 1);
    const done = await spec.episode();
    expect(done).toMatchObject({ kind: 'completed', output: { reportBlob: 'reports/drift/2026/12/01/x.json', checkFailed: 1 } });
  });

  it('records a source that stays unreadable after the retries as CheckFailed and still checks the other secrets', async () => {
    const spec = new Spec();
    spec.complete((await spec.work())[0]!, 1);
    const [list] = await spec.work();
    spec.complete(list!, { items: [item('app-a', V(1)), item('app-b', V(2))], unlistedSources: [] } satisfies ReconcileListing);
    const checks = await spec.work();
    spec.complete(checks[1]!, { checked: 2, sourceState: 'enabled', findings: [] } satisfies DriftCheck);
    let attempt = checks[0]!;
    for (let n = 1; n <= RETRY.maxNumberOfAttempts; n++) {
      spec.fail(attempt, 'FailedAccessDenied: listPropertiesOfSecretVersions on platform: Key Vault answered 403');
      const [timer] = await spec.work();
      spec.fire(timer!);
      if (n < RETRY.maxNumberOfAttempts) {
        attempt = (await spec.work())[0]!;
        expect(shape(attempt)).toEqual({ activity: 'checkDrift', input: item('app-a', V(1)), retry: RETRY });
      }
    }
    const [audit] = await spec.work();
    expect(entries(audit!)).toEqual([
      expect.objectContaining({ action: 'drift', status: 'CheckFailed', reason: 'source-access-denied', ref: { sourceId: 'platform', vaultUrl: VAULT, name: 'app-a' } }),
    ]);
    spec.complete(audit!, 1);
    const [report] = await spec.work();
    expect(JSON.parse((report as { inputJson: string }).inputJson)).toMatchObject({ checkedTargets: 2, unchecked: [{ name: 'app-a', reason: 'source-access-denied' }] });
  });

  it('schedules the same few steps for a fleet in sync whatever its size: listing, report, two audit records', async () => {
    const spec = new Spec();
    spec.complete((await spec.work())[0]!, 1);
    const [list] = await spec.work();
    // 1,000 secrets × 10 placements found in sync by list pages: none of them is an item.
    spec.complete(list!, { items: [], unlistedSources: [], inSync: { secrets: 1_000, placements: 10_000 }, listPages: 441 } satisfies ReconcileListing);
    const [report] = await spec.work();
    expect(shape(report!)).toMatchObject({ activity: 'writeDriftReport', retry: RETRY });
    expect(JSON.parse((report as { inputJson: string }).inputJson)).toMatchObject({ checkedSecrets: 1_000, checkedTargets: 10_000, listPages: 441, drift: [], repairs: [] });
    spec.complete(report!, 'reports/drift/2026/12/01/y.json');
    const [completed] = await spec.work();
    expect(entries(completed!)).toEqual([expect.objectContaining({ action: 'reconcile', status: 'ReconcileCompleted', reason: 'in-sync' })]);
    spec.complete(completed!, 1);
    expect(await spec.episode()).toMatchObject({ kind: 'completed' });
    expect(spec.history.length).toBeLessThan(30);
  });

  it('writes ReconcileFailed when the run cannot list the sources, then fails', async () => {
    const spec = new Spec();
    spec.complete((await spec.work())[0]!, 1);
    let [attempt] = await spec.work();
    for (let n = 1; n <= RETRY.maxNumberOfAttempts; n++) {
      spec.fail(attempt!, 'StorageUnavailable: 503');
      const [timer] = await spec.work();
      spec.fire(timer!);
      if (n < RETRY.maxNumberOfAttempts) [attempt] = await spec.work();
    }
    const [failed] = await spec.work();
    expect(shape(failed!)).toMatchObject({ activity: 'appendAudit', retry: RETRY });
    expect(entries(failed!)).toEqual([expect.objectContaining({ action: 'reconcile', status: 'ReconcileFailed', reason: 'run-failed', message: expect.stringContaining('StorageUnavailable') })]);
    spec.complete(failed!, 1);
    expect(await spec.episode()).toMatchObject({ kind: 'failed' });
  });
});
