import { app } from '@azure/functions';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getRuntime } from '../shared/composition.js';
import { getFleetStatus, getTargetStatus } from '../shared/triggers/index.js';

/**
 * `GET /api/secrets?source=&target=&state=&outOfSync=true` → every routed secret × placement from list pages (see
 * docs/http-api.md). Function key required.
 */
export async function fleetSecrets(request: HttpRequest): Promise<HttpResponseInit> {
  return getFleetStatus((name) => request.query.get(name), getRuntime());
}

/** `GET /api/targets/{id}` → every placement of one target. Function key required. */
export async function targetStatus(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id;
  if (!id) return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'use /api/targets/{id}' } };
  return getTargetStatus(id, getRuntime());
}

app.http('fleetSecrets', { route: 'secrets', methods: ['GET'], authLevel: 'function', handler: fleetSecrets });
app.http('targetStatus', { route: 'targets/{id}', methods: ['GET'], authLevel: 'function', handler: targetStatus });
