import { PatchStrategy, setHeaderOptions, type AppsV1Api, type CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTlsMaterial } from '../../../local/kubernetes/tls.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';
import { ownerOf } from '../../../shared/domain/references.js';
import { TransientTargetError, type DeliveryRequest } from '../../../shared/targets/contract.js';
import {
  ANNOTATION_KEYS,
  ANNOTATION_RESTARTED_AT,
  ANNOTATION_SOURCE_VERSION,
  LABEL_MANAGED_BY,
  type KubernetesTarget,
} from '../../../shared/targets/kubernetes/index.js';
import { adminClients, containsNone, decode, SOURCE_VAULT, sourceVersion, targetOn, writesOf } from './support.js';

const NS = 'apps';
let emulator: KubernetesEmulator;
let core: CoreV1Api;
let apps: AppsV1Api;
let target: KubernetesTarget & { sleep: { waits: number[] } };
const values: string[] = [];
let counter = 0;

const policy = { adopt: false, recoverDeleted: true };
const name = (label: string): string => `${label}-${++counter}`;

function request(placement: { name: string; key?: string }, version: ReturnType<typeof sourceVersion>, extra: Partial<DeliveryRequest> = {}): DeliveryRequest {
  values.push(version.value);
  return { placement, source: version.facts, value: version.value, policy, ...extra };
}

async function readSecret(secretName: string) {
  return core.readNamespacedSecret({ name: secretName, namespace: NS });
}

async function deployment(deploymentName: string, annotations: Record<string, string> = {}): Promise<void> {
  await apps.createNamespacedDeployment({
    namespace: NS,
    body: {
      metadata: { name: deploymentName, annotations },
      spec: {
        selector: { matchLabels: { app: deploymentName } },
        template: { metadata: { labels: { app: deploymentName } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      },
    },
  });
}

beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'edge-1', namespaces: [NS] });
  ({ core, apps } = adminClients(emulator));
  target = targetOn(emulator, NS, { restartAnnotated: true });
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(() => {
  emulator.setFaults([]);
});

describe('Kubernetes target on the emulator', () => {
  it('creates the Secret with the ownership label and annotations, then writes nothing for the same version', async () => {
    const placement = { name: name('db'), key: 'password' };
    const v1 = sourceVersion('db-password');
    const created = await target.deliver(request(placement, v1));
    expect(created).toMatchObject({ status: 'Created', reason: 'absent', location: `edge-1/apps/${placement.name}#password` });
    const secret = await readSecret(placement.name);
    expect(secret.type).toBe('Opaque');
    expect(decode(secret.data?.password)).toBe(v1.value);
    expect(secret.metadata?.labels?.[LABEL_MANAGED_BY]).toBe('secret-relay');
    expect(secret.metadata?.annotations).toMatchObject({
      'secret-relay.io/source': ownerOf(SOURCE_VAULT, 'db-password'),
      'secret-relay.io/source-version': v1.facts.version,
      'secret-relay.io/fingerprint': v1.facts.fingerprint,
    });
    expect(secret.metadata?.annotations?.['secret-relay.io/synced-at']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.parse(secret.metadata!.annotations![ANNOTATION_KEYS]!).password).toMatchObject({ version: v1.facts.version });
    expect(created.writtenVersion).toBe(secret.metadata?.resourceVersion);

    emulator.resetCounters();
    const again = await target.deliver(request(placement, v1));
    expect(again).toMatchObject({ status: 'UpToDate', previousSourceVersion: v1.facts.version });
    expect(writesOf(emulator)).toBe(0);
    expect(emulator.counters()['get secrets']).toBe(1);
    expect(containsNone([created, again], values)).toBe(true);
  });

  it('finds annotated Deployments on every page of the list (limit/continue), as on a cluster with many Deployments', async () => {
    const ns = 'paged';
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const placement = { name: name('paged'), key: 'k' };
    const annotated: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const deploymentName = `${placement.name}-d${i}`;
      if (i % 2 === 0) annotated.push(deploymentName);
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: deploymentName, annotations: i % 2 === 0 ? { 'secret-relay.io/restart-on': placement.name } : {} },
          spec: {
            selector: { matchLabels: { app: deploymentName } },
            template: { metadata: { labels: { app: deploymentName } }, spec: { containers: [{ name: 'c', image: 'nginx:1' }] } },
          },
        },
      });
    }
    const paged = targetOn(emulator, ns, { restartAnnotated: true, listPageSize: 2 });
    await paged.deliver(request(placement, sourceVersion('paged')));
    emulator.resetCounters();
    const updated = await paged.deliver(request(placement, sourceVersion('paged')));
    expect(updated.status).toBe('Updated');
    expect([...(updated.restarted ?? [])].sort()).toEqual(annotated);
    // Five Deployments in pages of two: three list requests.
    expect(emulator.counters()['list deployments']).toBe(3);
  });

  it('on a value change updates the key and restarts each named and annotated Deployment once; unchanged restarts nothing', async () => {
    const placement = { name: name('api-creds'), key: 'token' };
    await deployment(`${placement.name}-api`);
    await deployment(`${placement.name}-worker`, { 'secret-relay.io/restart-on': `other,${placement.name}` });
    await deployment(`${placement.name}-bystander`);
    const k8s = { type: 'Opaque' as const, restartDeployments: [`${placement.name}-api`, `${placement.name}-worker`] };
    const v1 = sourceVersion('api-token');
    await target.deliver(request(placement, v1, { kubernetes: k8s }));
    const generations = async (): Promise<number[]> =>
      Promise.all(['api', 'worker', 'bystander'].map(async (d) => (await apps.readNamespacedDeployment({ name: `${placement.name}-${d}`, namespace: NS })).metadata!.generation!));
    const before = await generations();

    emulator.resetCounters();
    const v2 = sourceVersion('api-token');
    const updated = await target.deliver(request(placement, v2, { kubernetes: k8s }));
    expect(updated).toMatchObject({ status: 'Updated', reason: 'older-version', previousSourceVersion: v1.facts.version });
    expect(updated.restarted).toEqual([`${placement.name}-api`, `${placement.name}-worker`]);
    expect(decode((await readSecret(placement.name)).data?.token)).toBe(v2.value);
    expect(await generations()).toEqual([before[0]! + 1, before[1]! + 1, before[2]]);
    expect(emulator.counters()['patch deployments']).toBe(2);
    const api = await apps.readNamespacedDeployment({ name: `${placement.name}-api`, namespace: NS });
    expect(api.spec?.template.metadata?.annotations?.[ANNOTATION_RESTARTED_AT]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    emulator.resetCounters();
    const unchanged = await target.deliver(request(placement, v2, { kubernetes: k8s }));
    expect(unchanged.status).toBe('UpToDate');
    expect(unchanged.restarted).toBeUndefined();
    expect(writesOf(emulator)).toBe(0);
    expect(await generations()).toEqual([before[0]! + 1, before[1]! + 1, before[2]]);
  });

  it('leaves a foreign Secret with the same name byte-identical (FailedNotOwned), and adopts it when the route says so', async () => {
    const placement = { name: name('foreign'), key: 'password' };
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: placement.name, labels: { team: 'x' } }, stringData: { password: 'theirs', other: 'keep' } } });
    const before = JSON.stringify(await readSecret(placement.name));
    emulator.resetCounters();
    const refused = await target.deliver(request(placement, sourceVersion('db-password')));
    expect(refused).toMatchObject({ status: 'FailedNotOwned', reason: 'foreign' });
    expect(writesOf(emulator)).toBe(0);
    expect(JSON.stringify(await readSecret(placement.name))).toBe(before);

    const v1 = sourceVersion('db-password');
    const adopted = await target.deliver(request(placement, v1, { policy: { ...policy, adopt: true } }));
    expect(adopted.status).toBe('Adopted');
    const secret = await readSecret(placement.name);
    expect(decode(secret.data?.password)).toBe(v1.value);
    expect(decode(secret.data?.other)).toBe('keep');
    expect(secret.metadata?.labels).toEqual({ team: 'x', [LABEL_MANAGED_BY]: 'secret-relay' });
    expect((await target.deliver(request(placement, v1))).status).toBe('UpToDate');
  });

  it('refuses invalid names, keys, data over 1 MiB and bad typed values before any API call (FailedValidation)', async () => {
    const v = sourceVersion('x');
    const tls = { type: 'kubernetes.io/tls' as const, restartDeployments: [] };
    const docker = { type: 'kubernetes.io/dockerconfigjson' as const, restartDeployments: [] };
    emulator.resetCounters();
    const cases: DeliveryRequest[] = [
      request({ name: 'Bad_Name', key: 'k' }, v),
      request({ name: 'ok-name', key: 'bad key' }, v),
      request({ name: 'ok-name', key: 'k' }, { ...v, value: 'x'.repeat(1024 * 1024 + 1) }),
      request({ name: 'ok-name', key: 'k' }, v, { kubernetes: tls }),
      request({ name: 'ok-name', key: 'k' }, v, { kubernetes: docker }),
      request({ name: 'ok-name', key: 'k' }, v, { policy: { ...policy, versionsToKeep: 0 } }),
    ];
    for (const r of cases) {
      const outcome = await target.deliver(r);
      expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'invalid' });
      expect(outcome.message).toBeTruthy();
      expect(containsNone(outcome, [v.value])).toBe(true);
    }
    expect(emulator.counters().total).toBe(0);
  });

  it('refuses a write that would push the Secret data over 1 MiB (sum of keys) without writing', async () => {
    const placement = { name: name('big'), key: 'b' };
    const first = sourceVersion('big-a', 'a'.repeat(700 * 1024));
    await target.deliver(request({ name: placement.name, key: 'a' }, first));
    emulator.resetCounters();
    const outcome = await target.deliver(request(placement, sourceVersion('big-b', 'b'.repeat(400 * 1024))));
    expect(outcome).toMatchObject({ status: 'FailedValidation', reason: 'invalid' });
    expect(writesOf(emulator)).toBe(0);
  });

  it('keeps the latest 3 versions as key, key-1, key-2', async () => {
    const placement = { name: name('history'), key: 'pw' };
    const versions = [1, 2, 3, 4].map(() => sourceVersion('history'));
    for (const v of versions) await target.deliver(request(placement, v, { policy: { ...policy, versionsToKeep: 3 } }));
    const secret = await readSecret(placement.name);
    expect(Object.keys(secret.data!).sort()).toEqual(['pw', 'pw-1', 'pw-2']);
    expect(decode(secret.data!.pw)).toBe(versions[3]!.value);
    expect(decode(secret.data!['pw-1'])).toBe(versions[2]!.value);
    expect(decode(secret.data!['pw-2'])).toBe(versions[1]!.value);
    const marks = JSON.parse(secret.metadata!.annotations![ANNOTATION_KEYS]!);
    expect(marks['pw-2'].version).toBe(versions[1]!.facts.version);

    const shrunk = await target.deliver(request(placement, sourceVersion('history'), { policy: { ...policy, versionsToKeep: 1 } }));
    expect(shrunk.status).toBe('Updated');
    expect(Object.keys((await readSecret(placement.name)).data!)).toEqual(['pw']);
  });

  it('lets two routes feed two keys of one Secret without clobbering each other', async () => {
    const secretName = name('shared');
    const user = sourceVersion('db-user');
    const pass = sourceVersion('db-password');
    expect((await target.deliver(request({ name: secretName, key: 'username' }, user))).status).toBe('Created');
    expect((await target.deliver(request({ name: secretName, key: 'password' }, pass))).status).toBe('Created');
    const pass2 = sourceVersion('db-password');
    expect((await target.deliver(request({ name: secretName, key: 'password' }, pass2))).status).toBe('Updated');
    expect((await target.deliver(request({ name: secretName, key: 'username' }, user))).status).toBe('UpToDate');
    const secret = await readSecret(secretName);
    expect(decode(secret.data!.username)).toBe(user.value);
    expect(decode(secret.data!.password)).toBe(pass2.value);
    // Another source on an owned key is refused.
    expect((await target.deliver(request({ name: secretName, key: 'username' }, sourceVersion('intruder')))).status).toBe('FailedNotOwned');

    expect(await target.deleteIfOwned({ name: secretName, key: 'username' }, ownerOf(SOURCE_VAULT, 'intruder'))).toBe('NotOwned');
    expect(await target.deleteIfOwned({ name: secretName, key: 'username' }, user.facts.owner)).toBe('Deleted');
    expect(Object.keys((await readSecret(secretName)).data!)).toEqual(['password']);
    expect(await target.deleteIfOwned({ name: secretName, key: 'password' }, pass.facts.owner)).toBe('Deleted');
    await expect(readSecret(secretName)).rejects.toMatchObject({ code: 404 });
    expect(await target.deleteIfOwned({ name: secretName, key: 'password' }, pass.facts.owner)).toBe('NotFound');
  });

  it('detects and repairs a value edited behind the relay’s back', async () => {
    const placement = { name: name('drift'), key: 'k' };
    const v1 = sourceVersion('drift');
    await target.deliver(request(placement, v1));
    await core.patchNamespacedSecret(
      { name: placement.name, namespace: NS, body: { data: { k: Buffer.from('tampered').toString('base64') } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(await target.observe(placement)).toMatchObject({ state: 'present', marks: { sourceVersion: v1.facts.version } });
    const repaired = await target.deliver(request(placement, v1));
    expect(repaired).toMatchObject({ status: 'Updated', reason: 'value-drift' });
    expect(decode((await readSecret(placement.name)).data!.k)).toBe(v1.value);
  });

  it('writes kubernetes.io/tls (tls.crt, tls.key) and kubernetes.io/dockerconfigjson Secrets', async () => {
    const pem = createTlsMaterial({ commonName: 'app.example' });
    const tlsValue = `${pem.certPem}${pem.keyPem}`;
    const tlsPlacement = { name: name('tls'), key: 'ignored' };
    const tlsVersion = sourceVersion('tls', tlsValue);
    const tls = { type: 'kubernetes.io/tls' as const, restartDeployments: [] };
    expect((await target.deliver(request(tlsPlacement, tlsVersion, { kubernetes: tls }))).status).toBe('Created');
    const tlsSecret = await readSecret(tlsPlacement.name);
    expect(tlsSecret.type).toBe('kubernetes.io/tls');
    expect(decode(tlsSecret.data!['tls.crt'])).toContain('BEGIN CERTIFICATE');
    expect(decode(tlsSecret.data!['tls.key'])).toContain('PRIVATE KEY');
    expect((await target.deliver(request(tlsPlacement, tlsVersion, { kubernetes: tls }))).status).toBe('UpToDate');

    const docker = { type: 'kubernetes.io/dockerconfigjson' as const, restartDeployments: [] };
    const dockerValue = JSON.stringify({ auths: { 'registry.example': { auth: Buffer.from('u:p').toString('base64') } } });
    const dockerPlacement = { name: name('pull'), key: 'ignored' };
    expect((await target.deliver(request(dockerPlacement, sourceVersion('pull', dockerValue), { kubernetes: docker }))).status).toBe('Created');
    expect(Object.keys((await readSecret(dockerPlacement.name)).data!)).toEqual(['.dockerconfigjson']);

    // An Opaque route onto a tls Secret would need a type change: refused.
    const clash = await target.deliver(request({ name: tlsPlacement.name, key: 'extra' }, sourceVersion('tls-extra')));
    expect(clash.status).toBe('FailedValidation');
  });

  it('re-reads and retries a write that hit a concurrent change (409 Conflict)', async () => {
    const placement = { name: name('race'), key: 'k' };
    await target.deliver(request(placement, sourceVersion('race')));
    emulator.resetCounters();
    emulator.setFaults([{ verb: 'update', resource: 'secrets', name: placement.name, times: 1, effect: { kind: 'conflictingWrite' } }]);
    const v2 = sourceVersion('race');
    const outcome = await target.deliver(request(placement, v2));
    expect(outcome.status).toBe('Updated');
    expect(emulator.counters()['update secrets']).toBe(2);
    expect(emulator.counters()['get secrets']).toBe(2);
    const secret = await readSecret(placement.name);
    expect(decode(secret.data!.k)).toBe(v2.value);
    expect(secret.metadata?.annotations?.['emulator.local/touched']).toBeDefined();
    expect(secret.metadata?.annotations?.[ANNOTATION_SOURCE_VERSION]).toBe(v2.facts.version);
  });

  it('throws TransientTargetError on 5xx and network failures, and honours Retry-After on 429', async () => {
    const placement = { name: name('flaky'), key: 'k' };
    emulator.setFaults([{ verb: 'get', resource: 'secrets', effect: { kind: 'error', status: 503 } }]);
    const v = sourceVersion('flaky');
    const error = await target.deliver(request(placement, v)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientTargetError);
    expect((error as TransientTargetError).status).toBe('FailedUnavailable');
    expect(containsNone(error, [v.value])).toBe(true);

    emulator.setFaults([{ verb: 'create', resource: 'secrets', effect: { kind: 'reset' }, times: 1 }]);
    await expect(target.deliver(request(placement, v))).rejects.toBeInstanceOf(TransientTargetError);

    emulator.setFaults([{ verb: 'create', resource: 'secrets', effect: { kind: 'throttle', retryAfterInSeconds: 3 }, times: 1 }]);
    target.sleep.waits.length = 0;
    expect((await target.deliver(request(placement, v))).status).toBe('Created');
    expect(target.sleep.waits).toEqual([3_000]);

    emulator.setFaults([{ verb: 'get', resource: 'secrets', effect: { kind: 'throttle', retryAfterInSeconds: 1 } }]);
    const throttled = await target.deliver(request(placement, v)).catch((e: unknown) => e);
    expect((throttled as TransientTargetError).status).toBe('FailedThrottled');
  });

  it('reports FailedAccessDenied for 403 and 401', async () => {
    emulator.addToken({ name: 'readonly', rules: [{ verbs: ['get'], resources: ['secrets'], namespaces: [NS] }] });
    const readonly = targetOn(emulator, NS, { token: emulator.tokens.readonly! });
    const denied = await readonly.deliver(request({ name: name('denied'), key: 'k' }, sourceVersion('denied')));
    expect(denied).toMatchObject({ status: 'FailedAccessDenied', reason: 'access-denied' });
    expect(denied.message).toContain('cannot create resource "secrets"');
    const bogus = targetOn(emulator, NS, { token: 'expired-token' });
    expect(await bogus.deliver(request({ name: name('denied'), key: 'k' }, sourceVersion('denied')))).toMatchObject({
      status: 'FailedAccessDenied',
      reason: 'unauthenticated',
    });
  });
});
