import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceSnapshot } from '../../local/host/index.js';
import { startStack, type Stack } from '../../local/stack.js';
import { MAX_DELIVERIES_PER_ORCHESTRATION, relayInstanceId } from '../../shared/orchestrations/names.js';
import type { DeliveryResult, RelaySummary } from '../../shared/orchestrations/types.js';

// A relay whose plan is larger than one orchestration may hold, through the real local host: the Key Vault emulator
// posts the Event Grid event, the host runs relaySecretVersion and its relayPart sub-orchestrations on the real
// durable-functions replay code, and the targets are real emulated vaults reached with the SDK.

const TARGET_VAULTS = ['contoso', 'fabrikam', 'northwind', 'tailspin'] as const;
const TARGETS = 230;
const SECRET = 'fleet-credential';
const WAIT = 60_000;

let stack: Stack;
let stateDir: string;
let platform: SecretClient;
const clients = new Map<string, SecretClient>();
const quiet = { info: console.info, warn: console.warn };
const logs: string[] = [];

/** One Key Vault target per (vault, customer), round robin over the vaults; names `{customer}--{name}`. */
function expectedTargets(): { id: string; vault: string; name: string }[] {
  return Array.from({ length: TARGETS }, (_, i) => {
    const customer = `c${String(i).padStart(3, '0')}`;
    const vault = TARGET_VAULTS[i % TARGET_VAULTS.length]!;
    return { id: `kv-${vault}-${customer}`, vault, name: `${customer}--${SECRET}` };
  });
}

function configTemplate(): string {
  const targets = expectedTargets();
  return JSON.stringify({
    mode: 'local',
    sources: [{ id: 'platform', vaultUrl: '{{vault:platform}}' }],
    targets: targets.map((t) => ({
      id: t.id,
      kind: 'keyVault',
      vaultUrl: `{{vault:${t.vault}}}`,
      // High enough that the per-vault token bucket never paces this test.
      writeBudget: { writes: 10_000, perSeconds: 10 },
      vars: { customer: t.id.slice(t.id.lastIndexOf('-') + 1) },
    })),
    routes: [{ id: 'fleet', source: 'platform', match: { names: [SECRET] }, targets: targets.map((t) => ({ target: t.id, name: '{customer}--{name}' })) }],
  });
}

function setSecretCalls(): number {
  return TARGET_VAULTS.reduce((sum, vault) => sum + stack.keyVault.counters(vault).setSecret, 0);
}

function parts(relayId: string): InstanceSnapshot[] {
  const found: InstanceSnapshot[] = [];
  for (let index = 0; ; index++) {
    const part = stack.host.getInstance(`${relayId}:part-${index}`);
    if (!part) return found;
    found.push(part);
  }
}

function client(vault: string): SecretClient {
  let found = clients.get(vault);
  if (!found) {
    const credential = { getToken: async () => ({ token: 'test', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    found = new SecretClient(stack.info.keyVault.vaults[vault]!, credential, {
      tlsOptions: { ca: readFileSync(stack.info.keyVault.caCertPath, 'utf8') },
      disableChallengeResourceVerification: true,
      retryOptions: { maxRetries: 0 },
    });
    clients.set(vault, found);
  }
  return found;
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'relay-fanout-'));
  const templatePath = join(stateDir, 'fanout.config.template.json');
  writeFileSync(templatePath, configTemplate());
  // The relay logs one line per delivery: keep them, out of the test output.
  console.info = (...args: unknown[]) => void logs.push(args.map(String).join(' '));
  console.warn = (...args: unknown[]) => void logs.push(args.map(String).join(' '));
  stack = await startStack({
    stateDir,
    port: 0,
    configTemplate: templatePath,
    vaults: ['platform', ...TARGET_VAULTS],
    log: (entry) => logs.push(JSON.stringify(entry)),
  });
  platform = client('platform');
});

afterAll(async () => {
  await stack?.close();
  Object.assign(console, quiet);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe(`one source version to ${TARGETS} Key Vault targets (more than ${MAX_DELIVERIES_PER_ORCHESTRATION} deliveries)`, () => {
  let relayId: string;
  let version: string;
  let firstOutcomes: readonly DeliveryResult[];

  it('completes with every target Created, split into parts of at most 200 whose outputs add up to the plan', async () => {
    const value = `fleet-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const written = await platform.setSecret(SECRET, value);
    version = written.properties.version!;
    relayId = relayInstanceId('platform', SECRET, version);

    const done = await stack.host.waitForInstance(relayId, WAIT);
    expect(done.runtimeStatus).toBe('Completed');
    const summary = done.output as RelaySummary;
    expect(summary.planned).toBe(TARGETS);
    expect(summary.ok).toBe(true);
    expect(summary.counts).toEqual({ Created: TARGETS });
    expect(summary.outcomes).toHaveLength(TARGETS);
    expect(Object.values(summary.counts).reduce((sum, n) => sum + (n ?? 0), 0)).toBe(summary.planned);
    firstOutcomes = summary.outcomes;

    // Exactly two parts: part-0 and part-1, children of the relay, each ≤ 200 deliveries, together the whole plan.
    const found = parts(relayId);
    expect(found.map((p) => p.instanceId)).toEqual([`${relayId}:part-0`, `${relayId}:part-1`]);
    for (const part of found) {
      expect(part.name).toBe('relayPart');
      expect(part.runtimeStatus).toBe('Completed');
      expect(part.parentInstanceId).toBe(relayId);
      expect((part.output as DeliveryResult[]).length).toBeLessThanOrEqual(MAX_DELIVERIES_PER_ORCHESTRATION);
    }
    const partOutcomes = found.flatMap((p) => p.output as DeliveryResult[]);
    expect(partOutcomes.map((o) => o.deliveryId).sort()).toEqual(summary.outcomes.map((o) => o.deliveryId).sort());
    expect(new Set(partOutcomes.map((o) => o.deliveryId)).size).toBe(TARGETS);
    expect(new Set(partOutcomes.map((o) => o.targetId))).toEqual(new Set(expectedTargets().map((t) => t.id)));

    // Every target holds the value with the relay's marks: one write each, nothing more.
    expect(setSecretCalls()).toBe(TARGETS);
    const reads = await Promise.all(expectedTargets().map((t) => client(t.vault).getSecret(t.name)));
    expect(reads.every((s) => s.value === value)).toBe(true);
    expect(reads.every((s) => s.properties.tags?.['relay-source-version'] === version && s.properties.tags?.['managed-by'] === 'secret-relay')).toBe(true);
    // The value never reached durable state or the logs.
    expect(JSON.stringify([done, ...found])).not.toContain(value);
    expect(logs.some((line) => line.includes(value))).toBe(false);
  });

  it('the event posted again after the relay succeeded is acknowledged as a duplicate and runs nothing', async () => {
    expect(relayId).toBeDefined();
    const before = stack.host.getInstance(relayId)!;
    const response = await fetch(stack.host.eventGridUrl('keyVaultEvents'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
      body: JSON.stringify([newVersionEvent(stack.info.keyVault.vaults.platform!, SECRET, version)]),
    });
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThanOrEqual(204);
    expect(stack.host.getInstance(relayId)?.executionId).toBe(before.executionId);
    expect(logs.some((line) => line.includes(`duplicate event repost-${version}`) && line.includes('already delivered this version'))).toBe(true);
  });

  it('a forced relay of the same version over HTTP finds every target UpToDate and writes nothing', async () => {
    expect(relayId).toBeDefined();
    const before = stack.host.getInstance(relayId)!;
    const partExecutions = parts(relayId).map((p) => p.executionId);
    const writesBefore = setSecretCalls();

    const response = await fetch(`${stack.info.functions.baseUrl}/api/rotations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': stack.info.functions.key },
      body: JSON.stringify({ source: 'platform', name: SECRET, mode: 'relay' }),
    });
    expect(response.status).toBe(202);
    // The completed instance is started again under the same id: a new execution.
    await expect.poll(() => stack.host.getInstance(relayId)?.executionId, { timeout: WAIT }).not.toBe(before.executionId);
    const done = await stack.host.waitForInstance(relayId, WAIT);
    expect(done.runtimeStatus).toBe('Completed');

    const summary = done.output as RelaySummary;
    expect(summary.planned).toBe(TARGETS);
    expect(summary.counts).toEqual({ UpToDate: TARGETS });
    expect(summary.ok).toBe(true);
    expect(summary.outcomes.every((o) => o.status === 'UpToDate' && o.writtenVersion === undefined)).toBe(true);
    expect(summary.outcomes.map((o) => o.deliveryId).sort()).toEqual(firstOutcomes.map((o) => o.deliveryId).sort());
    expect(setSecretCalls()).toBe(writesBefore);

    const again = parts(relayId);
    expect(again).toHaveLength(2);
    expect(again.map((p) => p.executionId)).not.toEqual(partExecutions);
    for (const part of again) {
      expect(part.runtimeStatus).toBe('Completed');
      expect(part.parentInstanceId).toBe(relayId);
      expect((part.output as DeliveryResult[]).length).toBeLessThanOrEqual(MAX_DELIVERIES_PER_ORCHESTRATION);
    }
  });
});

/** A Key Vault SecretNewVersionCreated event in the Event Grid wire shape (PascalCase data). */
function newVersionEvent(vaultUrl: string, name: string, version: string): unknown {
  return {
    id: `repost-${version}`,
    topic: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/platform',
    subject: name,
    eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
    eventTime: new Date().toISOString(),
    data: { Id: `${vaultUrl}/secrets/${name}/${version}`, VaultName: 'platform', ObjectType: 'Secret', ObjectName: name, Version: version, NBF: null, EXP: null },
    dataVersion: '1',
    metadataVersion: '1',
  };
}
