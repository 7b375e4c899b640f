import { describe, expect, it } from 'vitest';
import type { DeliveryStatus } from '../../../shared/domain/statuses.js';
import { STATUS_INFO } from '../../../shared/domain/statuses.js';
import { MAX_CAUSE_IN_SUMMARY, MAX_FAILURES_IN_SUMMARY, relaySummaryLine } from '../../../shared/orchestrations/summaryLog.js';
import type { DeliveryResult, RelaySummary } from '../../../shared/orchestrations/types.js';
import { levelSink, type LogEntry } from '../../../local/host/log.js';

const REF = { sourceId: 'platform', vaultUrl: 'https://platform.vault.azure.net', name: 'db-password', version: 'v1' };

function summaryOf(statuses: readonly DeliveryStatus[]): RelaySummary {
  const outcomes: DeliveryResult[] = statuses.map((status, i) => ({
    deliveryId: `r/t${i}/db-password`,
    routeId: 'r',
    targetId: `t${i}`,
    kind: 'keyVault',
    location: `t${i}.vault.azure.net/db-password`,
    status,
    reason: status === 'FailedAccessDenied' ? 'access-denied' : 'older-version',
  }));
  const counts: Partial<Record<DeliveryStatus, number>> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  const failed = statuses.filter((s) => !STATUS_INFO[s].ok).length;
  return { ref: REF, planned: statuses.length, outcomes, counts, ok: failed === 0, failed };
}

describe('the summary line of a relay', () => {
  it('a 500-target fan-out is one line of counts', () => {
    const line = relaySummaryLine('relay:x', summaryOf([...Array(450).fill('UpToDate'), ...Array(50).fill('Updated')]));
    expect(line).toBe('relay relay:x: 500 deliveries: 50 Updated, 450 UpToDate');
    expect(line).not.toContain('\n');
  });

  it('names the first failures with their hints and counts the rest', () => {
    const statuses: DeliveryStatus[] = [...Array(480).fill('Updated'), ...Array(20).fill('FailedAccessDenied')];
    const line = relaySummaryLine('relay:x', summaryOf(statuses));
    expect(line).toMatch(/^relay relay:x: 500 deliveries: 20 FailedAccessDenied, 480 Updated; 20 failed: t480 FailedAccessDenied \(access-denied\) — /);
    expect(line.split(STATUS_INFO.FailedAccessDenied.hint).length - 1).toBe(MAX_FAILURES_IN_SUMMARY);
    expect(line).toContain(`t${480 + MAX_FAILURES_IN_SUMMARY - 1} FailedAccessDenied`);
    expect(line).not.toContain(`t${480 + MAX_FAILURES_IN_SUMMARY} FailedAccessDenied`);
    expect(line).toMatch(/; and 10 more$/);
    expect(line).not.toContain('\n');
  });

  it('names each failure\'s cause, on one line and cut when the target answered at length', () => {
    const summary = summaryOf(['Updated', 'FailedAccessDenied', 'FailedAccessDenied']);
    const outcomes = summary.outcomes.map((outcome, i) =>
      i === 1
        ? { ...outcome, message: 'Key Vault answered 403 Forbidden:\n  the caller lacks secrets/set on vault t1' }
        : i === 2
          ? { ...outcome, message: `Key Vault answered 403: ${'x'.repeat(500)}` }
          : outcome,
    );
    const line = relaySummaryLine('relay:x', { ...summary, outcomes });
    expect(line).toContain('t1 FailedAccessDenied (access-denied): Key Vault answered 403 Forbidden: the caller lacks secrets/set on vault t1 — ');
    expect(line).toContain(`t2 FailedAccessDenied (access-denied): Key Vault answered 403: ${'x'.repeat(MAX_CAUSE_IN_SUMMARY - 'Key Vault answered 403: '.length - 1)}… — `);
    expect(line).not.toContain('x'.repeat(MAX_CAUSE_IN_SUMMARY));
    expect(line).not.toContain('\n');
  });
});

describe('the local host log level', () => {
  it('drops entries below the minimum, as host.json logging.logLevel.default does', () => {
    const kept: LogEntry[] = [];
    const sink = levelSink((entry) => kept.push(entry), 'information');
    for (const level of ['trace', 'debug', 'information', 'warning', 'error', 'critical'] as const) {
      sink({ timestamp: '2026-12-01T00:00:00Z', level, category: 'host', message: level });
    }
    expect(kept.map((e) => e.level)).toEqual(['information', 'warning', 'error', 'critical']);
  });
});
