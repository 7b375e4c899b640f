import type { OrchestrationContext } from 'durable-functions';
import { isSuccess, STATUS_INFO } from '../domain/statuses.js';
import type { RelaySummary } from './types.js';

/** Failures named in a relay's summary line; the rest are counted (each also has its own warning or error line). */
export const MAX_FAILURES_IN_SUMMARY = 10;

/** A failure's cause as the summary names it: long target answers are cut, so the line stays one readable line. */
export const MAX_CAUSE_IN_SUMMARY = 200;

/**
 * The one line that sums up a finished relay: its counts by status and, when deliveries failed, the first failures
 * with their causes and hints. Under a 500-target fan-out this is what the console shows (successful deliveries log
 * at debug).
 */
export function relaySummaryLine(instanceId: string, summary: RelaySummary): string {
  const counts = Object.entries(summary.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${count} ${status}`)
    .join(', ');
  const head = `relay ${instanceId}: ${summary.planned} ${summary.planned === 1 ? 'delivery' : 'deliveries'}: ${counts || 'none'}`;
  if (summary.failed === 0) return head;
  const failures = summary.outcomes.filter((outcome) => !isSuccess(outcome.status));
  const named = failures
    .slice(0, MAX_FAILURES_IN_SUMMARY)
    .map((outcome) => `${outcome.targetId} ${outcome.status} (${outcome.reason})${causeOf(outcome)} — ${outcome.hint ?? STATUS_INFO[outcome.status].hint}`);
  const more = failures.length > named.length ? `; and ${failures.length - named.length} more` : '';
  return `${head}; ${summary.failed} failed: ${named.join('; ')}${more}`;
}

function causeOf(outcome: RelaySummary['outcomes'][number]): string {
  const message = outcome.message?.replace(/\s+/g, ' ').trim();
  if (!message) return '';
  return `: ${message.length > MAX_CAUSE_IN_SUMMARY ? `${message.slice(0, MAX_CAUSE_IN_SUMMARY - 1)}…` : message}`;
}

/** Logs the summary line: information when every delivery succeeded, warning otherwise. Not while replaying. */
export function logRelaySummary(context: OrchestrationContext, summary: RelaySummary): void {
  if (context.df.isReplaying) return;
  const line = relaySummaryLine(context.df.instanceId, summary);
  if (summary.failed > 0) context.warn(line);
  else context.info(line);
}
