import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { ACTIVITIES, ORCHESTRATIONS } from './names.js';
import { chunk } from './waves.js';
import type {
  AuditEntry,
  DriftFinding,
  ReconcileInput,
  ReconcileItem,
  ReconcileReport,
  RelayInput,
  RelaySummary,
} from './types.js';

/** Source secrets checked at once; each check reads metadata only. */
const CHECK_BATCH = 20;

function checkRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 3);
  options.backoffCoefficient = 2;
  return options;
}

/**
 * Reconciles every routed secret: compares each target's ownership metadata with the source's current version
 * (metadata reads only), relays only what drifted, audits each finding, writes a drift report blob.
 * Runs as the singleton instance `reconcile`, so at most one reconciliation runs at a time.
 */
export function* reconcile(context: OrchestrationContext): Generator<df.Task, ReconcileReport, unknown> {
  const input = context.df.getInput<ReconcileInput>();
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const runId = startedAt.replace(/[^0-9]/g, '').slice(0, 14);
  context.df.setCustomStatus({ phase: 'listing' });

  const items = (yield context.df.callActivity(ACTIVITIES.listReconcileItems, {})) as ReconcileItem[];
  const drift: DriftFinding[] = [];
  let checkedTargets = 0;
  for (const batch of chunk(items, CHECK_BATCH)) {
    const tasks = batch.map((item) => context.df.callActivityWithRetry(ACTIVITIES.checkDrift, checkRetryOptions(), item));
    try {
      yield context.df.Task.all(tasks);
    } catch {
      // collected one by one below
    }
    for (const task of tasks) {
      try {
        const result = (yield task) as { checked: number; findings: DriftFinding[] };
        checkedTargets += result.checked;
        drift.push(...result.findings);
      } catch {
        // A source that cannot be checked now is checked again on the next run; the audit records the failure.
      }
    }
    context.df.setCustomStatus({ phase: 'checking', checked: checkedTargets, drift: drift.length });
  }

  const repairable = drift.filter((finding) => finding.drift !== 'not-owned');
  const unrepaired = drift.filter((finding) => finding.drift === 'not-owned');
  const driftEntries = drift.map((finding): AuditEntry => ({
    action: 'drift',
    status: finding.drift === 'not-owned' ? 'NotOwned' : finding.drift === 'absent' || finding.drift === 'deleted' ? 'Missing' : 'Drifted',
    cause: input.cause,
    instanceId: context.df.instanceId,
    at: context.df.currentUtcDateTime.toISOString(),
    ref: finding.ref,
    target: { id: finding.targetId, kind: finding.kind, location: finding.location },
    reason: finding.drift,
    ...(finding.heldVersion ? { message: `target holds source version ${finding.heldVersion}` } : {}),
  }));
  for (const batch of chunk(driftEntries, 100)) yield context.df.callActivity(ACTIVITIES.appendAudit, batch);

  // One repair relay per drifted source version, restricted to the drifted targets.
  const groups = new Map<string, { ref: DriftFinding['ref']; targets: Set<string> }>();
  for (const finding of repairable) {
    const key = `${finding.ref.sourceId}/${finding.ref.name}/${finding.ref.version}`;
    const group = groups.get(key) ?? { ref: finding.ref, targets: new Set<string>() };
    group.targets.add(finding.targetId);
    groups.set(key, group);
  }
  context.df.setCustomStatus({ phase: 'repairing', drift: drift.length, repairs: groups.size });
  const repairs: { ref: DriftFinding['ref']; instanceId: string; summary: RelaySummary }[] = [];
  const groupList = [...groups.values()];
  for (const [batchIndex, batch] of chunk(groupList, CHECK_BATCH).entries()) {
    const ids = batch.map((_, index) => `${context.df.instanceId}:${runId}:repair-${batchIndex * CHECK_BATCH + index}`);
    const tasks = batch.map((group, index) => {
      const relayInput: RelayInput = {
        ref: group.ref,
        cause: { ...input.cause, trigger: 'reconcile', parentInstanceId: context.df.instanceId },
        targets: [...group.targets].sort(),
      };
      return context.df.callSubOrchestrator(ORCHESTRATIONS.relaySecretVersion, relayInput, ids[index]);
    });
    try {
      yield context.df.Task.all(tasks);
    } catch {
      // collected one by one below
    }
    for (const [index, task] of tasks.entries()) {
      const group = batch[index]!;
      try {
        const summary = (yield task) as RelaySummary;
        repairs.push({ ref: group.ref, instanceId: ids[index]!, summary });
      } catch {
        // the failed repair stays drifted and is retried by the next run
      }
    }
  }

  const report: ReconcileReport = {
    instanceId: context.df.instanceId,
    startedAt,
    checkedSecrets: items.length,
    checkedTargets,
    drift,
    repairs,
    unrepaired,
  };
  const reportBlob = (yield context.df.callActivity(ACTIVITIES.writeDriftReport, report)) as string;
  context.df.setCustomStatus({ phase: 'done', drift: drift.length, repairs: repairs.length });
  return { ...report, reportBlob };
}
