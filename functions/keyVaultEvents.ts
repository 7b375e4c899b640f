import { app } from '@azure/functions';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { eventTriggerPortOf } from '../shared/orchestrations/client.js';
import type { OrchestrationClientPort } from '../shared/triggers/index.js';
import { handleKeyVaultEvent } from '../shared/triggers/index.js';

/**
 * Event Grid trigger for Key Vault events from source vaults: SecretNewVersionCreated starts a relay,
 * SecretNearExpiry a rotation (when the route asks for it), SecretExpired is audited. A malformed event is audited
 * and acknowledged; a transient failure throws, so Event Grid redelivers.
 */
export async function keyVaultEvents(event: unknown, client: OrchestrationClientPort, context: InvocationContext): Promise<void> {
  const handled = await handleKeyVaultEvent(event, getRuntime(), client);
  context.log(`keyVaultEvents: ${handled.result}: ${handled.detail}`);
}

// As df.app.client.eventGrid registers it, with one orchestration port reused across invocations (a burst answers faster).
app.eventGrid('keyVaultEvents', { extraInputs: [df.input.durableClient()], handler: (event, context) => keyVaultEvents(event, eventTriggerPortOf(context), context) });
