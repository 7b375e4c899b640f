import { validateConfig } from '../../../shared/domain/config.js';
import { fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import type { AuditEntry } from '../../../shared/orchestrations/types.js';
import type { RelayRuntime } from '../../../shared/runtime.js';
import type { InstanceStatus, OrchestrationClientPort } from '../../../shared/triggers/ports.js';

export const PLATFORM = 'https://platform.vault.azure.net';

/** A valid config: one source, two Key Vault targets, a rotating route for db-*, a plain route for api-key. */
export function testConfig() {
  const result = validateConfig({
    sources: [{ id: 'platform', vaultUrl: PLATFORM }],
    targets: [
      { id: 'contoso', kind: 'keyVault', vaultUrl: 'https://contoso.vault.azure.net' },
      { id: 'fabrikam', kind: 'keyVault', vaultUrl: 'https://fabrikam.vault.azure.net' },
    ],
    routes: [
      { id: 'db', source: 'platform', match: { globs: ['db-*'] }, targets: [{ target: 'contoso' }, { target: 'fabrikam' }], rotation: { generator: 'password', length: 20 } },
      { id: 'api', source: 'platform', match: { names: ['api-key'] }, targets: [{ target: 'contoso' }] },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

/** An in-memory runtime for trigger handler unit tests: source metadata, captured audit entries and logs. */
export function fakeRuntime(versions: Record<string, { version: string; tags?: Record<string, string> }[]> = {}) {
  const audit: AuditEntry[] = [];
  const logs: string[] = [];
  const runtime = {
    config: testConfig(),
    fingerprintKey: fingerprintKeyFrom('t1', 'k'.repeat(32)),
    source: () => ({
      async getVersionProperties(name: string, version: string) {
        const found = versions[name]?.find((v) => v.version === version);
        return found ? { version, createdOn: 1, enabled: true, tags: found.tags ?? {} } : undefined;
      },
      async getLatestProperties(name: string) {
        const found = versions[name]?.at(-1);
        return found ? { version: found.version, createdOn: 1, enabled: true, tags: found.tags ?? {} } : undefined;
      },
    }),
    target: () => {
      throw new Error('not used');
    },
    audit: { append: async (entries: readonly AuditEntry[]) => void audit.push(...entries), validate: () => undefined },
    reports: { writeDriftReport: async () => 'reports/x' },
    limits: { maxConcurrent: 50, maxPerEndpoint: 4 },
    generateValue: () => 'unused',
    log: { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) },
    now: () => new Date('2026-11-24T10:00:00Z'),
  } as unknown as RelayRuntime;
  return { runtime, audit, logs };
}

/** Orchestration instances in memory, with the extension's default dedupe rule (pending/running ids are refused). */
export function fakeClient() {
  const instances = new Map<string, InstanceStatus>();
  const starts: { name: string; instanceId: string; input: unknown }[] = [];
  const client: OrchestrationClientPort = {
    async start(name, instanceId, input) {
      const existing = instances.get(instanceId);
      if (existing && ['Pending', 'Running'].includes(existing.runtimeStatus)) return 'already-running';
      instances.set(instanceId, { instanceId, name, runtimeStatus: 'Running', input });
      starts.push({ name, instanceId, input });
      return 'started';
    },
    async status(instanceId) {
      return instances.get(instanceId);
    },
  };
  const finish = (instanceId: string, output: unknown = null, runtimeStatus = 'Completed') => {
    const existing = instances.get(instanceId)!;
    instances.set(instanceId, { ...existing, runtimeStatus, output });
  };
  return { client, starts, finish };
}

export const V1 = '0123456789abcdef0123456789abcdef';
export const V2 = 'fedcba9876543210fedcba9876543210';

export function kvEvent(type: string, name: string, version: string, vault = PLATFORM, id = 'evt-1') {
  const vaultName = new URL(vault).hostname.split('.')[0];
  return {
    id,
    topic: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/${vaultName}`,
    subject: name,
    eventType: `Microsoft.KeyVault.${type}`,
    eventTime: '2026-11-24T10:00:00Z',
    data: { Id: `${vault}/secrets/${name}/${version}`, VaultName: vaultName, ObjectType: 'Secret', ObjectName: name, Version: version, NBF: null, EXP: null },
    dataVersion: '1',
    metadataVersion: '1',
  };
}
