import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintKeyFrom } from '../../../shared/domain/fingerprint.js';
import type { PlannedDelivery } from '../../../shared/domain/plan.js';
import { compareSecret, type ListedSource } from '../../../shared/fleet/compare.js';
import type { TargetListing } from '../../../shared/fleet/types.js';
import type { ListedSecret } from '../../../shared/targets/keyVault/listing.js';
import { tagsFromMarks } from '../../../shared/targets/keyVault/transformations.js';

// The in-memory comparison of one source secret with its Key Vault placements' list items (pure).

const KEY = fingerprintKeyFrom('fp1', randomBytes(32));
const OWNER = 'platform.vault.azure.net/app';
const V = (n: number) => String(n).repeat(32);
const source = (overrides: Partial<ListedSource> = {}): ListedSource => ({
  sourceId: 'platform',
  vaultUrl: 'https://platform.vault.azure.net',
  name: 'app',
  state: 'enabled',
  createdOn: 1_000,
  tags: {},
  ...overrides,
});
const delivery = (targetId: string): PlannedDelivery => ({
  routeId: 'r',
  targetId,
  kind: 'keyVault',
  placement: { name: 'app' },
  policy: { adopt: false, recoverDeleted: false, versionsToKeep: 1 },
});
const ours = (version: string, createdOn?: number): ListedSecret => ({
  name: 'app',
  createdOn: 2_000,
  enabled: true,
  tags: tagsFromMarks({ source: OWNER, sourceVersion: version, ...(createdOn !== undefined ? { sourceCreatedOn: createdOn } : {}), fingerprint: 'hmac-sha256:fp1:x' }),
});
const vault = (item?: ListedSecret): TargetListing => ({ kind: 'keyVault', byName: new Map(item ? [['app', item]] : []), deleted: new Map() });
const compare = (listed: ListedSource, targets: Record<string, ListedSecret | undefined>) =>
  compareSecret(listed, Object.keys(targets).map(delivery), new Map(Object.entries(targets).map(([id, item]) => [id, vault(item)])), KEY);
const summary = (secret: ReturnType<typeof compare>) => ({
  currentVersion: secret.currentVersion,
  needsVersion: secret.needsVersion ?? false,
  placements: Object.fromEntries(secret.placements.map((p) => [p.targetId, `${p.drift ?? 'in-sync'}${p.uncertain ? '?' : ''}`])),
});

describe('compareSecret', () => {
  it.each([
    ['a mark of the current version’s creation second names the current version', { a: ours(V(1), 1_000), b: ours(V(1), 1_000) }, { currentVersion: V(1), needsVersion: false, placements: { a: 'in-sync', b: 'in-sync' } }],
    ['an older mark is version drift; the in-sync copy names the version', { a: ours(V(1), 1_000), b: ours(V(0), 900) }, { currentVersion: V(1), needsVersion: false, placements: { a: 'in-sync', b: 'version' } }],
    ['only older marks: version drift, and the version must be read', { a: ours(V(0), 900), b: undefined }, { currentVersion: undefined, needsVersion: true, placements: { a: 'version', b: 'absent' } }],
    // Two versions created in the same second: the list cannot tell which is current, so nothing is called in sync.
    ['two marks of the same second that disagree: the version must be read', { a: ours(V(1), 1_000), b: ours(V(2), 1_000) }, { currentVersion: undefined, needsVersion: true, placements: { a: 'version?', b: 'version?' } }],
    ['marks without a creation time (older relays): the version must be read', { a: ours(V(1)) }, { currentVersion: undefined, needsVersion: true, placements: { a: 'version?' } }],
    ['a foreign current version is out of sync, and one read names it (not-owned or foreign-overwrite)', { a: ours(V(1), 1_000), b: { name: 'app', createdOn: 5, enabled: true, tags: {} } }, { currentVersion: V(1), needsVersion: false, placements: { a: 'in-sync', b: 'not-owned?' } }],
    ['a disabled copy of the current version is target-disabled', { a: ours(V(1), 1_000), b: { ...ours(V(1), 1_000), enabled: false } }, { currentVersion: V(1), needsVersion: false, placements: { a: 'in-sync', b: 'target-disabled' } }],
  ])('%s', (_title, targets, expected) => {
    expect(summary(compare(source(), targets))).toEqual(expected);
  });

  it('a disabled or deleted source keeps the copies and names them; a copy it does not own is no finding', () => {
    expect(summary(compare(source({ state: 'disabled' }), { a: ours(V(1), 1_000), b: { name: 'app', createdOn: 5, enabled: true, tags: {} } })).placements).toEqual({ a: 'source-disabled', b: 'in-sync' });
    expect(summary(compare(source({ state: 'deleted', createdOn: 0 }), { a: ours(V(1), 1_000) })).placements).toEqual({ a: 'source-deleted' });
  });

  it('a target whose listing failed makes its placement check-failed with the reason', () => {
    const secret = compareSecret(source(), [delivery('a')], new Map([['a', { kind: 'failed', failure: { reason: 'timeout', message: 'GET /secrets took longer than 30000 ms' } }]]), KEY);
    expect(secret.placements[0]).toMatchObject({ drift: 'check-failed', failure: { reason: 'timeout' } });
  });
});
