import { app } from '@azure/functions';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { durableClientOf, orchestrationClientPort } from '../shared/orchestrations/client.js';
import { handleKeyVaultEvent } from '../shared/triggers/index.js';

/**
 * Event Grid trigger for Key Vault events from source vaults: SecretNewVersionCreated starts a relay,
 * SecretNearExpiry a rotation (when the route asks for it), SecretExpired is audited. A malformed event is audited
 * and acknowledged; a transient failure throws, so Event Grid redelivers.
 */
export async function keyVaultEvents(event: unknown, client: DurableClient, context: InvocationContext): Promise<void> {
  const handled = await handleKeyVaultEvent(event, getRuntime(), orchestrationClientPort(client));
  context.log(`keyVaultEvents: ${handled.result}: ${handled.detail}`);
}

// As df.app.client.eventGrid registers it, with the durable client reused across invocations (a burst answers faster).
app.eventGrid('keyVaultEvents', { extraInputs: [df.input.durableClient()], handler: (event, context) => keyVaultEvents(event, durableClientOf(context), context) });
