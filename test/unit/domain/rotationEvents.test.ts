import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRotationEvent, rotationEventJsonSchema } from '../../../shared/domain/rotationEvents.js';

const valid = {
  specversion: '1.0',
  id: 'evt-1',
  source: '/platform/rotator',
  type: 'SecretRelay.CredentialRotated',
  time: '2026-11-24T10:00:00Z',
  data: { source: 'platform', name: 'cluster-admin-password', version: '0123456789abcdef0123456789abcdef' },
};

describe('parseRotationEvent', () => {
  it('accepts both event types', () => {
    expect(parseRotationEvent(valid)).toMatchObject({ ok: true, event: { type: 'SecretRelay.CredentialRotated' } });
    const requested = { ...valid, type: 'SecretRelay.RotationRequested', data: { source: 'platform', name: 'bmc-1', reason: 'quarterly' } };
    expect(parseRotationEvent(requested)).toMatchObject({ ok: true, event: { data: { name: 'bmc-1' } } });
  });

  it.each([
    ['not an object', 'nope', 'not-an-object'],
    ['unknown type', { ...valid, type: 'Microsoft.KeyVault.SecretNewVersionCreated' }, 'unknown-type'],
    ['bad name', { ...valid, data: { ...valid.data, name: 'bad_name' } }, 'invalid'],
    ['bad version', { ...valid, data: { ...valid.data, version: 'v1' } }, 'invalid'],
    ['missing id', { ...valid, id: undefined }, 'invalid'],
    ['wrong specversion', { ...valid, specversion: '0.3' }, 'invalid'],
  ])('rejects %s with a named reason', (_, raw, reason) => {
    expect(parseRotationEvent(raw)).toMatchObject({ ok: false, reason });
  });

  it('refuses a value in data without echoing it', () => {
    const leaked = 'hunter2-do-not-echo';
    const result = parseRotationEvent({ ...valid, data: { ...valid.data, value: leaked } });
    expect(result).toMatchObject({ ok: false, reason: 'value-present' });
    expect(JSON.stringify(result)).not.toContain(leaked);
  });

  it('names every problem with its path', () => {
    const result = parseRotationEvent({ ...valid, data: { source: '', name: 'x y', extra: 1 } });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.detail).toContain('$.data.source');
      expect(result.detail).toContain('$.data.name');
      expect(result.detail).toContain('extra');
    }
  });
});

describe('docs/events.schema.json', () => {
  it('is the schema the parser enforces (regenerate with npx tsx docs/gen-events-schema.ts)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../docs/events.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(rotationEventJsonSchema());
  });
});
