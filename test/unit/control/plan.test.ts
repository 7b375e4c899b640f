import { describe, expect, it } from 'vitest';
import { planRelays, type PlanPorts } from '../../../shared/control/index.js';
import { validateConfig, type RelayConfig } from '../../../shared/domain/config.js';
import type { TargetObservation } from '../../../shared/domain/decision.js';

// planRelays over in-memory ports: which observation becomes which action, and what the plan concludes about
// fingerprints without reading a value. The emulator tests (test/e2e/control.e2e.test.ts) cover the real adapters.

const config = (() => {
  const result = validateConfig({
    mode: 'local',
    sources: [{ id: 'platform', vaultUrl: 'https://platform.vault.azure.net' }],
    targets: [{ id: 'contoso', kind: 'keyVault', vaultUrl: 'https://contoso.vault.azure.net' }],
    routes: [{ id: 'r', source: 'platform', match: { names: ['db'] }, targets: [{ target: 'contoso', name: '{name}', recoverDeleted: false }] }],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config as RelayConfig;
})();

const owner = 'platform.vault.azure.net/db';
const marks = (over: Record<string, unknown> = {}) => ({ source: owner, sourceVersion: 'v2', sourceCreatedOn: 200, fingerprint: 'hmac-sha256:k1:abc', ...over });

function ports(observation: TargetObservation | Error): PlanPorts {
  return {
    config,
    fingerprintKeyId: 'k1',
    source: () => ({
      async *listSecrets() {
        yield { name: 'db', tags: {}, enabled: true };
      },
      getLatestProperties: async () => ({ name: 'db', version: 'v2', createdOn: 200, enabled: true, tags: {} }),
    }),
    target: () => ({
      validate: () => [],
      observe: async () => {
        if (observation instanceof Error) throw observation;
        return observation;
      },
    }),
  };
}

describe('planRelays', () => {
  it.each<[string, TargetObservation | Error, string, string]>([
    ['absent', { state: 'absent' }, 'create', 'absent'],
    ['same version, current key', { state: 'present', marks: marks() }, 'none', 'same-version'],
    ['same version under another fingerprint key', { state: 'present', marks: marks({ fingerprint: 'hmac-sha256:k0:abc' }) }, 'update', 'fingerprint-changed'],
    ['same version, stored data edited (Kubernetes)', { state: 'present', marks: marks(), actualFingerprint: 'hmac-sha256:k1:zzz' }, 'update', 'value-drift'],
    ['older version', { state: 'present', marks: marks({ sourceVersion: 'v1', sourceCreatedOn: 100 }) }, 'update', 'older-version'],
    ['newer version', { state: 'present', marks: marks({ sourceVersion: 'v3', sourceCreatedOn: 300 }) }, 'skip-newer', 'newer-present'],
    ['foreign', { state: 'present' }, 'conflict', 'foreign'],
    ['other source', { state: 'present', marks: marks({ source: 'other.vault.azure.net/db' }) }, 'conflict', 'other-source'],
    ['overwritten by a foreign writer', { state: 'present', previouslyOwned: true }, 'update', 'overwritten-by-foreign-writer'],
    ['soft-deleted, recovery off', { state: 'deleted', marks: marks({ sourceVersion: 'v1', sourceCreatedOn: 100 }) }, 'blocked', 'deleted-recovery-disabled'],
    ['unreadable', Object.assign(new Error('Key Vault answered 403 Forbidden'), { statusCode: 403 }), 'blocked', 'access-denied'],
  ])('%s → %s', async (_label, observation, action, reason) => {
    const plan = await planRelays(ports(observation));
    expect(plan.items).toEqual([
      { source: 'platform', name: 'db', version: 'v2', targetId: 'contoso', placement: { name: 'db' }, action, reason, ...(action === 'blocked' && reason === 'access-denied' ? { message: 'Key Vault answered 403 Forbidden' } : {}) },
    ]);
    expect(plan.counts[action as keyof typeof plan.counts]).toBe(1);
    expect(Object.values(plan.counts).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('plans adopt and recover when the route allows them', async () => {
    const adopting = { ...config, routes: [{ ...config.routes[0]!, targets: [{ ...config.routes[0]!.targets[0]!, adopt: true, recoverDeleted: true }] }] };
    const base = ports({ state: 'present' });
    expect((await planRelays({ ...base, config: adopting })).items[0]).toMatchObject({ action: 'adopt', reason: 'foreign-adopt' });
    const deleted = ports({ state: 'deleted', marks: marks({ sourceVersion: 'v1', sourceCreatedOn: 100 }) });
    expect((await planRelays({ ...deleted, config: adopting })).items[0]).toMatchObject({ action: 'recover', reason: 'deleted-owned' });
  });

  it('reports a source it cannot list instead of failing the plan', async () => {
    const broken: PlanPorts = {
      ...ports({ state: 'absent' }),
      source: () => ({
        async *listSecrets() {
          throw Object.assign(new Error('Key Vault answered 503'), { statusCode: 503 });
        },
        getLatestProperties: async () => undefined,
      }),
    };
    const plan = await planRelays(broken);
    expect(plan.items).toEqual([]);
    expect(plan.unread).toEqual([{ source: 'platform', reason: 'unavailable', message: 'Key Vault answered 503' }]);
  });
});
