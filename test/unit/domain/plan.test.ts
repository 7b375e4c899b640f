import { describe, expect, it } from 'vitest';
import { findSourceByVault, isRoutedName, planDeliveries, RelayConfigSchema } from '../../../shared/domain/index.js';
import type { RelayConfigInput } from '../../../shared/domain/index.js';

const input: RelayConfigInput = {
  sources: [
    { id: 'platform', vaultUrl: 'https://platform.vault.azure.net' },
    { id: 'local', vaultUrl: 'https://127.0.0.1:8443' },
  ],
  targets: [
    { id: 'contoso', kind: 'keyVault', vaultUrl: 'https://contoso.vault.azure.net', vars: { customer: 'contoso' } },
    {
      id: 'edge-1-apps',
      kind: 'kubernetes',
      cluster: { name: 'edge-1', server: 'https://edge-1.example:6443', auth: { type: 'tokenSecret', source: 'platform', secret: 'edge-1-token' } },
      namespace: 'apps',
      vars: { cluster: 'edge-1' },
    },
  ],
  routes: [
    {
      id: 'db-passwords',
      source: 'platform',
      match: { names: ['db-password'], globs: ['bmc-*'], tags: { relay: 'customers' } },
      targets: [
        { target: 'contoso', name: '{customer}--{name}', adopt: true },
        { target: 'edge-1-apps', name: 'db-creds', key: '{name|lower}', versionsToKeep: 2, restartDeployments: ['api'] },
      ],
    },
    { id: 'all-to-contoso', source: 'platform', targets: [{ target: 'contoso', name: '{customer}--{name}' }] },
    { id: 'k8s-default-key', source: 'platform', match: { globs: ['svc-*'] }, targets: [{ target: 'edge-1-apps', name: '{cluster}-{name|lower}' }] },
  ],
};
const config = RelayConfigSchema.parse(input);

describe('planDeliveries', () => {
  it('plans every target of every matching route, with rendered placements and defaults', () => {
    expect(planDeliveries(config, { sourceId: 'platform', name: 'DB-Password', tags: { relay: 'customers' } })).toEqual([
      {
        routeId: 'db-passwords',
        targetId: 'contoso',
        kind: 'keyVault',
        placement: { name: 'contoso--db-password' },
        policy: { adopt: true, recoverDeleted: true, versionsToKeep: 1 },
      },
      {
        routeId: 'db-passwords',
        targetId: 'edge-1-apps',
        kind: 'kubernetes',
        placement: { name: 'db-creds', key: 'db-password' },
        policy: { adopt: false, recoverDeleted: true, versionsToKeep: 2 },
        k8s: { type: 'Opaque', restartDeployments: ['api'] },
      },
    ]);
  });

  it.each<[string, Record<string, string>, string[]]>([
    ['bmc-7', { relay: 'customers' }, ['db-passwords/contoso/contoso--bmc-7', 'db-passwords/edge-1-apps/db-creds#bmc-7']],
    ['bmc-7', {}, ['all-to-contoso/contoso/contoso--bmc-7']],
    ['Svc-Api', {}, ['all-to-contoso/contoso/contoso--Svc-Api', 'k8s-default-key/edge-1-apps/edge-1-svc-api#Svc-Api']],
    ['other', {}, ['all-to-contoso/contoso/contoso--other']],
  ])('%s with tags %j', (name, tags, expected) => {
    const plan = planDeliveries(config, { sourceId: 'platform', name, tags });
    expect(plan.map((d) => `${d.routeId}/${d.targetId}/${d.placement.name}${d.placement.key ? `#${d.placement.key}` : ''}`)).toEqual(expected);
  });

  it('plans nothing for another source or an unrouted source', () => {
    expect(planDeliveries(config, { sourceId: 'local', name: 'db-password' })).toEqual([]);
    expect(planDeliveries(config, { sourceId: 'nope', name: 'db-password' })).toEqual([]);
  });

  it('quick-filters names routed for a source, ignoring tags', () => {
    expect(isRoutedName(config, 'platform', 'anything')).toBe(true);
    expect(isRoutedName(config, 'local', 'anything')).toBe(false);
  });
});

describe('findSourceByVault', () => {
  it.each([
    ['https://platform.vault.azure.net', 'platform'],
    ['https://PLATFORM.vault.azure.net/secrets/db/abc', 'platform'],
    ['platform.vault.azure.net', 'platform'],
    ['Platform', 'platform'],
    ['https://127.0.0.1:8443/secrets/x/y', 'local'],
    ['127.0.0.1:8443', 'local'],
    ['https://127.0.0.1:9999', undefined],
    ['contoso', undefined],
    ['https://contoso.vault.azure.net', undefined],
    ['', undefined],
    ['not a url://', undefined],
  ])('%s → %s', (vault, expected) => {
    expect(findSourceByVault(config, vault)?.id).toBe(expected);
  });
});
