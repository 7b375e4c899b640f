import { createHmac } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { orchestrationClientPort } from '../shared/orchestrations/client.js';
import { actorFromRequest, getRotationStatus, isAppServiceAuthEnabled, startRotationRequest } from '../shared/triggers/index.js';

/**
 * `POST /api/rotations` `{ source, name, mode: "relay" | "rotate", targets? }` → 202 with the relay's own status URL
 * (never the durable management URLs: they carry the `durabletask_extension` system key, which a function-key caller
 * was not given); `GET /api/rotations/{id}` → status with per-target outcomes. Function key required.
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
  const runtime = getRuntime();
  const actor = actorFromRequest((name) => request.headers.get(name), {
    appServiceAuthEnabled: isAppServiceAuthEnabled(process.env),
    presentedKey: request.query.get('code') ?? request.headers.get('x-functions-key'),
    labelKey: (key) => createHmac('sha256', runtime.fingerprintKey.secret).update(`function-key:${key}`).digest('hex').slice(0, 12),
  });
  const answer = await startRotationRequest(body, actor, new URL(request.url).origin, runtime, port);
  if (answer.status === 202) context.log(`rotations: started ${(answer.jsonBody as { id: string }).id} for ${actor.id}`);
  return answer;
}

df.app.client.http('rotations', {
  route: 'rotations/{id?}',
  methods: ['GET', 'POST'],
  authLevel: 'function',
  handler: rotations,
});
