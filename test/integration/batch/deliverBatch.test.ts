import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokenEndpoint, type TokenEndpoint } from '../../../local/identity/index.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { createActivities, type Activities } from '../../../shared/activities.js';
import { createRuntime } from '../../../shared/composition.js';
import { STATUS_INFO } from '../../../shared/domain/statuses.js';
import { planLanes } from '../../../shared/orchestrations/waves.js';
import type { Cause, DeliverBatchInput, RelayPlan } from '../../../shared/orchestrations/types.js';
import type { RelayRuntime } from '../../../shared/runtime.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';

// The deliverBatch activity through the real composition root: real SecretClients against the Key Vault emulator,
// blob-lease locks, write tokens and the audit in Azurite. One batch holds a mix of outcomes; transient failures
// come back for the orchestration to retry; the window holds at the vault; a rerun (a host that died) writes nothing.

const CONTOSO_TARGETS = 12;
const WINDOW = 3;
const CAUSE: Cause = { actor: { kind: 'event', id: 'platform' }, eventId: 'evt-batch', trigger: 'event' };

let keyVault: KeyVaultEmulator;
let identity: TokenEndpoint;
let azurite: AzuriteBlob;
let runtime: RelayRuntime;
let activities: Activities;
let dir: string;
const savedEnv = { ...process.env };
const logs: string[] = [];
const value = `batch-value-${randomBytes(12).toString('hex')}`;

beforeAll(async () => {
  keyVault = await startKeyVaultEmulator({ vaults: ['platform', 'contoso', 'fabrikam', 'northwind'] });
  identity = await startTokenEndpoint();
  azurite = await startAzurite();
  Object.assign(process.env, identity.env);
  dir = mkdtempSync(join(tmpdir(), 'relay-batch-'));
  const contoso = Array.from({ length: CONTOSO_TARGETS }, (_, n) => ({ id: `contoso-${n}`, kind: 'keyVault', vaultUrl: keyVault.vaultUrls['contoso'], vars: { customer: `c${n}` } }));
  const config = {
    mode: 'local',
    sources: [{ id: 'platform', vaultUrl: keyVault.vaultUrls['platform'] }],
    targets: [
      ...contoso,
      { id: 'fabrikam', kind: 'keyVault', vaultUrl: keyVault.vaultUrls['fabrikam'], vars: { customer: 'f' } },
      { id: 'northwind', kind: 'keyVault', vaultUrl: keyVault.vaultUrls['northwind'], vars: { customer: 'n' } },
    ],
    routes: [
      {
        id: 'fleet',
        source: 'platform',
        match: { names: ['fleet-key'] },
        targets: [...contoso.map((t) => ({ target: t.id, name: '{customer}--{name}' })), { target: 'fabrikam', name: '{customer}--{name}' }, { target: 'northwind', name: '{customer}--{name}' }],
      },
    ],
  };
  writeFileSync(join(dir, 'relay.config.json'), JSON.stringify(config));
  const capture = (...args: unknown[]) => void logs.push(args.map(String).join(' '));
  runtime = createRuntime(
    {
      ...process.env,
      RELAY_CONFIG_PATH: join(dir, 'relay.config.json'),
      RELAY_FINGERPRINT_KEY: randomBytes(32).toString('base64'),
      AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
      RELAY_TRUSTED_CA_PATH: keyVault.caCertPath,
      RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
    },
    { log: { info: capture, warn: capture, error: capture, debug: capture } },
  );
  activities = createActivities(runtime);
});

afterAll(async () => {
  await keyVault?.close();
  await identity?.close();
  await azurite?.stop();
  process.env = savedEnv;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The lock blobs in the reports container. */
async function lockBlobs(): Promise<string[]> {
  const names: string[] = [];
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('reports');
  for await (const blob of container.listBlobsFlat({ prefix: 'locks/' })) names.push(blob.name);
  return names;
}

describe('deliverBatch', () => {
  let plan: RelayPlan;
  let ref: { sourceId: string; vaultUrl: string; name: string; version: string };
  const batchOf = (deliveries: RelayPlan['deliveries'], window: number): DeliverBatchInput => ({
    ref,
    cause: CAUSE,
    instanceId: `relay:platform:fleet-key:${ref.version}`,
    deliveries,
    window,
    maxPerEndpoint: WINDOW,
  });

  it('delivers a batch with a mix of outcomes: counts for all, failures in full with hints, transient ones back for a retry, never over the window at the vault', async () => {
    const created = keyVault.createSecret('platform', 'fleet-key', value, { emitEvent: false });
    ref = { sourceId: 'platform', vaultUrl: keyVault.vaultUrls['platform']!, name: 'fleet-key', version: created.version };
    // contoso-5's name is taken by something the relay does not own; fabrikam refuses the relay; northwind throttles
    // with a Retry-After too long to wait out inside the call (the orchestration waits instead).
    keyVault.createSecret('contoso', 'c5--fleet-key', 'someone-elses', { emitEvent: false });
    keyVault.addFault({ vault: 'fabrikam', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    const throttle = keyVault.addFault({ vault: 'northwind', effect: { kind: 'throttle', retryAfterInSeconds: 120 } });
    keyVault.addFault({ vault: 'contoso', effect: { kind: 'latency', latencyInMs: 30 } });
    keyVault.resetCounters();

    plan = await activities.planRelay({ ref, cause: CAUSE });
    expect(plan.deliveries).toHaveLength(CONTOSO_TARGETS + 2);
    // The batch of all three endpoints together (one lane's worth), at most WINDOW in flight per endpoint.
    const result = await activities.deliverBatch(batchOf(plan.deliveries, 2 * WINDOW));

    expect(result.counts).toEqual({ Created: CONTOSO_TARGETS - 1, FailedNotOwned: 1, FailedAccessDenied: 1 });
    expect(result.outcomes.map((o) => [o.targetId, o.status, o.audited, o.hint])).toEqual([
      ['contoso-5', 'FailedNotOwned', true, STATUS_INFO.FailedNotOwned.hint],
      ['fabrikam', 'FailedAccessDenied', true, STATUS_INFO.FailedAccessDenied.hint],
    ]);
    expect(result.retry).toEqual([{ deliveryId: plan.deliveries.find((d) => d.targetId === 'northwind')!.deliveryId, message: expect.stringMatching(/^FailedThrottled: /) }]);
    expect(result.notStarted).toEqual([]);
    expect(keyVault.peakInFlight('contoso')).toBeLessThanOrEqual(WINDOW);
    expect(keyVault.counters('contoso').setSecret).toBe(CONTOSO_TARGETS - 1);

    // The retry, once the throttling is over, delivers the rest.
    keyVault.removeFault(throttle.id);
    const retried = await activities.deliverBatch(batchOf(plan.deliveries.filter((d) => d.targetId === 'northwind'), 1));
    expect(retried).toEqual({ counts: { Created: 1 }, outcomes: [], retry: [], notStarted: [] });
  });

  it('a batch run again (its host died before it answered) finds every delivered target UpToDate and writes nothing', async () => {
    keyVault.setFaults([{ vault: 'fabrikam', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } }]);
    keyVault.resetCounters();
    const again = await activities.deliverBatch({ ...batchOf(plan.deliveries, WINDOW), listAll: true });
    expect(again.counts).toEqual({ UpToDate: CONTOSO_TARGETS, FailedNotOwned: 1, FailedAccessDenied: 1 });
    // Every outcome listed when asked (a relay small enough to list them), in the plan's order.
    expect(again.outcomes.map((o) => o.targetId)).toEqual(plan.deliveries.map((d) => d.targetId));
    expect(['contoso', 'northwind'].map((v) => keyVault.counters(v).setSecret)).toEqual([0, 0]);
  });

  it('two batches of one secret racing (v2, then v1) never roll a target back; each batch takes one lock per vault, not one per delivery', async () => {
    keyVault.clearFaults();
    const names = Array.from({ length: CONTOSO_TARGETS }, (_, n) => `c${n}--race-key`);
    const raceRoute = { ...runtime.config.routes[0]!, id: 'race', match: { ...runtime.config.routes[0]!.match, names: ['race-key'] } };
    Object.assign(runtime.config, { routes: [...runtime.config.routes, raceRoute] });
    const v1 = keyVault.createSecret('platform', 'race-key', `${value}-1`, { emitEvent: false });
    const v2 = keyVault.createSecret('platform', 'race-key', `${value}-2`, { emitEvent: false });
    const refOf = (version: string) => ({ sourceId: 'platform', vaultUrl: keyVault.vaultUrls['platform']!, name: 'race-key', version });
    const plans = await Promise.all([v2, v1].map((v) => activities.planRelay({ ref: refOf(v.version), cause: CAUSE })));
    const contosoOnly = (p: RelayPlan) => p.deliveries.filter((d) => d.endpoint === plan.deliveries[0]!.endpoint);
    keyVault.addFault({ vault: 'contoso', operation: 'setSecret', effect: { kind: 'latency', latencyInMs: 40 } });
    const locksBefore = await lockBlobs();
    const [newer, older] = await Promise.all(
      plans.map((p, i) => {
        const version = [v2, v1][i]!.version;
        return activities.deliverBatch({ ref: refOf(version), cause: CAUSE, instanceId: `relay:platform:race-key:${version}`, deliveries: contosoOnly(p), window: WINDOW, maxPerEndpoint: WINDOW });
      }),
    );
    keyVault.clearFaults();
    // Whichever batch took the vault's lock first, every target ends on v2: v1 either went first and was updated, or
    // found the newer version there.
    const current = new Map(keyVault.listSecretProperties('contoso').map((p) => [p.name, p.tags?.['relay-source-version']]));
    expect(names.map((n) => current.get(n))).toEqual(names.map(() => v2.version));
    // The vault's lock orders the batches as wholes: one ran entirely before the other.
    expect([
      [{ Created: CONTOSO_TARGETS }, { SkippedNewerPresent: CONTOSO_TARGETS }],
      [{ Updated: CONTOSO_TARGETS }, { Created: CONTOSO_TARGETS }],
    ]).toContainEqual([newer?.counts, older?.counts]);
    // One lock blob for (contoso, race-key), shared by both batches in turn; none per placement.
    expect((await lockBlobs()).length - locksBefore.length).toBe(1);
  });

  it('the lanes of a plan own whole endpoints, and no value reaches the batch results or the logs', async () => {
    const lanes = planLanes(plan.deliveries, { maxConcurrent: 5, maxPerEndpoint: WINDOW });
    expect(lanes.map((lane) => [new Set(lane.items.map((d) => d.endpoint)).size, lane.window])).toEqual([
      [1, WINDOW],
      [1, 1],
      [1, 1],
    ]);
    const result = await activities.deliverBatch({ ...batchOf(plan.deliveries, WINDOW), listAll: true });
    expect(JSON.stringify(result)).not.toContain(value);
    expect(logs.some((line) => line.includes(value))).toBe(false);
  });
});
