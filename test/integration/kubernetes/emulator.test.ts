import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';

let emulator: KubernetesEmulator;
let core: CoreV1Api;
let apps: AppsV1Api;

function clientFor(token: string): { core: CoreV1Api; apps: AppsV1Api } {
  const kc = new KubeConfig();
  kc.loadFromString(emulator.kubeconfig(token));
  return { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** Runs a call that must fail and returns the API error's code and Status body. */
async function failure(call: Promise<unknown>): Promise<{ code: number; body: { reason: string; message: string; details?: unknown } }> {
  try {
    await call;
  } catch (error) {
    const e = error as { code?: number; body?: unknown };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, body: typeof e.body === 'string' ? JSON.parse(e.body) : (e.body as never) };
  }
  throw new Error('expected the call to fail');
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'test-1', namespaces: ['apps', 'other'] });
  ({ core, apps } = clientFor(emulator.tokens.admin!));
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(() => {
  emulator.setFaults([]);
});

describe('Kubernetes emulator through @kubernetes/client-node', () => {
  it('creates, reads, replaces, patches and deletes Secrets with resourceVersions', async () => {
    const created = await core.createNamespacedSecret({
      namespace: 'apps',
      body: { metadata: { name: 'crud', labels: { team: 'a' } }, stringData: { user: 'u1' } },
    });
    expect(created.type).toBe('Opaque');
    expect(created.data).toEqual({ user: b64('u1') });
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);

    const read = await core.readNamespacedSecret({ name: 'crud', namespace: 'apps' });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);

    const replaced = await core.replaceNamespacedSecret({
      name: 'crud',
      namespace: 'apps',
      body: { ...read, data: { user: b64('u2') } },
    });
    expect(Number(replaced.metadata!.resourceVersion)).toBeGreaterThan(Number(read.metadata!.resourceVersion));

    const merged = await core.patchNamespacedSecret(
      { name: 'crud', namespace: 'apps', body: { metadata: { annotations: { note: 'x' } }, data: { extra: b64('e') } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.annotations).toEqual({ note: 'x' });
    expect(Object.keys(merged.data!).sort()).toEqual(['extra', 'user']);

    const jsonPatched = await core.patchNamespacedSecret(
      { name: 'crud', namespace: 'apps', body: [{ op: 'remove', path: '/data/extra' }, { op: 'add', path: '/metadata/labels/tier', value: 'b' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(Object.keys(jsonPatched.data!)).toEqual(['user']);
    expect(jsonPatched.metadata?.labels).toEqual({ team: 'a', tier: 'b' });

    const status = await core.deleteNamespacedSecret({ name: 'crud', namespace: 'apps' });
    expect(status.status).toBe('Success');
    const gone = await failure(core.readNamespacedSecret({ name: 'crud', namespace: 'apps' }));
    expect(gone.code).toBe(404);
    expect(gone.body.reason).toBe('NotFound');
    expect(gone.body.message).toBe('secrets "crud" not found');
  });

  it('keeps the resourceVersion on a no-op replace and answers 409 Conflict on a stale one', async () => {
    const created = await core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'stale' }, data: { k: b64('1') } } });
    const same = await core.replaceNamespacedSecret({ name: 'stale', namespace: 'apps', body: created });
    expect(same.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

    await core.replaceNamespacedSecret({ name: 'stale', namespace: 'apps', body: { ...created, data: { k: b64('2') } } });
    const stale = await failure(core.replaceNamespacedSecret({ name: 'stale', namespace: 'apps', body: { ...created, data: { k: b64('3') } } }));
    expect(stale.code).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    expect(stale.body.message).toBe(
      'Operation cannot be fulfilled on secrets "stale": the object has been modified; please apply your changes to the latest version and try again',
    );

    const stalePatch = await failure(
      core.patchNamespacedSecret(
        { name: 'stale', namespace: 'apps', body: { metadata: { resourceVersion: created.metadata!.resourceVersion }, data: { k: b64('4') } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    expect(stalePatch.code).toBe(409);

    const duplicate = await failure(core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'stale' } } }));
    expect(duplicate.code).toBe(409);
    expect(duplicate.body.reason).toBe('AlreadyExists');
    expect(duplicate.body.message).toBe('secrets "stale" already exists');
  });

  it('lists with equality, inequality, set and existence label selectors', async () => {
    const make = (name: string, labels: Record<string, string>): Promise<V1Secret> =>
      core.createNamespacedSecret({ namespace: 'other', body: { metadata: { name, labels } } });
    await make('sel-a', { app: 'a', tier: 'web' });
    await make('sel-b', { app: 'b', tier: 'db' });
    await make('sel-c', { app: 'c' });
    const names = async (labelSelector: string): Promise<string[]> =>
      (await core.listNamespacedSecret({ namespace: 'other', labelSelector })).items.map((s) => s.metadata!.name!);
    expect(await names('app=a')).toEqual(['sel-a']);
    expect(await names('app!=a')).toEqual(['sel-b', 'sel-c']);
    expect(await names('app in (a,c)')).toEqual(['sel-a', 'sel-c']);
    expect(await names('app notin (a,c)')).toEqual(['sel-b']);
    expect(await names('tier')).toEqual(['sel-a', 'sel-b']);
    expect(await names('!tier')).toEqual(['sel-c']);
    expect(await names('app in (a,b),tier=db')).toEqual(['sel-b']);
    const all = await core.listSecretForAllNamespaces({ labelSelector: 'app=a' });
    expect(all.items.map((s) => `${s.metadata!.namespace}/${s.metadata!.name}`)).toEqual(['other/sel-a']);
  });

  it('answers 422 Invalid for bad names, bad keys, data over 1 MiB and bad typed Secrets', async () => {
    const badName = await failure(core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'Bad_Name' } } }));
    expect(badName.code).toBe(422);
    expect(badName.body.reason).toBe('Invalid');
    expect(badName.body.message).toMatch(/^Secret "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);

    const badKey = await failure(core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'bad-key' }, data: { 'a b': b64('x') } } }));
    expect(badKey.code).toBe(422);
    expect(badKey.body.message).toMatch(/^Secret "bad-key" is invalid: data\[a b\]: Invalid value: "a b": a valid config key must consist of alphanumeric characters/);

    const half = Buffer.alloc(600 * 1024, 1).toString('base64');
    const big = await failure(core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'big' }, data: { a: half, b: half } } }));
    expect(big.code).toBe(422);
    expect(big.body.message).toBe('Secret "big" is invalid: data: Too long: may not be more than 1048576 bytes');

    const tls = await failure(core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c') } } }));
    expect(tls.code).toBe(422);
    expect(tls.body.message).toBe('Secret "tls" is invalid: data[tls.key]: Required value');

    const missingNs = await failure(core.createNamespacedSecret({ namespace: 'nowhere', body: { metadata: { name: 'x' } } }));
    expect(missingNs.code).toBe(404);
    expect(missingNs.body.message).toBe('namespaces "nowhere" not found');
  });

  it('refuses to change a Secret type (immutable)', async () => {
    const created = await core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'typed' }, data: { k: b64('v') } } });
    const changed = await failure(core.replaceNamespacedSecret({ name: 'typed', namespace: 'apps', body: { ...created, type: 'kubernetes.io/basic-auth' } }));
    expect(changed.code).toBe(422);
    expect(changed.body.message).toBe('Secret "typed" is invalid: type: Invalid value: "kubernetes.io/basic-auth": field is immutable');
  });

  it('authenticates bearer tokens (401) and enforces per-token verbs, resources and namespaces (403)', async () => {
    emulator.addToken({
      name: 'reader',
      user: 'system:serviceaccount:apps:reader',
      rules: [{ verbs: ['get', 'list'], resources: ['secrets'], namespaces: ['apps'] }],
    });
    const reader = clientFor(emulator.tokens.reader!);
    await core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'guarded' } } });
    await expect(reader.core.readNamespacedSecret({ name: 'guarded', namespace: 'apps' })).resolves.toBeDefined();

    const write = await failure(reader.core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'nope' } } }));
    expect(write.code).toBe(403);
    expect(write.body.message).toBe('secrets is forbidden: User "system:serviceaccount:apps:reader" cannot create resource "secrets" in API group "" in the namespace "apps"');

    const otherNs = await failure(reader.core.readNamespacedSecret({ name: 'sel-a', namespace: 'other' }));
    expect(otherNs.code).toBe(403);
    expect(otherNs.body.message).toBe('secrets "sel-a" is forbidden: User "system:serviceaccount:apps:reader" cannot get resource "secrets" in API group "" in the namespace "other"');

    const deploy = await failure(reader.apps.readNamespacedDeployment({ name: 'x', namespace: 'apps' }));
    expect(deploy.code).toBe(403);
    expect(deploy.body.message).toContain('cannot get resource "deployments" in API group "apps" in the namespace "apps"');

    emulator.revokeToken('reader');
    const revoked = await failure(reader.core.readNamespacedSecret({ name: 'guarded', namespace: 'apps' }));
    // client-node drops the body of 401 answers; the code is what a caller sees.
    expect(revoked.code).toBe(401);
    const bogus = await failure(clientFor('not-a-token').core.listNamespace());
    expect(bogus.code).toBe(401);
  });

  it('creates, patches (rollout restart) and reads Deployments, bumping generation on spec changes only', async () => {
    const created = await apps.createNamespacedDeployment({
      namespace: 'apps',
      body: {
        metadata: { name: 'web' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
        },
      },
    });
    expect(created.metadata?.generation).toBe(1);
    const restarted = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'apps', body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' } } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(restarted.metadata?.generation).toBe(2);
    expect(restarted.spec?.template.metadata?.annotations).toEqual({ 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' });
    expect(restarted.spec?.template.metadata?.labels).toEqual({ app: 'web' });
    expect(restarted.status?.observedGeneration).toBe(2);
    const labelled = await apps.patchNamespacedDeployment(
      { name: 'web', namespace: 'apps', body: { metadata: { labels: { x: 'y' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(labelled.metadata?.generation).toBe(2);
    const missing = await failure(apps.readNamespacedDeployment({ name: 'ghost', namespace: 'apps' }));
    expect(missing.body.message).toBe('deployments.apps "ghost" not found');
  });

  it('injects faults by verb and resource and counts requests per verb', async () => {
    await core.createNamespacedSecret({ namespace: 'apps', body: { metadata: { name: 'faulty' } } });
    emulator.resetCounters();
    emulator.setFaults([
      { verb: 'get', resource: 'secrets', times: 1, effect: { kind: 'error', status: 503 } },
      { verb: 'update', resource: 'secrets', times: 1, effect: { kind: 'throttle', retryAfterInSeconds: 7 } },
    ]);
    const unavailable = await failure(core.readNamespacedSecret({ name: 'faulty', namespace: 'apps' }));
    expect(unavailable.code).toBe(503);
    const secret = await core.readNamespacedSecret({ name: 'faulty', namespace: 'apps' });
    let throttled: unknown;
    try {
      await core.replaceNamespacedSecret({ name: 'faulty', namespace: 'apps', body: secret });
    } catch (error) {
      throttled = error;
    }
    expect((throttled as { code: number }).code).toBe(429);
    expect((throttled as { headers: Record<string, string> }).headers['retry-after']).toBe('7');
    await core.listNamespacedSecret({ namespace: 'apps' });

    emulator.setFaults([{ verb: 'update', resource: 'secrets', times: 1, effect: { kind: 'conflictingWrite' } }]);
    const conflict = await failure(core.replaceNamespacedSecret({ name: 'faulty', namespace: 'apps', body: secret }));
    expect(conflict.body.reason).toBe('Conflict');

    emulator.setFaults([{ resource: 'secrets', effect: { kind: 'reset' }, times: 1 }]);
    await expect(core.listNamespacedSecret({ namespace: 'apps' })).rejects.toThrow();

    const counters = emulator.counters();
    expect(counters['get secrets']).toBe(2);
    expect(counters['update secrets']).toBe(2);
    expect(counters['list secrets']).toBe(2);
    expect(counters['create secrets']).toBeUndefined();
    expect(counters.faults).toBe(4);

    const viaAdmin = (await (await fetch(`${emulator.adminUrl}/counters`)).json()) as Record<string, number>;
    expect(viaAdmin['get secrets']).toBe(2);
    const put = await fetch(`${emulator.adminUrl}/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ verb: 'list', resource: 'namespaces', effect: { kind: 'forbidden' } }]),
    });
    expect(put.status).toBe(200);
    const denied = await failure(core.listNamespace());
    expect(denied.code).toBe(403);
    expect(denied.body.message).toBe('namespaces is forbidden: User "kubernetes-admin" cannot list resource "namespaces" in API group "" at the cluster scope');
  });
});
