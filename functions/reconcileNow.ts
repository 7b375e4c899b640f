import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import { getRuntime } from '../shared/composition.js';
import { operatorOf, reconcileNowRequest, reconcileStatusRequest } from '../shared/control/index.js';
import { orchestrationClientPort } from '../shared/orchestrations/client.js';

/**
 * `POST /api/reconcile` starts the reconciliation now (the operator is its actor); `GET /api/reconcile` → its
 * status and, once done, the drift it found and repaired. Function key required.
 */
export async function reconcileNow(request: HttpRequest, client: DurableClient): Promise<HttpResponseInit> {
  const port = orchestrationClientPort(client);
  if (request.method === 'GET') return reconcileStatusRequest(port);
  const runtime = getRuntime();
  const actor = operatorOf((name) => request.headers.get(name), request.query.get('code') ?? request.headers.get('x-functions-key'), runtime);
  return reconcileNowRequest(actor, new URL(request.url).origin, runtime, port);
}

df.app.client.http('reconcileNow', { route: 'reconcile', methods: ['GET', 'POST'], authLevel: 'function', handler: reconcileNow });
