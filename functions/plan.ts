import { app } from '@azure/functions';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { createRuntime, getRuntime } from '../shared/composition.js';
import { planRequest } from '../shared/control/index.js';

/**
 * `POST /api/plan` `{ config?, source?, name? }` → `{ items, counts, unread }`: what a relay would do now to every
 * routed target placement, from metadata only (no value read, nothing written). Function key required.
 */
export async function plan(request: HttpRequest): Promise<HttpResponseInit> {
  let body: unknown;
  try {
    const text = await request.text();
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    return { status: 400, jsonBody: { error: 'InvalidRequest', message: 'the body is not valid JSON' } };
  }
  const runtime = getRuntime();
  return planRequest(body, runtime, (config) => createRuntime(process.env, { config, log: runtime.log }));
}

app.http('plan', { route: 'plan', methods: ['POST'], authLevel: 'function', handler: plan });
