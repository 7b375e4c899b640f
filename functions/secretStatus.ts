import { app } from '@azure/functions';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getRuntime } from '../shared/composition.js';
import { getSecretStatus } from '../shared/triggers/index.js';

/** `GET /api/secrets/{source}/{name}` → each target's current state from its ownership metadata (no values). */
export async function secretStatus(request: HttpRequest): Promise<HttpResponseInit> {
  const { source, name } = request.params;
  if (!source || !name) return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'use /api/secrets/{source}/{name}' } };
  return getSecretStatus(source, name, getRuntime());
}

app.http('secretStatus', { route: 'secrets/{source}/{name}', methods: ['GET'], authLevel: 'function', handler: secretStatus });
