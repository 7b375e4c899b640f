import { describe, expect, it } from 'vitest';
import { DELIVERY_STATUSES, STATUS_INFO, type DeliveryStatus } from '../../../shared/domain/statuses.js';
import {
  createSecretEventRecorder,
  eventMessageOf,
  eventTypeOf,
  MAX_EVENT_MESSAGE_LENGTH,
  type EventWrite,
  type KubernetesEventsApi,
} from '../../../shared/targets/kubernetes/index.js';

/** An in-memory events API: what was created and bumped, optionally failing or hanging. */
function fakeEventsApi(behaviour: { create?: () => Promise<void> } = {}) {
  const created: EventWrite[] = [];
  const bumped: { name: string; count: number }[] = [];
  const api: KubernetesEventsApi = {
    async createEvent(event) {
      await (behaviour.create?.() ?? new Promise((r) => setImmediate(r)));
      created.push(event);
    },
    async bumpEvent(name, update) {
      if (!created.some((e) => e.name === name)) throw Object.assign(new Error('not found'), { code: 404, body: { reason: 'NotFound' } });
      bumped.push({ name, count: update.count });
    },
  };
  return { api, created, bumped };
}

const expected: Record<DeliveryStatus, 'Normal' | 'Warning' | undefined> = {
  Created: 'Normal',
  Updated: 'Normal',
  Recovered: 'Normal',
  Adopted: 'Normal',
  UpToDate: undefined,
  SkippedNewerPresent: undefined,
  FailedNotOwned: 'Warning',
  FailedAccessDenied: 'Warning',
  FailedThrottled: 'Warning',
  FailedUnavailable: 'Warning',
  FailedValidation: 'Warning',
  FailedImmutable: 'Warning',
  FailedSourceMissing: 'Warning',
};

describe('Kubernetes Event recorder', () => {
  it.each(DELIVERY_STATUSES.map((s) => [s, expected[s]] as const))('%s → %s', (status, type) => {
    expect(eventTypeOf(status)).toBe(type);
  });

  it('caps the message at the API server limit', () => {
    const message = eventMessageOf({ status: 'Updated', message: 'x'.repeat(5000) });
    expect(message).toHaveLength(MAX_EVENT_MESSAGE_LENGTH);
  });

  it('a failure Event names the status and hint, never the detail (it can quote the API server, which may echo object data)', () => {
    const message = eventMessageOf({ status: 'FailedValidation', message: 'admission webhook denied the request: data.password=hunter2' });
    expect(message).not.toContain('hunter2');
    expect(message).toContain(`Hint: ${STATUS_INFO.FailedValidation.hint}`);
  });

  it('concurrent identical outcomes create one Event and count on it', async () => {
    const fake = fakeEventsApi();
    const recorder = createSecretEventRecorder({ clusterName: 'c', namespace: 'ns' });
    const secret = { name: 'db', uid: 'u1' };
    await Promise.all([1, 2, 3].map(() => recorder.record(fake.api, secret, { status: 'FailedNotOwned' })));
    expect(fake.created).toHaveLength(1);
    expect(fake.bumped.map((b) => b.count).sort()).toEqual([2, 3]);
  });

  it('names Events <secret>.<hex> within 253 characters, also for the longest Secret names', async () => {
    const fake = fakeEventsApi();
    const recorder = createSecretEventRecorder({ clusterName: 'c', namespace: 'ns' });
    await recorder.record(fake.api, { name: 'a'.repeat(253) }, { status: 'Created' });
    await recorder.record(fake.api, { name: 'db' }, { status: 'Created' });
    expect(fake.created[0]!.name.length).toBeLessThanOrEqual(253);
    expect(fake.created[1]!.name).toMatch(/^db\.[0-9a-f]+$/);
  });

  it('a hung Event call is given up after the timeout and logged once; the record resolves', async () => {
    const lines: string[] = [];
    const fake = fakeEventsApi({ create: () => new Promise(() => {}) });
    const recorder = createSecretEventRecorder({ clusterName: 'c', namespace: 'ns', timeoutInMs: 20, log: { warn: (m) => void lines.push(m) } });
    await recorder.record(fake.api, { name: 'db' }, { status: 'FailedAccessDenied', message: 'deliver on c/ns/db: 403' });
    await recorder.record(fake.api, { name: 'db' }, { status: 'FailedAccessDenied', message: 'deliver on c/ns/db: 403' });
    expect(fake.created).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('not recorded (timeout)');
  });
});
