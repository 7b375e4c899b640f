import { AUDIT_ACTIONS, type AuditAction, type AuditQueryFilter } from '../audit/index.js';
import { isDeliveryStatus, STATUS_INFO } from '../domain/statuses.js';
import type { RelayRuntime } from '../runtime.js';
import type { HttpAnswer } from './http.js';

/** Query parameters of `GET /api/audit` (each optional). */
export interface AuditTimelineQuery {
  readonly source?: string | null;
  readonly secret?: string | null;
  readonly target?: string | null;
  readonly action?: string | null;
  readonly days?: string | null;
  readonly limit?: string | null;
}

const DEFAULT_DAYS = 7;
const MAX_DAYS = 90;
const DEFAULT_LIMIT = 200;
const MAX_LIMIT = 1000;
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;

/**
 * `GET /api/audit?source=&secret=&target=&action=&days=&limit=`: the audit records of the last `days` days (default 7,
 * at most 90) that match, newest first, at most `limit` (default 200, at most 1000; `truncated` says more matched).
 * Records carry references (with the source's config id), statuses, reasons, keyed fingerprints and, for a failed
 * delivery, its status's hint; never a value. Needs `Storage Blob Data
 * Reader` on the audit container. 400 naming the parameter for bad input, 501 when the runtime has no readable trail.
 */
export async function getAuditTimeline(query: AuditTimelineQuery, runtime: RelayRuntime): Promise<HttpAnswer> {
  const days = integer(query.days, 'days', DEFAULT_DAYS, 1, MAX_DAYS);
  if (typeof days === 'string') return badRequest(days);
  const limit = integer(query.limit, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
  if (typeof limit === 'string') return badRequest(limit);
  const filter: { -readonly [K in keyof AuditQueryFilter]: AuditQueryFilter[K] } = {};
  if (query.source) {
    const source = runtime.config.sources.find((s) => s.id === query.source);
    if (!source) return badRequest(`source: unknown source ${JSON.stringify(query.source.slice(0, 100))}; configured: ${runtime.config.sources.map((s) => s.id).join(', ')}`);
    filter.sourceVault = source.vaultUrl;
  }
  if (query.secret) {
    if (!SECRET_NAME.test(query.secret)) return badRequest(`secret: a Key Vault secret name is 1-127 ASCII letters, digits or dashes; got ${JSON.stringify(query.secret.slice(0, 140))}`);
    filter.secret = query.secret;
  }
  if (query.target) {
    if (!runtime.config.targets.some((t) => t.id === query.target)) return badRequest(`target: unknown target ${JSON.stringify(query.target.slice(0, 100))}`);
    filter.target = query.target;
  }
  if (query.action) {
    if (!AUDIT_ACTIONS.includes(query.action as AuditAction)) return badRequest(`action: one of ${AUDIT_ACTIONS.join(', ')}`);
    filter.action = query.action as AuditAction;
  }
  if (!runtime.audit.query) return { status: 501, jsonBody: { error: 'NotAvailable', message: 'this runtime has no readable audit trail' } };
  const to = runtime.now();
  const from = new Date(to.getTime() - days * 86_400_000);
  let result;
  try {
    result = await runtime.audit.query({ ...filter, from, to });
  } catch (error) {
    const message = error instanceof Error ? error.message.slice(0, 300) : 'unknown error';
    runtime.log.warn(`audit query failed: ${message}`);
    return { status: 502, jsonBody: { error: 'AuditUnavailable', message: `cannot read the audit trail: ${message}` } };
  }
  const newestFirst = [...result.records].reverse();
  // Records store the source vault's origin; callers (the console, the CLI) name sources by their config id.
  const sourceIds = new Map(runtime.config.sources.map((s) => [originOf(s.vaultUrl), s.id]));
  return {
    status: 200,
    jsonBody: {
      from: from.toISOString(),
      to: to.toISOString(),
      truncated: newestFirst.length > limit,
      records: newestFirst.slice(0, limit).map((r) => ({
        id: r.id,
        time: r.time,
        action: r.action,
        status: r.status,
        reason: r.reason,
        actor: r.actor,
        instanceId: r.cause.instanceId,
        source: r.source ? { ...r.source, sourceId: sourceIds.get(originOf(r.source.vault)) ?? null } : null,
        target: r.target,
        fingerprint: r.fingerprint,
        error: r.error,
        // A failed delivery carries its status's operator hint, as GET /api/rotations/{id} outcomes do.
        ...(isDeliveryStatus(r.status) && !STATUS_INFO[r.status].ok ? { hint: STATUS_INFO[r.status].hint } : {}),
      })),
      duplicates: result.duplicates,
      unreadableLines: result.unreadableLines,
    },
  };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin.toLowerCase();
  } catch {
    return url.toLowerCase();
  }
}

function integer(text: string | null | undefined, name: string, fallback: number, min: number, max: number): number | string {
  if (text === undefined || text === null || text === '') return fallback;
  const value = Number(text);
  return Number.isInteger(value) && value >= min && value <= max ? value : `${name}: an integer ${min}-${max}; got ${JSON.stringify(text.slice(0, 20))}`;
}

function badRequest(message: string): HttpAnswer {
  return { status: 400, jsonBody: { error: 'InvalidRequest', message } };
}
