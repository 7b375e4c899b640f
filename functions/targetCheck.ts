import { app } from '@azure/functions';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getRuntime } from '../shared/composition.js';
import { operatorOf, targetCheckRequest } from '../shared/control/index.js';

/** `POST /api/targets/{id}/check` → one named result per permission the relay needs there (audited). Function key. */
export async function targetCheck(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id;
  if (!id) return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'use /api/targets/{id}/check' } };
  const runtime = getRuntime();
  const actor = operatorOf((name) => request.headers.get(name), request.query.get('code') ?? request.headers.get('x-functions-key'), runtime);
  return targetCheckRequest(id, actor, runtime, (targetId) => runtime.preflight!(targetId));
}

app.http('targetCheck', { route: 'targets/{id}/check', methods: ['POST'], authLevel: 'function', handler: targetCheck });
