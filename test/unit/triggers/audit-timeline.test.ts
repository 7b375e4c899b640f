import { describe, expect, it } from 'vitest';
import type { AuditQueryFilter, AuditRecord } from '../../../shared/audit/index.js';
import { STATUS_INFO } from '../../../shared/domain/statuses.js';
import { getAuditTimeline } from '../../../shared/triggers/index.js';
import { fakeRuntime, PLATFORM, V1 } from './fakes.js';

function record(time: string, status: string): AuditRecord {
  return {
    v: 1, id: time, time, actor: { kind: 'event', id: 'kv' }, cause: { eventId: null, instanceId: 'relay:platform:db-a:1' },
    source: { vault: PLATFORM, name: 'db-a', version: V1 }, target: { id: 'fabrikam', kind: 'keyVault', location: 'fabrikam/db-a' },
    action: 'deliver', status, reason: null, fingerprint: null, error: null, seq: 0, chain: 'sha256', prev: '', hash: '',
  } as AuditRecord;
}

function withTrail(records: AuditRecord[]) {
  const { runtime } = fakeRuntime();
  const filters: AuditQueryFilter[] = [];
  (runtime.audit as { query?: unknown }).query = async (filter: AuditQueryFilter) => {
    filters.push(filter);
    return { records, duplicates: 0, blobsRead: 1, unreadableLines: 0 };
  };
  return { runtime, filters };
}

describe('GET /api/audit', () => {
  it('asks the trail for the source vault, secret and target of the last days and answers newest first within the limit', async () => {
    const { runtime, filters } = withTrail([record('2026-11-24T09:00:00.000Z', 'Created'), record('2026-11-24T09:30:00.000Z', 'FailedAccessDenied')]);
    const answer = await getAuditTimeline({ source: 'platform', secret: 'db-a', target: 'fabrikam', days: '2', limit: '1' }, runtime);
    expect(answer.status).toBe(200);
    expect(filters).toEqual([{ sourceVault: PLATFORM, secret: 'db-a', target: 'fabrikam', from: new Date('2026-11-22T10:00:00Z'), to: new Date('2026-11-24T10:00:00Z') }]);
    const body = answer.jsonBody as { records: { status: string; target: { id: string }; hint?: string }[]; truncated: boolean };
    expect(body.records.map((r) => r.status)).toEqual(['FailedAccessDenied']);
    expect(body.records[0]).toMatchObject({ source: { sourceId: 'platform', name: 'db-a' }, hint: STATUS_INFO.FailedAccessDenied.hint });
    expect(body.truncated).toBe(true);
  });

  it.each([
    [{ days: '0' }, 'days'],
    [{ days: '91' }, 'days'],
    [{ limit: 'ten' }, 'limit'],
    [{ source: 'nowhere' }, 'source'],
    [{ secret: 'bad_name' }, 'secret'],
    [{ target: 'nowhere' }, 'target'],
    [{ action: 'explode' }, 'action'],
  ])('refuses %o with 400 naming %s', async (query, name) => {
    const { runtime, filters } = withTrail([]);
    const answer = await getAuditTimeline(query, runtime);
    expect(answer.status).toBe(400);
    expect((answer.jsonBody as { message: string }).message.startsWith(`${name}:`)).toBe(true);
    expect(filters).toEqual([]);
  });

  it('answers 501 when the runtime cannot read the trail, and 502 naming the storage problem when the read fails', async () => {
    const { runtime } = fakeRuntime();
    expect((await getAuditTimeline({}, runtime)).status).toBe(501);
    (runtime.audit as { query?: unknown }).query = async () => {
      throw new Error('AuthorizationPermissionMismatch');
    };
    const failed = await getAuditTimeline({ secret: 'db-a' }, runtime);
    expect(failed.status).toBe(502);
    expect((failed.jsonBody as { message: string }).message).toContain('AuthorizationPermissionMismatch');
  });
});
