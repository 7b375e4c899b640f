import { randomBytes } from 'node:crypto';
import { SecretClient } from '@azure/keyvault-secrets';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';
import { validateConfig, type RelayConfig } from '../../../shared/domain/config.js';
import { fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import { settleSecret, takeSnapshot, type FleetListingPort, type FleetPorts, type FleetSecret } from '../../../shared/fleet/index.js';
import { createSourceVault } from '../../../shared/sources/index.js';
import { KeyVaultTarget } from '../../../shared/targets/keyVault/index.js';
import { listDeletedSecretPages, listSecretPages } from '../../../shared/targets/keyVault/listing.js';
import { createKubernetesTarget } from '../../../shared/targets/kubernetes/index.js';
import { listManagedSecretPages } from '../../../shared/targets/kubernetes/listing.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';

// The fleet snapshot against the real emulators through the real SDK clients: what it finds, and what it cost by
// the emulators' own request counters.

const credential = { getToken: async () => ({ token: 'test', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const KEY = fingerprintKeyFrom('fp1', randomBytes(32));
const COUNT = 30; // more than one Key Vault page (25)

let kv: KeyVaultEmulator;
let k8s: KubernetesEmulator;
let config: RelayConfig;
let ports: FleetPorts;
let admin: CoreV1Api;
const client = (vault: string) => new SecretClient(kv.vaultUrls[vault]!, credential, { tlsOptions: { ca: kv.caCertPem }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } });
const names = Array.from({ length: COUNT }, (_, i) => `app-${String(i).padStart(3, '0')}`);

beforeAll(async () => {
  kv = await startKeyVaultEmulator({ vaults: ['platform', 'contoso'] });
  k8s = await startKubernetesEmulator({ cluster: 'edge-1', namespaces: ['apps'] });
  const validated = validateConfig({
    mode: 'local',
    sources: [{ id: 'platform', vaultUrl: kv.vaultUrls.platform }],
    targets: [
      { id: 'contoso', kind: 'keyVault', vaultUrl: kv.vaultUrls.contoso },
      { id: 'edge', kind: 'kubernetes', cluster: { name: 'edge-1', server: k8s.server, caCert: k8s.caCertPem, auth: { type: 'tokenSecret', source: 'platform', secret: 'edge-token' } }, namespace: 'apps' },
    ],
    routes: [{ id: 'apps', source: 'platform', match: { globs: ['app-*'] }, targets: [{ target: 'contoso', name: '{name}' }, { target: 'edge', name: '{name|lower}', key: 'value' }] }],
  });
  if (!validated.ok) throw new Error(JSON.stringify(validated.problems));
  config = validated.config;
  const kc = new KubeConfig();
  kc.loadFromString(k8s.kubeconfig(k8s.tokens.relay!));
  const core = kc.makeApiClient(CoreV1Api);
  const adminConfig = new KubeConfig();
  adminConfig.loadFromString(k8s.kubeconfig(k8s.tokens.admin!));
  admin = adminConfig.makeApiClient(CoreV1Api);
  const clientOptions = { tlsOptions: { ca: kv.caCertPem }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } };
  const source = createSourceVault({ sourceId: 'platform', vaultUrl: kv.vaultUrls.platform!, credential, clientOptions });
  const contoso = new KeyVaultTarget(client('contoso'), { targetId: 'contoso', vaultUrl: kv.vaultUrls.contoso!, writeBudget: new WriteBudget({ writes: 1000, perSeconds: 1 }) });
  const edge = createKubernetesTarget({
    targetId: 'edge',
    cluster: config.targets[1]!.kind === 'kubernetes' ? config.targets[1]!.cluster : (undefined as never),
    namespace: 'apps',
    fingerprintKey: KEY,
    readSecretValue: async () => k8s.tokens.relay!,
    writeBudget: new WriteBudget({ writes: 1000, perSeconds: 1 }),
  });
  const listing: FleetListingPort = {
    sourceSecrets: (_id, o) => listSecretPages(client('platform'), 'platform', o),
    sourceDeletedSecrets: (_id, o) => listDeletedSecretPages(client('platform'), 'platform', o),
    vaultSecrets: (_id, o) => listSecretPages(client('contoso'), 'contoso', o),
    vaultDeletedSecrets: (_id, o) => listDeletedSecretPages(client('contoso'), 'contoso', o),
    clusterSecrets: (_id, o) => listManagedSecretPages(core, 'apps', 'edge-1/apps', o),
  };
  ports = { config, fingerprintKey: KEY, listing, source: () => source, target: (id) => (id === 'contoso' ? contoso : edge), checkTimeLimitInMs: 5_000 };

  // Every secret relayed in sync by the real targets.
  for (const name of names) {
    const value = `value-of-${name}-${randomBytes(6).toString('hex')}`;
    const created = kv.createSecret('platform', name, value, { emitEvent: false });
    const facts = { owner: `${new URL(kv.vaultUrls.platform!).host}/${name}`, version: created.version, createdOn: created.createdOn, fingerprint: (await import('../../../shared/domain/fingerprint.js')).fingerprint(KEY, value), isLatest: true };
    const policy = { adopt: false, recoverDeleted: false };
    expect((await contoso.deliver({ placement: { name }, source: facts, value, policy })).status).toBe('Created');
    expect((await edge.deliver({ placement: { name, key: 'value' }, source: facts, value, policy, kubernetes: { type: 'Opaque', restartDeployments: [] } })).status).toBe('Created');
  }
});

afterAll(async () => {
  await kv?.close();
  await k8s?.close();
});

const byName = (secrets: readonly FleetSecret[]) => Object.fromEntries(secrets.map((s) => [s.name, s]));
const kinds = (secret: FleetSecret | undefined) => Object.fromEntries((secret?.placements ?? []).map((p) => [p.targetId, p.drift ?? 'in-sync']));

describe('fleet snapshot', () => {
  it('finds every placement in sync from list pages alone: pages, no per-secret call, no write', async () => {
    kv.resetCounters();
    k8s.resetCounters();
    const snapshot = await takeSnapshot(ports);
    expect(snapshot.secrets).toHaveLength(COUNT);
    expect(snapshot.secrets.every((s) => s.placements.every((p) => p.drift === undefined))).toBe(true);
    const first = byName(snapshot.secrets)['app-000']!;
    expect(first.currentVersion).toMatch(/^[0-9a-f]{32}$/);
    expect(first.placements.map((p) => p.heldVersion)).toEqual([first.currentVersion, first.currentVersion]);
    const platform = kv.counters('platform');
    const contoso = kv.counters('contoso');
    expect({ listSecrets: platform.listSecrets, listDeletedSecrets: platform.listDeletedSecrets, perSecret: platform.listSecretVersions + platform.getSecret }).toEqual({ listSecrets: 2, listDeletedSecrets: 1, perSecret: 0 });
    expect({ listSecrets: contoso.listSecrets, perSecret: contoso.listSecretVersions + contoso.getSecret + contoso.getDeletedSecret, writes: contoso.setSecret }).toEqual({ listSecrets: 2, perSecret: 0, writes: 0 });
    expect(snapshot.pages).toEqual({ platform: 3, contoso: 2, edge: 1 });
    const cluster = k8s.counters();
    expect({ list: cluster['list secrets'], get: cluster['get secrets'] ?? 0 }).toEqual({ list: 1, get: 0 });
  });

  it('names each drift, reads only what drifted to settle it, and writes nothing', async () => {
    const contoso = client('contoso');
    await new Promise((r) => setTimeout(r, 1_100)); // a new second: the new source version's creation time differs
    const silent = kv.createSecret('platform', 'app-001', 'a silent new value', { emitEvent: false }); // version drift everywhere
    kv.createSecret('contoso', 'app-002', 'a foreign overwrite', { emitEvent: false }); // foreign version over the relay's copy
    await admin.deleteNamespacedSecret({ name: 'app-003', namespace: 'apps' }); // the cluster copy is gone
    await (await contoso.beginDeleteSecret('app-004')).pollUntilDone(); // the vault copy is soft-deleted
    const edited = await admin.readNamespacedSecret({ name: 'app-005', namespace: 'apps' });
    await admin.replaceNamespacedSecret({ name: 'app-005', namespace: 'apps', body: { ...edited, data: { value: Buffer.from('edited in place').toString('base64') } } });

    kv.resetCounters();
    k8s.resetCounters();
    const snapshot = await takeSnapshot(ports);
    const listed = byName(snapshot.secrets);
    expect(kinds(listed['app-001'])).toEqual({ contoso: 'version', edge: 'version' });
    expect(listed['app-001']!.needsVersion).toBe(true);
    expect(kinds(listed['app-004'])).toEqual({ contoso: 'deleted', edge: 'in-sync' });
    expect(kinds(listed['app-005'])).toEqual({ contoso: 'in-sync', edge: 'value' });
    // Listing only: a foreign current version and a name missing from the labelled listing are settled by one read each.
    expect(listed['app-002']!.placements.find((p) => p.targetId === 'contoso')).toMatchObject({ uncertain: true });
    expect(listed['app-003']!.placements.find((p) => p.targetId === 'edge')).toMatchObject({ drift: 'absent', uncertain: true });
    const listingCalls = { platform: kv.counters('platform'), contoso: kv.counters('contoso') };
    expect(listingCalls.platform.listSecretVersions + listingCalls.contoso.listSecretVersions).toBe(0);
    expect(listingCalls.contoso.listDeletedSecrets).toBe(1);

    kv.resetCounters();
    k8s.resetCounters();
    const settled = byName(await Promise.all(snapshot.secrets.map((s) => settleSecret(ports, s))));
    expect(settled['app-001']!.currentVersion).toBe(silent.version);
    expect(kinds(settled['app-001'])).toEqual({ contoso: 'version', edge: 'version' });
    expect(kinds(settled['app-002'])).toEqual({ contoso: 'foreign-overwrite', edge: 'in-sync' });
    expect(kinds(settled['app-003'])).toEqual({ contoso: 'in-sync', edge: 'absent' });
    expect(Object.values(settled).filter((s) => s.placements.some((p) => p.drift !== undefined)).map((s) => s.name)).toEqual(['app-001', 'app-002', 'app-003', 'app-004', 'app-005']);
    // Settling cost: one source version listing (app-001: no mark names its new version), one version listing of
    // the foreign copy, one get of the missing cluster Secret. Nothing for the 25 secrets in sync; no write.
    const platform = kv.counters('platform');
    const vault = kv.counters('contoso');
    expect({ source: platform.listSecretVersions + platform.getSecret, target: vault.listSecretVersions, values: vault.getSecret, writes: vault.setSecret + platform.setSecret }).toEqual({ source: 1, target: 1, values: 0, writes: 0 });
    expect(k8s.counters()['get secrets']).toBe(1);
  });

  it('makes every placement of a target that cannot be listed check-failed with a reason, and lists the others', async () => {
    kv.addFault({ vault: 'contoso', operation: 'listSecrets', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    try {
      const snapshot = await takeSnapshot(ports);
      expect(snapshot.failedTargets.contoso).toMatchObject({ reason: 'access-denied', message: expect.stringContaining('403') });
      const first = byName(snapshot.secrets)['app-000']!;
      expect(first.placements.map((p) => [p.targetId, p.drift ?? 'in-sync', p.failure?.reason])).toEqual([
        ['contoso', 'check-failed', 'access-denied'],
        ['edge', 'in-sync', undefined],
      ]);
    } finally {
      kv.clearFaults();
    }
  });
});
