import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type InstanceSnapshot } from '../../local/host/index.js';
import { startStack, type Stack } from '../../local/stack.js';
import { MAX_DELIVERIES_PER_BATCH, MAX_DELIVERIES_PER_ORCHESTRATION, relayInstanceId } from '../../shared/orchestrations/names.js';
import type { DeliverBatchInput, RelayPartInput, RelayPartSummary, RelaySummary } from '../../shared/orchestrations/types.js';

// A relay whose plan is larger than one orchestration may hold, through the real local host: the Key Vault emulator
// posts the Event Grid event, the host runs relaySecretVersion and its relayPart sub-orchestrations (one lane per
// vault, each running its deliverBatch activities one after another) on the real durable-functions replay code, and
// the targets are real emulated vaults reached with the SDK.

const TARGET_VAULTS = ['contoso', 'fabrikam', 'northwind', 'tailspin'] as const;
const TARGETS = 230;
const SECRET = 'fleet-credential';
const WAIT = 60_000;
/** The stack's default limits (RELAY_MAX_CONCURRENT_DELIVERIES / RELAY_MAX_CONCURRENT_PER_TARGET). */
const MAX_CONCURRENT = 50;
const MAX_PER_ENDPOINT = 4;

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

/** The batches of each part, from its history: their inputs, and the most a part had in flight at once. */
function batchesOf(found: readonly InstanceSnapshot[]): { inputs: DeliverBatchInput[]; perPart: number } {
  const inputs: DeliverBatchInput[] = [];
  let perPart = 0;
  for (const part of found) {
    const open = new Set<number>();
    for (const e of part.history) {
      if (e.EventType === EventType.TaskScheduled && e.Name === 'deliverBatch') {
        inputs.push(JSON.parse(e.Input ?? '{}') as DeliverBatchInput);
        open.add(e.EventId);
        perPart = Math.max(perPart, open.size);
      }
      if ((e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) && e.TaskScheduledId !== undefined) open.delete(e.TaskScheduledId);
    }
  }
  return { inputs, perPart };
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

  it('completes with every target Created, in lanes of batches whose counts add up to the plan, never over the per-endpoint bound at the vaults', async () => {
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
    // Parts return counts and failures: the relay lists no success, and says how many it left out.
    expect(summary.outcomes).toEqual([]);
    expect(summary.omittedOutcomes).toBe(TARGETS);

    // One lane per vault, each a child of the relay with the vault's whole bound as its window; together the plan.
    const found = parts(relayId);
    expect(found).toHaveLength(TARGET_VAULTS.length);
    for (const part of found) {
      expect(part.name).toBe('relayPart');
      expect(part.runtimeStatus).toBe('Completed');
      expect(part.parentInstanceId).toBe(relayId);
      expect(part.output).toMatchObject({ failed: 0, failures: [] });
      expect(part.input).toMatchObject({ window: MAX_PER_ENDPOINT });
      expect(new Set((part.input as RelayPartInput).deliveries.map((d) => d.endpoint)).size).toBe(1);
    }
    const outputs = found.map((p) => p.output as RelayPartSummary);
    expect(outputs.reduce((sum, o) => sum + o.planned, 0)).toBe(TARGETS);
    expect(outputs.reduce((sum, o) => sum + (o.counts.Created ?? 0), 0)).toBe(TARGETS);

    // Each lane ran its batches one after another, none larger than a batch may be, none wider than the bound.
    const { inputs, perPart } = batchesOf(found);
    expect(perPart).toBe(1);
    expect(inputs.reduce((sum, b) => sum + b.deliveries.length, 0)).toBe(TARGETS);
    for (const batch of inputs) {
      expect(batch.deliveries.length).toBeLessThanOrEqual(MAX_DELIVERIES_PER_BATCH);
      expect(batch.window).toBeLessThanOrEqual(MAX_PER_ENDPOINT);
      expect(batch.maxPerEndpoint).toBe(MAX_PER_ENDPOINT);
    }
    // At the emulator: never more than the bound of requests in flight at one vault, never more than the overall one.
    const peaks = TARGET_VAULTS.map((vault) => stack.keyVault.peakInFlight(vault));
    for (const peak of peaks) expect(peak).toBeLessThanOrEqual(MAX_PER_ENDPOINT);
    expect(peaks.reduce((sum, n) => sum + n, 0)).toBeLessThanOrEqual(MAX_CONCURRENT);

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
    expect(summary).toMatchObject({ failed: 0, outcomes: [], omittedOutcomes: TARGETS });
    expect(setSecretCalls()).toBe(writesBefore);

    const again = parts(relayId);
    expect(again).toHaveLength(TARGET_VAULTS.length);
    expect(again.map((p) => p.executionId)).not.toEqual(partExecutions);
    for (const part of again) {
      expect(part.runtimeStatus).toBe('Completed');
      expect(part.parentInstanceId).toBe(relayId);
      expect(part.output).toMatchObject({ counts: { UpToDate: (part.output as RelayPartSummary).planned }, failures: [] });
    }
  });

  it('a slow vault does not hold back the others: their lanes finish while the slow one is still delivering', async () => {
    const slow = TARGET_VAULTS[0];
    const fault = stack.keyVault.addFault({ vault: slow, effect: { kind: 'latency', latencyInMs: 150 } });
    try {
      const written = await platform.setSecret(SECRET, `fleet-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`);
      const relay = await stack.host.waitForInstance(relayInstanceId('platform', SECRET, written.properties.version!), WAIT);
      expect(relay.runtimeStatus).toBe('Completed');
      expect(relay.output).toMatchObject({ ok: true, counts: { Updated: TARGETS } });

      // Each lane holds one vault; the last delivery of every fast vault completed before the slow vault's last one.
      const lastCompletion = new Map<string, number>();
      for (const part of parts(relay.instanceId)) {
        const endpoint = (part.input as { deliveries: { endpoint: string }[] }).deliveries[0]!.endpoint;
        const completions = part.history.filter((e) => e.EventType === EventType.TaskCompleted).map((e) => Date.parse(e.Timestamp));
        lastCompletion.set(endpoint, Math.max(lastCompletion.get(endpoint) ?? 0, ...completions));
      }
      const slowHost = new URL(stack.info.keyVault.vaults[slow]!).host;
      const slowEnd = lastCompletion.get(slowHost)!;
      for (const [endpoint, end] of lastCompletion) if (endpoint !== slowHost) expect(end).toBeLessThan(slowEnd);
    } finally {
      stack.keyVault.removeFault(fault.id);
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
