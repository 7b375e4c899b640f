import { DRIFT_INFO, type DriftKind } from '../domain/drift.js';
import { isDeliveryStatus, STATUS_INFO } from '../domain/statuses.js';
import type { DeliveryResult, ReconcileReport } from '../orchestrations/types.js';

/** One finding of a reconciliation, as operators read it. */
export interface DriftReportFinding {
  readonly source: string;
  readonly name: string;
  /** The source version the target should hold (null when unknown: disabled or deleted source). */
  readonly version: string | null;
  readonly targetId: string;
  readonly location: string;
  readonly drift: DriftKind;
  readonly heldVersion: string | null;
  readonly reason: string | null;
  readonly hint: string;
  /** `repaired` (the repair delivery succeeded), `repair-failed`, or `not-repaired` (a kind the relay leaves alone). */
  readonly outcome: 'repaired' | 'repair-failed' | 'not-repaired';
  /** Status of the repair delivery, when one ran. */
  readonly repairStatus: string | null;
}

export interface DriftReportRepair {
  readonly source: string;
  readonly name: string;
  readonly version: string;
  readonly instanceId: string;
  readonly ok: boolean;
  readonly outcomes: readonly { readonly targetId: string; readonly location: string; readonly status: string; readonly reason: string; readonly hint?: string }[];
}

/** A reconciliation report for `GET /api/rotations/reconcile` and `secret-relay drift`: findings with what became of each. */
export interface DriftReportView {
  readonly startedAt: string;
  readonly instanceId: string;
  readonly checkedSecrets: number;
  readonly checkedTargets: number;
  readonly checkFailed: number;
  readonly listPages: number | null;
  readonly reportBlob: string | null;
  readonly counts: { readonly findings: number; readonly repaired: number; readonly repairFailed: number; readonly notRepaired: number };
  readonly findings: readonly DriftReportFinding[];
  readonly repairs: readonly DriftReportRepair[];
  readonly unchecked: ReconcileReport['unchecked'];
}

/** Turns a stored or returned reconciliation report into its readable view (pure). */
export function driftReportView(report: ReconcileReport): DriftReportView {
  const outcomeOf = new Map<string, DeliveryResult>();
  for (const repair of report.repairs) {
    for (const outcome of repair.summary?.outcomes ?? []) outcomeOf.set(`${repair.ref.sourceId}/${repair.ref.name.toLowerCase()}/${outcome.targetId}`, outcome);
  }
  const findings = report.drift.map((finding): DriftReportFinding => {
    const delivered = outcomeOf.get(`${finding.ref.sourceId}/${finding.ref.name.toLowerCase()}/${finding.targetId}`);
    const repairable = DRIFT_INFO[finding.drift].repaired;
    const ok = delivered && isDeliveryStatus(delivered.status) ? STATUS_INFO[delivered.status].ok : false;
    return {
      source: finding.ref.sourceId,
      name: finding.ref.name,
      version: finding.ref.version ?? null,
      targetId: finding.targetId,
      location: finding.location,
      drift: finding.drift,
      heldVersion: finding.heldVersion ?? null,
      reason: finding.reason ?? null,
      hint: DRIFT_INFO[finding.drift].hint,
      outcome: !repairable || !finding.ref.version ? 'not-repaired' : ok ? 'repaired' : 'repair-failed',
      repairStatus: delivered?.status ?? null,
    };
  });
  const repairs = report.repairs.map((repair): DriftReportRepair => ({
    source: repair.ref.sourceId,
    name: repair.ref.name,
    version: repair.ref.version,
    instanceId: repair.instanceId,
    ok: repair.summary?.ok ?? false,
    outcomes: (repair.summary?.outcomes ?? []).map((o) => ({
      targetId: o.targetId,
      location: o.location,
      status: o.status,
      reason: o.reason,
      ...(isDeliveryStatus(o.status) && !STATUS_INFO[o.status].ok ? { hint: o.hint ?? STATUS_INFO[o.status].hint } : {}),
    })),
  }));
  return {
    startedAt: report.startedAt,
    instanceId: report.instanceId,
    checkedSecrets: report.checkedSecrets,
    checkedTargets: report.checkedTargets,
    checkFailed: report.checkFailed,
    listPages: report.listPages ?? null,
    reportBlob: report.reportBlob ?? null,
    counts: {
      findings: findings.length,
      repaired: findings.filter((f) => f.outcome === 'repaired').length,
      repairFailed: findings.filter((f) => f.outcome === 'repair-failed').length,
      notRepaired: findings.filter((f) => f.outcome === 'not-repaired').length,
    },
    findings,
    repairs,
    unchecked: report.unchecked ?? [],
  };
}

/** True when a value looks like a reconciliation report (an orchestration output or a stored blob). */
export function isReconcileReport(value: unknown): value is ReconcileReport {
  const v = value as Partial<ReconcileReport> | null | undefined;
  return !!v && typeof v === 'object' && Array.isArray(v.drift) && Array.isArray(v.repairs) && typeof v.startedAt === 'string';
}
