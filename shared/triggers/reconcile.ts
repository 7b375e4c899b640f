import { ORCHESTRATIONS, RECONCILE_INSTANCE_ID } from '../orchestrations/names.js';
import type { Actor, ReconcileInput } from '../orchestrations/types.js';
import type { RelayRuntime } from '../runtime.js';
import type { EventHandling, OrchestrationClientPort } from './ports.js';

/** Starts the singleton reconciliation unless one is already running. */
export async function startReconcile(actor: Actor, runtime: RelayRuntime, client: OrchestrationClientPort): Promise<EventHandling> {
  const input: ReconcileInput = { cause: { actor, trigger: 'reconcile' } };
  const started = await client.start(ORCHESTRATIONS.reconcile, RECONCILE_INSTANCE_ID, input);
  const detail =
    started === 'started' ? 'reconciliation started' : 'reconciliation skipped: the previous run is still in progress';
  runtime.log.info(detail);
  return { result: started === 'started' ? 'started' : 'duplicate', instanceId: RECONCILE_INSTANCE_ID, detail };
}
