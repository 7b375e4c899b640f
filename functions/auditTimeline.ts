import { app } from '@azure/functions';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getRuntime } from '../shared/composition.js';
import { getAuditTimeline } from '../shared/triggers/index.js';

/** `GET /api/audit?source=&secret=&target=&action=&days=&limit=` → matching audit records, newest first (no values). */
export async function auditTimeline(request: HttpRequest): Promise<HttpResponseInit> {
  const q = (name: string) => request.query.get(name);
  return getAuditTimeline(
    { source: q('source'), secret: q('secret'), target: q('target'), action: q('action'), days: q('days'), limit: q('limit') },
    getRuntime(),
  );
}

app.http('auditTimeline', { route: 'audit', methods: ['GET'], authLevel: 'function', handler: auditTimeline });
