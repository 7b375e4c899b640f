import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { DRIFT_INFO } from '../domain/drift.js';
import type { SecretVersionRef } from '../domain/references.js';
import { ACTIVITIES, ORCHESTRATIONS } from './names.js';
import { chunk } from './waves.js';
import {
  REPAIRABLE_DRIFT,
  type AuditEntry,
  type DriftCheck,
  type DriftFinding,
  type ReconcileInput,
  type ReconcileItem,
  type ReconcileListing,
  type ReconcileReport,
  type RelayInput,
  type RelaySummary,
  type UncheckedSource,
} from './types.js';

/** Source secrets checked at once; each check reads metadata only. */
const CHECK_BATCH = 20;
const AUDIT_BATCH = 100;

/** Retry policy of the reconciliation's activities (listing, checks, audit, report): transient storage and vault errors. */
export function reconcileRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(5_000, 3);
  options.backoffCoefficient = 2;
  return options;
}

/** The audit status of a finding (see docs/audit.md). */
export function driftStatus(finding: DriftFinding): Extract<AuditEntry, { action: 'drift' }>['status'] {
  return DRIFT_INFO[finding.drift].auditStatus;
}

/**
 * Reconciles every routed secret: compares each target's ownership metadata with the source's current version
 * (metadata reads only), relays only what drifted and can be repaired, audits the run and each finding, writes a
 * drift report blob. Each target is checked on its own: one that cannot be checked is a `check-failed` finding and
 * the others go on. Runs as the singleton instance `reconcile`, so at most one reconciliation runs at a time.
 */
export function* reconcile(context: OrchestrationContext): Generator<df.Task, ReconcileReport, unknown> {
  const input = context.df.getInput<ReconcileInput>();
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const runId = startedAt.replace(/[^0-9]/g, '').slice(0, 14);
  const entry = (fields: Omit<AuditEntry, 'cause' | 'instanceId' | 'at'>): AuditEntry =>
    ({ cause: input.cause, instanceId: context.df.instanceId, at: context.df.currentUtcDateTime.toISOString(), ...fields }) as AuditEntry;
  const audit = (entries: readonly AuditEntry[]) => context.df.callActivityWithRetry(ACTIVITIES.appendAudit, reconcileRetryOptions(), entries);

  yield audit([entry({ action: 'reconcile', status: 'ReconcileStarted' })]);
  try {
    const report = yield* run();
    const failed = report.checkFailed > 0 || report.unchecked.length > 0;
    yield audit([
      entry({
        action: 'reconcile',
        status: 'ReconcileCompleted',
        reason: failed ? 'checks-failed' : report.drift.length > 0 ? 'drift-found' : 'in-sync',
      }),
    ]);
    return report;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    yield audit([entry({ action: 'reconcile', status: 'ReconcileFailed', reason: 'run-failed', message: message.split('\n')[0]!.slice(0, 500) })]);
    throw error;
  }

  function* run(): Generator<df.Task, ReconcileReport, unknown> {
    context.df.setCustomStatus({ phase: 'listing' });
    const listing = (yield context.df.callActivityWithRetry(ACTIVITIES.listReconcileItems, reconcileRetryOptions(), {})) as ReconcileListing;
    const drift: DriftFinding[] = [];
    const unchecked: UncheckedSource[] = [...listing.unlistedSources];
    let checkedTargets = listing.inSync?.placements ?? 0;
    for (const batch of chunk(listing.items, CHECK_BATCH)) {
      const tasks = batch.map((item) => context.df.callActivityWithRetry(ACTIVITIES.checkDrift, reconcileRetryOptions(), item));
      try {
        yield context.df.Task.all(tasks);
      } catch {
        // collected one by one below
      }
      for (const [index, task] of tasks.entries()) {
        try {
          const result = (yield task) as DriftCheck;
          checkedTargets += result.checked;
          drift.push(...result.findings);
        } catch (error) {
          // The source itself could not be read after retries: recorded for the secret, the others go on.
          unchecked.push(sourceUnreadable(batch[index]!, error));
        }
      }
      context.df.setCustomStatus({ phase: 'checking', checked: checkedTargets, drift: drift.length });
    }

    const entries = [
      ...unchecked.map((failure) =>
        entry({
          action: 'drift',
          status: 'CheckFailed',
          ref: { sourceId: failure.sourceId, vaultUrl: failure.vaultUrl, ...(failure.name ? { name: failure.name } : {}) },
          reason: failure.reason,
          message: failure.message,
        }),
      ),
      ...drift.map((finding) =>
        entry({
          action: 'drift',
          status: driftStatus(finding),
          ref: finding.ref,
          target: { id: finding.targetId, kind: finding.kind, location: finding.location },
          reason: finding.reason ?? finding.drift,
          ...(finding.message !== undefined
            ? { message: finding.message }
            : finding.heldVersion
              ? { message: `target holds source version ${finding.heldVersion}` }
              : {}),
        }),
      ),
    ];
    for (const batch of chunk(entries, AUDIT_BATCH)) yield audit(batch);

    const repairable = drift.filter((finding) => REPAIRABLE_DRIFT.has(finding.drift) && finding.ref.version !== undefined);
    const unrepaired = drift.filter((finding) => !repairable.includes(finding));
    // One repair relay per drifted source version, restricted to the drifted targets.
    const groups = new Map<string, { ref: SecretVersionRef; targets: Set<string> }>();
    for (const finding of repairable) {
      const ref = finding.ref as SecretVersionRef;
      const key = `${ref.sourceId}/${ref.name}/${ref.version}`;
      const group = groups.get(key) ?? { ref, targets: new Set<string>() };
      group.targets.add(finding.targetId);
      groups.set(key, group);
    }
    context.df.setCustomStatus({ phase: 'repairing', drift: drift.length, repairs: groups.size });
    const repairs: { ref: SecretVersionRef; instanceId: string; summary: RelaySummary }[] = [];
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
          // the failed repair stays drifted and is retried by the next run; the relay audited its own failure
        }
      }
    }

    const report: ReconcileReport = {
      instanceId: context.df.instanceId,
      startedAt,
      checkedSecrets: listing.items.length + (listing.inSync?.secrets ?? 0),
      checkedTargets,
      checkFailed: drift.filter((finding) => finding.drift === 'check-failed').length,
      unchecked,
      drift,
      repairs,
      unrepaired,
      ...(listing.listPages !== undefined ? { listPages: listing.listPages } : {}),
    };
    const reportBlob = (yield context.df.callActivityWithRetry(ACTIVITIES.writeDriftReport, reconcileRetryOptions(), report)) as string;
    context.df.setCustomStatus({ phase: 'done', drift: drift.length, repairs: repairs.length });
    return { ...report, reportBlob };
  }
}

/** A secret whose source could not be read after the retries: none of its targets were checked. */
function sourceUnreadable(item: ReconcileItem, error: unknown): UncheckedSource {
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return {
    sourceId: item.sourceId,
    vaultUrl: item.vaultUrl,
    name: item.name,
    reason: /FailedAccessDenied/.test(text) ? 'source-access-denied' : 'source-unavailable',
    message: `the source could not be read, so no target of it was checked: ${text.slice(0, 400)}`,
  };
}
