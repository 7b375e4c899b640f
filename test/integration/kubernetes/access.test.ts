import type { AccessToken, TokenCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';
import { createClusterAccess, createKubernetesTarget, AKS_SERVER_APP_ID } from '../../../shared/targets/kubernetes/index.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import { FINGERPRINT_KEY, sourceVersion } from './support.js';

let emulator: KubernetesEmulator;
beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'aks-1', namespaces: ['apps'] });
});
afterAll(async () => {
  await emulator?.close();
});

const policy = { adopt: false, recoverDeleted: true };

describe('cluster access', () => {
  it('aad: asks for the server application scope, reuses the token, and refreshes it before expiry', async () => {
    let now = 1_000_000;
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope): Promise<AccessToken> => {
        scopes.push(String(scope));
        return { token: emulator.tokens.relay!, expiresOnTimestamp: now + 60 * 60_000 };
      },
    };
    const cluster = { name: 'aks-1', server: emulator.server, caCert: emulator.caCertPem, auth: { type: 'aad' as const, serverAppId: AKS_SERVER_APP_ID } };
    const access = createClusterAccess({ cluster, credential, clock: () => now });
    await access.kubeConfig();
    await access.kubeConfig();
    expect(scopes).toEqual([`${AKS_SERVER_APP_ID}/.default`]);
    now += 56 * 60_000;
    await access.kubeConfig();
    expect(scopes).toHaveLength(2);

    const target = createKubernetesTarget({ targetId: 'aks', cluster, namespace: 'apps', credential, fingerprintKey: FINGERPRINT_KEY, writeBudget: new WriteBudget({ writes: 100, perSeconds: 1 }) });
    const v = sourceVersion('aad');
    expect((await target.deliver({ placement: { name: 'via-aad', key: 'k' }, source: v.facts, value: v.value, policy })).status).toBe('Created');
  });

  it('kubeconfigSecret: reads the stored kubeconfig at delivery time; a failing read is FailedAccessDenied without the value', async () => {
    let reads = 0;
    let stored = emulator.kubeconfig(emulator.tokens.relay!);
    const target = createKubernetesTarget({
      targetId: 'kc',
      cluster: { name: 'aks-1', server: emulator.server, auth: { type: 'kubeconfigSecret', source: 'platform', secret: 'aks-1-kubeconfig' } },
      namespace: 'apps',
      readSecretValue: async () => {
        reads++;
        if (!stored) throw new Error('secret disabled');
        return stored;
      },
      fingerprintKey: FINGERPRINT_KEY,
      writeBudget: new WriteBudget({ writes: 100, perSeconds: 1 }),
    });
    const v = sourceVersion('kc');
    expect((await target.deliver({ placement: { name: 'via-kubeconfig', key: 'k' }, source: v.facts, value: v.value, policy })).status).toBe('Created');
    expect((await target.deliver({ placement: { name: 'via-kubeconfig', key: 'k' }, source: v.facts, value: v.value, policy })).status).toBe('UpToDate');
    expect(reads).toBe(2);
    stored = '';
    const failed = await target.deliver({ placement: { name: 'via-kubeconfig', key: 'k' }, source: v.facts, value: v.value, policy });
    expect(failed).toMatchObject({ status: 'FailedAccessDenied', reason: 'credential-unavailable' });
    expect(failed.message).not.toContain(emulator.tokens.relay!);
  });

  it('kubeconfigSecret: refuses a kubeconfig whose user runs an exec plugin', async () => {
    const execConfig = emulator
      .kubeconfig('unused')
      .replace(/ {4}token: unused/, '    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false');
    const access = createClusterAccess({
      cluster: { name: 'aks-1', server: emulator.server, auth: { type: 'kubeconfigSecret', source: 'platform', secret: 'x' } },
      readSecretValue: async () => execConfig,
    });
    await expect(access.kubeConfig()).rejects.toThrow(/exec plugin/);
  });
});
