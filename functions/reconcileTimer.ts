import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { orchestrationClientPort } from '../shared/orchestrations/client.js';
import { startReconcile } from '../shared/triggers/index.js';

/** Default: every 15 minutes. Override with the RECONCILE_SCHEDULE setting (NCRONTAB, six fields). */
export const DEFAULT_RECONCILE_SCHEDULE = '0 */15 * * * *';

/** Starts the singleton reconciliation; a run still in progress makes this tick a no-op. */
export async function reconcileTimer(timer: Timer, client: DurableClient, context: InvocationContext): Promise<void> {
  const handled = await startReconcile({ kind: 'timer', id: 'reconcileTimer' }, getRuntime(), orchestrationClientPort(client));
  context.log(`reconcileTimer: ${handled.detail}${timer.isPastDue ? ' (past due)' : ''}`);
}

df.app.client.timer('reconcileTimer', {
  schedule: process.env.RECONCILE_SCHEDULE || DEFAULT_RECONCILE_SCHEDULE,
  handler: reconcileTimer,
});
