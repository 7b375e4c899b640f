import { app } from '@azure/functions';
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { eventTriggerPortOf } from '../shared/orchestrations/client.js';
import type { OrchestrationClientPort } from '../shared/triggers/index.js';
import { handleRotationEvent } from '../shared/triggers/index.js';

/**
 * Event Grid trigger (CloudEvents schema) for platform rotation events: `SecretRelay.CredentialRotated` relays the
 * version a platform wrote, `SecretRelay.RotationRequested` generates and relays a new value. See docs/events.md.
 */
export async function credentialRotationEvents(event: unknown, client: OrchestrationClientPort, context: InvocationContext): Promise<void> {
  const handled = await handleRotationEvent(event, getRuntime(), client);
  context.log(`credentialRotationEvents: ${handled.result}: ${handled.detail}`);
}

// As df.app.client.eventGrid registers it, with one orchestration port reused across invocations.
app.eventGrid('credentialRotationEvents', {
  extraInputs: [df.input.durableClient()],
  handler: (event, context) => credentialRotationEvents(event, eventTriggerPortOf(context), context),
});
