import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';
import { createClusterAccess, createKubernetesTarget } from '../../../shared/targets/kubernetes/index.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import { FINGERPRINT_KEY, sourceVersion } from './support.js';

// A Kubernetes delivery reads its Secret once and writes once, whatever `versionsToKeep` is, and does not read its
// cluster credential from the source vault on every delivery.

let emulator: KubernetesEmulator;
beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'aks-2', namespaces: ['apps', 'web'] });
});
afterAll(async () => {
  await emulator?.close();
});

const policy = { adopt: false, recoverDeleted: true };
const cluster = () => ({ name: 'aks-2', server: emulator.server, caCert: emulator.caCertPem, auth: { type: 'tokenSecret' as const, source: 'platform', secret: 'aks-2-token' } });

/** A target over the relay's token, kept for an hour, with a budget that never waits. */
const relayTarget = () =>
  createKubernetesTarget({
    targetId: 'aks-2',
    cluster: cluster(),
    namespace: 'apps',
    readSecretValue: async () => emulator.tokens.relay!,
    storedCredentialTtlInMs: 3_600_000,
    fingerprintKey: FINGERPRINT_KEY,
    writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
  });

/** An access over the relay's token that counts its reads of the stored credential. */
function countingAccess(options: { storedCredentialTtlInMs: number; clock?: () => number }) {
  const reads = { count: 0 };
  const access = createClusterAccess({
    cluster: cluster(),
    readSecretValue: async () => {
      reads.count++;
      return emulator.tokens.relay!;
    },
    ...options,
  });
  return { access, reads };
}

describe('Kubernetes delivery cost', () => {
  it('keeps a stored token for its TTL, then reads it again', async () => {
    let now = 1_000_000;
    const { access, reads } = countingAccess({ storedCredentialTtlInMs: 60_000, clock: () => now });
    await Promise.all([access.kubeConfig(), access.kubeConfig(), access.kubeConfig()]);
    expect(reads.count).toBe(1);
    now += 61_000;
    await access.kubeConfig();
    expect(reads.count).toBe(2);
    access.invalidate();
    await access.kubeConfig();
    expect(reads.count).toBe(3);
  });

  it('a 401 with a kept token reads the stored token again once (it was rotated), then delivers', async () => {
    let stored = 'rotated-away-token';
    let reads = 0;
    const target = createKubernetesTarget({
      targetId: 'aks-2',
      cluster: cluster(),
      namespace: 'apps',
      readSecretValue: async () => {
        reads++;
        return stored;
      },
      storedCredentialTtlInMs: 3_600_000,
      fingerprintKey: FINGERPRINT_KEY,
      writeBudget: new WriteBudget({ writes: 100, perSeconds: 1 }),
    });
    const v = sourceVersion('rotated');
    // The first read keeps a token the cluster no longer accepts; meanwhile the source holds the new one.
    const first = await target.deliver({ placement: { name: 'via-rotated', key: 'k' }, source: v.facts, value: v.value, policy });
    expect(first).toMatchObject({ status: 'FailedAccessDenied', reason: 'unauthenticated' });
    expect(reads).toBe(2);
    stored = emulator.tokens.relay!;
    expect((await target.deliver({ placement: { name: 'via-rotated', key: 'k' }, source: v.facts, value: v.value, policy })).status).toBe('Created');
    expect(reads).toBe(3);
    const v2 = sourceVersion('rotated');
    expect((await target.deliver({ placement: { name: 'via-rotated', key: 'k' }, source: v2.facts, value: v2.value, policy })).status).toBe('Updated');
    expect(reads).toBe(3);
  });

  it.each([1, 5])('one GET and one write per delivery with versionsToKeep %i, however many versions came before', async (versionsToKeep) => {
    const target = relayTarget();
    const placement = { name: `history-${versionsToKeep}`, key: 'k' };
    for (let i = 0; i < 8; i++) {
      const v = sourceVersion(`history-${versionsToKeep}`);
      const before = emulator.counters();
      const outcome = await target.deliver({ placement, source: v.facts, value: v.value, policy: { ...policy, versionsToKeep } });
      expect(outcome.status).toBe(i === 0 ? 'Created' : 'Updated');
      const after = emulator.counters();
      const delta = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
      expect({ get: delta('get secrets'), writes: delta('create secrets') + delta('update secrets') + delta('patch secrets') }).toEqual({ get: 1, writes: 1 });
    }
  });
});

describe('Kubernetes connections', () => {
  it('deliveries one after another reuse one TLS connection (the client library opened one per request)', async () => {
    const target = relayTarget();
    const before = emulator.tlsConnections();
    const requestsBefore = emulator.counters().total;
    for (let i = 0; i < 10; i++) {
      const v = sourceVersion(`pooled-${i}`);
      expect((await target.deliver({ placement: { name: `pooled-${i}`, key: 'k' }, source: v.facts, value: v.value, policy })).status).toBe('Created');
    }
    await target.settle?.();
    // 10 deliveries × (read + create) and their Events: 30 requests, which opened 30 connections before; now a few
    // kept-alive ones (Events run beside the next delivery's read, so the pool holds more than one).
    expect(emulator.counters().total - requestsBefore).toBeGreaterThanOrEqual(20);
    expect(emulator.tlsConnections() - before).toBeLessThanOrEqual(4);
  });

  it('targets of one cluster sharing its access (as the composition root builds them) read the stored token once and share its connections', async () => {
    const { access, reads } = countingAccess({ storedCredentialTtlInMs: 3_600_000 });
    const targets = ['apps', 'web', 'apps', 'web'].map((namespace, i) =>
      createKubernetesTarget({
        targetId: `aks-2-${namespace}-${i}`,
        cluster: cluster(),
        namespace,
        access,
        fingerprintKey: FINGERPRINT_KEY,
        writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
      }),
    );
    const before = emulator.tlsConnections();
    for (const [i, target] of targets.entries()) {
      const v = sourceVersion(`shared-${i}`);
      expect((await target.deliver({ placement: { name: `shared-${i}`, key: 'k' }, source: v.facts, value: v.value, policy })).status).toBe('Created');
    }
    await Promise.all(targets.map((t) => t.settle?.()));
    expect(reads.count).toBe(1);
    expect(emulator.tlsConnections() - before).toBeLessThanOrEqual(3);
  });
});
