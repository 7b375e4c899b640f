import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as cli } from '../../cli/commands/fleet.js';
import { relayInstanceId } from '../../shared/orchestrations/names.js';
import { newValue, startE2E, type E2E } from './support.js';

// Fleet status through the local host's real URLs: `GET /api/secrets` and `GET /api/targets/{id}` answer from list
// pages of the emulated vaults and cluster, and the Key Vault emulator's counters show what it cost.

let e2e: E2E;
const WAIT = 60_000;

beforeAll(async () => {
  e2e = await startE2E();
  for (const name of ['app-fleet-one', 'app-fleet-two']) {
    const secret = await e2e.vault('platform').setSecret(name, e2e.remember(newValue(name)));
    const run = await e2e.stack.host.waitForInstance(relayInstanceId('platform', name, secret.properties.version!), WAIT);
    expect(run.runtimeStatus).toBe('Completed');
  }
});

afterAll(async () => {
  await e2e?.close();
});

type Row = { source: string; name: string; currentVersion: string | null; targets: { targetId: string; placement: string; inSync: boolean; state: string; heldVersion: string | null; status: string | null; lastDelivery: { at: string; version: string } | null; hint: string | null }[] };

describe('GET /api/secrets', () => {
  it('lists every routed secret × placement in sync from list pages, with no per-secret call and no write', async () => {
    const current = (await e2e.vault('platform').getSecret('app-fleet-one')).properties.version!;
    // The first listing of the cluster reads its token from the source vault once per process; not counted below.
    await e2e.call('GET', '/targets/edge-1-apps');
    e2e.stack.keyVault.resetCounters();
    const answer = await e2e.call('GET', '/secrets');
    expect(answer.status).toBe(200);
    const one = (answer.json.secrets as Row[]).find((s) => s.name === 'app-fleet-one')!;
    expect(one).toMatchObject({ source: 'platform', currentVersion: current });
    expect(one.targets.map((t) => [t.targetId, t.placement, t.inSync, t.state, t.heldVersion])).toEqual([
      ['contoso', 'app-fleet-one', true, 'in-sync', current],
      ['fabrikam', 'fabrikam--app-fleet-one', true, 'in-sync', current],
      ['edge-1-apps', 'app-fleet-one#value', true, 'in-sync', current],
    ]);
    for (const t of one.targets) {
      expect(t.hint).toBeNull();
      expect(t.lastDelivery?.version).toBe(current);
      expect(Number.isNaN(Date.parse(t.lastDelivery!.at))).toBe(false);
    }
    for (const vault of ['platform', 'contoso', 'fabrikam']) {
      const c = e2e.stack.keyVault.counters(vault);
      expect({ vault, listSecrets: c.listSecrets > 0, perSecret: c.listSecretVersions + c.getSecret, writes: c.setSecret }).toEqual({ vault, listSecrets: true, perSecret: 0, writes: 0 });
    }
  });

  it('shows a silent new source version as out of sync with zero writes, and filters by state and target', async () => {
    const before = (await e2e.vault('platform').getSecret('app-fleet-two')).properties.version!;
    // Created without an event: no relay runs, so every target keeps the older version.
    await new Promise((r) => setTimeout(r, 1_100)); // a new second, so the creation times differ
    const silent = e2e.stack.keyVault.createSecret('platform', 'app-fleet-two', e2e.remember(newValue('silent')), { emitEvent: false });
    e2e.stack.keyVault.resetCounters();
    const answer = await e2e.call('GET', '/secrets?outOfSync=true');
    expect(answer.status).toBe(200);
    const rows = answer.json.secrets as Row[];
    expect(rows.map((s) => s.name)).toEqual(['app-fleet-two']);
    expect(rows[0]!.currentVersion).toBe(silent.version);
    expect(rows[0]!.targets.map((t) => [t.targetId, t.state, t.heldVersion, t.inSync])).toEqual([
      ['contoso', 'version', before, false],
      ['fabrikam', 'version', before, false],
      ['edge-1-apps', 'version', before, false],
    ]);
    expect(rows[0]!.targets.every((t) => typeof t.hint === 'string' && t.hint.length > 0)).toBe(true);
    const counters = e2e.stack.keyVault.counters();
    expect(Object.values(counters).reduce((n, c) => n + c.setSecret, 0)).toBe(0);
    // The current version id is not in Key Vault's list: one read of the drifted source secret, nothing per target.
    expect(counters.platform!.listSecretVersions).toBe(1);
    expect(counters.contoso!.listSecretVersions + counters.fabrikam!.listSecretVersions).toBe(0);

    const byState = await e2e.call('GET', '/secrets?state=version&target=contoso');
    expect((byState.json.secrets as Row[]).map((s) => [s.name, s.targets.map((t) => t.targetId)])).toEqual([['app-fleet-two', ['contoso']]]);
  });

  it('pages with a continuation token and refuses unknown filter values by name', async () => {
    const first = await e2e.call('GET', '/secrets?limit=1');
    expect(first.json.secrets).toHaveLength(1);
    expect(typeof first.json.continuationToken).toBe('string');
    const second = await e2e.call('GET', `/secrets?limit=1&continuationToken=${encodeURIComponent(first.json.continuationToken)}`);
    expect(second.json.secrets[0].name).not.toBe(first.json.secrets[0].name);
    for (const [query, field] of [['state=bogus', 'state'], ['target=nowhere', 'target'], ['source=nowhere', 'source'], ['outOfSync=yes', 'outOfSync'], ['continuationToken=abc', 'continuationToken']]) {
      const bad = await e2e.call('GET', `/secrets?${query}`);
      expect({ query, status: bad.status }).toEqual({ query, status: 400 });
      expect(bad.json.message).toContain(field);
    }
  });
});

describe('GET /api/targets/{id}', () => {
  it('lists every placement of one target and reads only that target among the targets', async () => {
    e2e.stack.keyVault.resetCounters();
    const answer = await e2e.call('GET', '/targets/fabrikam');
    expect(answer.status).toBe(200);
    expect(answer.json.target).toEqual({ id: 'fabrikam', kind: 'keyVault' });
    const names = (answer.json.placements as { name: string; placement: string; state: string }[]).map((p) => [p.name, p.placement, p.state]);
    expect(names).toEqual(expect.arrayContaining([['app-fleet-one', 'fabrikam--app-fleet-one', 'in-sync'], ['app-fleet-two', 'fabrikam--app-fleet-two', 'version']]));
    expect(e2e.stack.keyVault.counters('contoso').total).toBe(0);
    expect((await e2e.call('GET', '/targets/nowhere')).status).toBe(404);
  });

  it('names a target that cannot be listed with a reason, and the other targets go on', async () => {
    e2e.stack.keyVault.addFault({ vault: 'fabrikam', operation: 'listSecrets', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    try {
      const answer = await e2e.call('GET', '/secrets?source=platform');
      const one = (answer.json.secrets as Row[]).find((s) => s.name === 'app-fleet-one')!;
      const byTarget = Object.fromEntries(one.targets.map((t) => [t.targetId, t]));
      expect(byTarget.fabrikam).toMatchObject({ inSync: false, state: 'check-failed', reason: 'access-denied', hint: expect.stringContaining('readMetadata') });
      expect(byTarget.contoso).toMatchObject({ inSync: true, state: 'in-sync' });
    } finally {
      e2e.stack.keyVault.clearFaults();
    }
    const scan = await e2e.scanForLeaks();
    expect(scan.leaks).toEqual([]);
  });
});

describe('drift reports and the CLI', () => {
  const cliRun = async (args: string[]) => {
    const file = join(mkdtempSync(join(tmpdir(), 'relay-fleet-cli-')), 'stack.json');
    writeFileSync(file, JSON.stringify(e2e.stack.info));
    let out = '';
    let err = '';
    const code = await cli([...args, '--stack', file], { out: (t) => void (out += t), err: (t) => void (err += t) });
    e2e.responses.push(out);
    return { code, out, err };
  };

  it('secret-relay status prints every placement, marks the out-of-sync ones, and exits 1 while any is', async () => {
    const all = await cliRun(['status']);
    expect(all.err).toBe('');
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/^SECRET\s+TARGET\s+PLACEMENT\s+STATE\s+HELD\s+CURRENT\s+STATUS\s+LAST DELIVERY/);
    expect(all.out).toMatch(/platform\/app-fleet-one\s+contoso\s+app-fleet-one\s+in-sync/);
    expect(all.out).toMatch(/platform\/app-fleet-two\s+fabrikam\s+fabrikam--app-fleet-two\s+version/);
    const json = JSON.parse((await cliRun(['status', '--out-of-sync', '--json'])).out) as { secrets: Row[] };
    expect(json.secrets.map((s) => s.name)).toEqual(['app-fleet-two']);
  });

  it('a reconciliation repairs the silent version; GET /api/rotations/reconcile and secret-relay drift show findings and repairs', async () => {
    const current = (await e2e.vault('platform').getSecret('app-fleet-two')).properties.version!;
    e2e.stack.keyVault.resetCounters();
    await e2e.stack.host.invokeTimer('reconcileTimer');
    const run = await e2e.stack.host.waitForInstance('reconcile', WAIT);
    expect(run.runtimeStatus).toBe('Completed');
    // Two Key Vault copies and one Kubernetes copy drifted: exactly those are written, nothing else.
    const counters = e2e.stack.keyVault.counters();
    expect([counters.contoso!.setSecret, counters.fabrikam!.setSecret, counters.platform!.setSecret]).toEqual([1, 1, 0]);

    const answer = await e2e.call('GET', '/rotations/reconcile');
    expect(answer.status).toBe(200);
    expect(answer.json.result).toBe('succeeded');
    expect(answer.json.outcomes.map((o: { targetId: string; status: string }) => `${o.targetId}:${o.status}`).sort()).toEqual(['contoso:Updated', 'edge-1-apps:Updated', 'fabrikam:Updated']);
    const findings = answer.json.reconcile.findings as { name: string; targetId: string; drift: string; outcome: string; version: string }[];
    expect(findings.map((f) => `${f.name}:${f.targetId}:${f.drift}:${f.outcome}`).sort()).toEqual([
      'app-fleet-two:contoso:version:repaired',
      'app-fleet-two:edge-1-apps:version:repaired',
      'app-fleet-two:fabrikam:version:repaired',
    ]);
    expect(findings.every((f) => f.version === current)).toBe(true);
    expect(answer.json.reconcile.repairs).toHaveLength(1);

    const text = await cliRun(['drift']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/3 finding\(s\): 3 repaired, 0 repair failed, 0 left to you/);
    expect(text.out).toMatch(/platform\/app-fleet-two\s+fabrikam\s+fabrikam:fabrikam--app-fleet-two\s+version\s+\S+\s+repaired\s+Updated/);
    const last = await cliRun(['drift', '--last', '--json']);
    expect(JSON.parse(last.out).counts).toEqual({ findings: 3, repaired: 3, repairFailed: 0, notRepaired: 0 });

    const after = await e2e.call('GET', '/secrets?source=platform');
    const two = (after.json.secrets as Row[]).find((s) => s.name === 'app-fleet-two')!;
    expect(two.targets.map((t) => [t.targetId, t.state, t.status])).toEqual([
      ['contoso', 'in-sync', 'Updated'],
      ['fabrikam', 'in-sync', 'Updated'],
      ['edge-1-apps', 'in-sync', 'Updated'],
    ]);
    const scan = await e2e.scanForLeaks();
    expect(scan.leaks).toEqual([]);
  });
});
