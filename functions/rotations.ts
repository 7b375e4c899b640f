import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { orchestrationClientPort } from '../shared/orchestrations/client.js';
import { actorFromHeaders, getRotationStatus, startRotationRequest } from '../shared/triggers/index.js';

/**
 * `POST /api/rotations` `{ source, name, mode: "relay" | "rotate", targets? }` → 202 with status URLs;
 * `GET /api/rotations/{id}` → status with per-target outcomes. Function key required.
 */
export async function rotations(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  const port = orchestrationClientPort(client);
  if (request.method === 'GET') {
    const id = request.params.id;
    if (!id) return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'GET needs an id: /api/rotations/{id}' } };
    return getRotationStatus(id, port);
  }
  if (request.params.id) return { status: 405, jsonBody: { error: 'MethodNotAllowed', message: 'POST to /api/rotations without an id' } };
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'the body is not valid JSON' } };
  }
  const actor = actorFromHeaders((name) => request.headers.get(name));
  const answer = await startRotationRequest(body, actor, new URL(request.url).origin, getRuntime(), port);
  if (answer.status === 202) {
    const id = (answer.jsonBody as { id: string }).id;
    const management = client.createHttpManagementPayload(id);
    context.log(`rotations: started ${id} for ${actor.id}`);
    return { ...answer, jsonBody: { ...(answer.jsonBody as object), management } };
  }
  return answer;
}

df.app.client.http('rotations', {
  route: 'rotations/{id?}',
  methods: ['GET', 'POST'],
  authLevel: 'function',
  handler: rotations,
});
