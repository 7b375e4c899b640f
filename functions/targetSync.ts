import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { operatorOf, targetSyncRequest } from '../shared/control/index.js';
import { orchestrationClientPort } from '../shared/orchestrations/client.js';

/** `POST /api/targets/{id}/sync` → 202 with one relay per secret routed to the target (re-push). Function key. */
export async function targetSync(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id;
  if (!id) return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'use /api/targets/{id}/sync' } };
  const runtime = getRuntime();
  const actor = operatorOf((name) => request.headers.get(name), request.query.get('code') ?? request.headers.get('x-functions-key'), runtime);
  return targetSyncRequest(id, actor, new URL(request.url).origin, runtime, orchestrationClientPort(client));
}

df.app.client.http('targetSync', { route: 'targets/{id}/sync', methods: ['POST'], authLevel: 'function', handler: targetSync });
