import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { orchestrationClientPort } from '../shared/orchestrations/client.js';
import { handleRotationEvent } from '../shared/triggers/index.js';

/**
 * Event Grid trigger (CloudEvents schema) for platform rotation events: `SecretRelay.CredentialRotated` relays the
 * version a platform wrote, `SecretRelay.RotationRequested` generates and relays a new value. See docs/events.md.
 */
export async function credentialRotationEvents(event: unknown, client: DurableClient, context: InvocationContext): Promise<void> {
  const handled = await handleRotationEvent(event, getRuntime(), orchestrationClientPort(client));
  context.log(`credentialRotationEvents: ${handled.result}: ${handled.detail}`);
}

df.app.client.eventGrid('credentialRotationEvents', { handler: credentialRotationEvents });
