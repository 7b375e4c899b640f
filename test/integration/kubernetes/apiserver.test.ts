/**
 * The emulator behaves as kube-apiserver where clients notice: each test drives the HTTP API as a client would
 * (raw HTTPS for wire details, @kubernetes/client-node otherwise) and checks the answer the real server gives.
 */
import { request as httpsRequest } from 'node:https';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';

let emulator: KubernetesEmulator;

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One API request with the admin token (or `token`), JSON unless a content type is given. */
function api(method: string, path: string, options: { body?: unknown; contentType?: string; token?: string; accept?: string } = {}): Promise<RawAnswer> {
  const url = new URL(path, emulator.server);
  const payload = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : typeof options.body === 'string' ? Buffer.from(options.body) : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca: emulator.caCertPem,
        headers: {
          authorization: `Bearer ${options.token ?? emulator.tokens.admin}`,
          'user-agent': 'apiserver-test/1.0 (linux/amd64)',
          ...(payload ? { 'content-type': options.contentType ?? 'application/json', 'content-length': String(payload.length) } : {}),
          ...(options.accept ? { accept: options.accept } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A watch stream: collects events and resolves `next(n)` once `n` events have arrived. */
function watch(path: string, options: { accept?: string } = {}): { events: { type: string; object: any }[]; until(n: number): Promise<void>; close(): void } {
  const events: { type: string; object: any }[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let buffer = '';
  const url = new URL(path, emulator.server);
  const req = httpsRequest(url, { method: 'GET', ca: emulator.caCertPem, headers: { authorization: `Bearer ${emulator.tokens.admin}`, ...(options.accept ? { accept: options.accept } : {}) } }, (res) => {
    res.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim()) events.push(JSON.parse(line));
      }
      for (const w of waiters.filter((x) => events.length >= x.n)) w.resolve();
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  return {
    events,
    until: (n) => (events.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => req.destroy(),
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const NS = 'apps';
const secrets = `/api/v1/namespaces/${NS}/secrets`;

beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'apiserver', namespaces: [NS, 'lists'], watchBookmarkIntervalInMs: 20, watchHistorySize: 50 });
});

afterAll(async () => {
  await emulator?.close();
});

describe('protobuf request bodies', () => {
  /** Encodes fields by number, independently of the emulator's schema. */
  const w = () => protobuf.Writer.create();
  const envelope = (apiVersion: string, kind: string, raw: Uint8Array): Buffer => {
    const typeMeta = w().uint32(10).string(apiVersion).uint32(18).string(kind).finish();
    const unknown = w().uint32(10).bytes(typeMeta).uint32(18).bytes(raw).finish();
    return Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0x00]), Buffer.from(unknown)]);
  };
  const meta = (name: string) => w().uint32(10).string(name).finish();

  it('creates an Event sent as application/vnd.kubernetes.protobuf, then lists it by involvedObject field selectors', async () => {
    const involved = w().uint32(10).string('Secret').uint32(18).string(NS).uint32(26).string('db').finish();
    const event = w().uint32(10).bytes(meta('db.1')).uint32(18).bytes(involved).uint32(26).string('Synced').uint32(34).string('relay wrote db').uint32(74).string('Normal').finish();
    const created = await api('POST', `/api/v1/namespaces/${NS}/events`, { body: envelope('v1', 'Event', event), contentType: 'application/vnd.kubernetes.protobuf' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'Event', metadata: { name: 'db.1', namespace: NS }, involvedObject: { kind: 'Secret', name: 'db', namespace: NS }, reason: 'Synced', type: 'Normal' });
    const listed = await api('GET', `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent('involvedObject.name=db,involvedObject.kind=Secret')}`);
    expect(listed.body.items.map((e: { metadata: { name: string } }) => e.metadata.name)).toEqual(['db.1']);
  });

  it('creates a Secret and a ConfigMap from protobuf with binary data intact', async () => {
    const entry = (k: string, v: Uint8Array | string) => w().uint32(10).string(k).uint32(18)[typeof v === 'string' ? 'string' : 'bytes'](v as never).finish();
    const secret = w().uint32(10).bytes(meta('pb-secret')).uint32(18).bytes(entry('bin', new Uint8Array([0, 255, 1]))).uint32(26).string('Opaque').finish();
    const answer = await api('POST', secrets, { body: envelope('v1', 'Secret', secret), contentType: 'application/vnd.kubernetes.protobuf' });
    expect(answer.status).toBe(201);
    expect(answer.body.data).toEqual({ bin: Buffer.from([0, 255, 1]).toString('base64') });
    const configMap = w().uint32(10).bytes(meta('pb-config')).uint32(18).bytes(entry('mode', 'fast')).finish();
    const cm = await api('POST', `/api/v1/namespaces/${NS}/configmaps`, { body: envelope('v1', 'ConfigMap', configMap), contentType: 'application/vnd.kubernetes.protobuf' });
    expect(cm.status).toBe(201);
    expect(cm.body.data).toEqual({ mode: 'fast' });
  });

  it('answers 400 to bytes without the k8s envelope', async () => {
    const answer = await api('POST', secrets, { body: Buffer.from('not protobuf'), contentType: 'application/vnd.kubernetes.protobuf' });
    expect(answer.status).toBe(400);
    expect(answer.body.kind).toBe('Status');
  });
});

describe('OpenAPI documents for kubectl validation', () => {
  it('lists group versions in /openapi/v3 and offers fieldValidation on the Secret PATCH operation', async () => {
    const index = await api('GET', '/openapi/v3');
    expect(Object.keys(index.body.paths)).toEqual(expect.arrayContaining(['api/v1', 'apis/apps/v1']));
    const doc = await api('GET', index.body.paths['api/v1'].serverRelativeURL);
    const path = doc.body.paths['/api/v1/namespaces/{namespace}/secrets/{name}'];
    expect(path.patch['x-kubernetes-group-version-kind']).toEqual({ group: '', version: 'v1', kind: 'Secret' });
    expect(path.patch.parameters.map((p: { name: string }) => p.name)).toContain('fieldValidation');
  });

  it('refuses unknown fields with fieldValidation=Strict and warns about them otherwise', async () => {
    const strict = await api('POST', `${secrets}?fieldValidation=Strict`, { body: { metadata: { name: 'strict' }, dta: {} } });
    expect(strict.status).toBe(400);
    expect(strict.body.message).toBe('Secret in version "v1" cannot be handled as a Secret: strict decoding error: unknown field "dta"');
    const warned = await api('POST', secrets, { body: { metadata: { name: 'warned' }, dta: {} } });
    expect(warned.status).toBe(201);
    expect(warned.headers.warning).toBe('299 - "unknown field \\"dta\\""');
    expect(warned.body.dta).toBeUndefined();
  });
});

describe('watch', () => {
  it('starts with ADDED for existing objects without a resourceVersion, then streams changes', async () => {
    await api('POST', '/api/v1/namespaces/lists/secrets', { body: { metadata: { name: 'w-existing' } } });
    const stream = watch('/api/v1/namespaces/lists/secrets?watch=1');
    await stream.until(1);
    await api('POST', '/api/v1/namespaces/lists/secrets', { body: { metadata: { name: 'w-new' } } });
    await api('PATCH', '/api/v1/namespaces/lists/secrets/w-new', { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' });
    await api('DELETE', '/api/v1/namespaces/lists/secrets/w-new');
    await stream.until(4);
    stream.close();
    expect(stream.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED w-existing', 'ADDED w-new', 'MODIFIED w-new', 'DELETED w-new']);
  });

  it('reports an object entering a label selector as ADDED and leaving it as DELETED', async () => {
    const stream = watch('/api/v1/namespaces/lists/secrets?watch=1&labelSelector=stage%3Dlive');
    const patch = (labels: Record<string, string>) =>
      api('PATCH', '/api/v1/namespaces/lists/secrets/w-moving', { body: { metadata: { labels } }, contentType: 'application/merge-patch+json' });
    await api('POST', '/api/v1/namespaces/lists/secrets', { body: { metadata: { name: 'w-moving' } } });
    await patch({ stage: 'live' });
    await patch({ stage: 'live', other: 'x' });
    await patch({ stage: 'retired' });
    await stream.until(3);
    stream.close();
    expect(stream.events.map((e) => `${e.type} ${e.object.metadata.labels.stage}`)).toEqual(['ADDED live', 'MODIFIED live', 'DELETED retired']);
  });

  it('resumes after the resourceVersion of a list (list-then-watch, as kubectl get -w does), in Table form', async () => {
    const list = await api('GET', '/api/v1/namespaces/lists/secrets');
    await api('POST', '/api/v1/namespaces/lists/secrets', { body: { metadata: { name: 'w-after-list' } } });
    const stream = watch(`/api/v1/namespaces/lists/secrets?watch=1&resourceVersion=${list.body.metadata.resourceVersion}`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    await stream.until(1);
    stream.close();
    expect(stream.events[0]!.type).toBe('ADDED');
    expect(stream.events[0]!.object.kind).toBe('Table');
    expect(stream.events[0]!.object.rows[0].cells[0]).toBe('w-after-list');
  });

  it('sends bookmarks, and the initial-events-end bookmark with sendInitialEvents', async () => {
    const stream = watch('/api/v1/namespaces/lists/secrets?watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan');
    const count = (await api('GET', '/api/v1/namespaces/lists/secrets')).body.items.length;
    await stream.until(count + 2);
    stream.close();
    const initialEnd = stream.events[count]!;
    expect(initialEnd.type).toBe('BOOKMARK');
    expect(initialEnd.object.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(stream.events[count + 1]!).toMatchObject({ type: 'BOOKMARK', object: { kind: 'Secret', metadata: { resourceVersion: expect.stringMatching(/^\d+$/) } } });
  });

  it('answers a resourceVersion older than the kept history with an ERROR event: 410 Expired', async () => {
    for (let i = 0; i < 55; i += 1) await api('PATCH', '/api/v1/namespaces/lists/secrets/w-existing', { body: { metadata: { labels: { i: String(i) } } }, contentType: 'application/merge-patch+json' });
    const stream = watch('/api/v1/namespaces/lists/secrets?watch=1&resourceVersion=1');
    await stream.until(1);
    stream.close();
    expect(stream.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: expect.stringMatching(/^too old resource version: 1 \(\d+\)$/) } });
  });
});

describe('lists', () => {
  it('pages with limit and continue, reporting remainingItemCount', async () => {
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await api('POST', '/api/v1/namespaces/lists/secrets', { body: { metadata: { name: n, labels: { page: 'yes' } } } });
    const names: string[] = [];
    let token = '';
    const remaining: (number | undefined)[] = [];
    do {
      const page = await api('GET', `/api/v1/namespaces/lists/secrets?labelSelector=page%3Dyes&limit=2${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      names.push(...page.body.items.map((s: { metadata: { name: string } }) => s.metadata.name));
      remaining.push(page.body.metadata.remainingItemCount);
      token = page.body.metadata.continue ?? '';
    } while (token);
    expect(names).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(remaining).toEqual([3, 1, undefined]);
    const bad = await api('GET', '/api/v1/namespaces/lists/secrets?limit=2&continue=bm90LWEtdG9rZW4');
    expect(bad.status).toBe(400);
  });

  it('supports the field selectors of each type and answers 400 to the others', async () => {
    const byType = await api('GET', `/api/v1/namespaces/lists/secrets?fieldSelector=${encodeURIComponent('type=Opaque,metadata.name=p3')}`);
    expect(byType.body.items.map((s: { metadata: { name: string } }) => s.metadata.name)).toEqual(['p3']);
    const unsupported = await api('GET', '/api/v1/namespaces/lists/secrets?fieldSelector=data.x%3Dy');
    expect(unsupported.status).toBe(400);
    expect(unsupported.body).toMatchObject({ reason: 'BadRequest', message: 'field label not supported: data.x' });
  });

  it('deletes a collection by label selector and returns what it deleted', async () => {
    const deleted = await api('DELETE', '/api/v1/namespaces/lists/secrets?labelSelector=page%3Dyes');
    expect(deleted.status).toBe(200);
    expect(deleted.body.kind).toBe('SecretList');
    expect(deleted.body.items).toHaveLength(5);
    const left = await api('GET', '/api/v1/namespaces/lists/secrets?labelSelector=page%3Dyes');
    expect(left.body.items).toEqual([]);
    const relay = await api('DELETE', '/api/v1/namespaces/lists/secrets?labelSelector=page%3Dyes', { token: emulator.tokens.relay });
    expect(relay.status).toBe(403);
    expect(relay.body.message).toBe('secrets is forbidden: User "system:serviceaccount:secret-relay:relay" cannot deletecollection resource "secrets" in API group "" in the namespace "lists"');
  });
});

describe('Secrets', () => {
  it('refuses data changes to an immutable Secret with 422, allows metadata changes, and keeps immutable set', async () => {
    const created = await api('POST', secrets, { body: { metadata: { name: 'frozen' }, immutable: true, data: { k: b64('v1') } } });
    expect(created.status).toBe(201);
    const dataChange = await api('PATCH', `${secrets}/frozen`, { body: { data: { k: b64('v2') } }, contentType: 'application/merge-patch+json' });
    expect(dataChange.status).toBe(422);
    expect(dataChange.body).toMatchObject({ reason: 'Invalid', message: 'Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set', details: { kind: 'Secret', name: 'frozen' } });
    const labels = await api('PATCH', `${secrets}/frozen`, { body: { metadata: { labels: { ok: 'yes' } } }, contentType: 'application/merge-patch+json' });
    expect(labels.status).toBe(200);
    const unset = await api('PATCH', `${secrets}/frozen`, { body: { immutable: false }, contentType: 'application/merge-patch+json' });
    expect(unset.status).toBe(422);
    expect(unset.body.message).toBe('Secret "frozen" is invalid: immutable: Forbidden: field is immutable when `immutable` is set');
  });

  it('treats an immutable ConfigMap the same way, for data and binaryData', async () => {
    const configmaps = `/api/v1/namespaces/${NS}/configmaps`;
    expect((await api('POST', configmaps, { body: { metadata: { name: 'frozen-cm' }, immutable: true, data: { a: '1' }, binaryData: { b: b64('2') } } })).status).toBe(201);
    const change = await api('PATCH', `${configmaps}/frozen-cm`, { body: { binaryData: { b: b64('3') } }, contentType: 'application/merge-patch+json' });
    expect(change.status).toBe(422);
    expect(change.body.message).toBe('ConfigMap "frozen-cm" is invalid: binaryData: Forbidden: field is immutable when `immutable` is set');
  });

  it.each([
    ['kubernetes.io/basic-auth', {}, {}, 'Secret "typed-x" is invalid: [data[username]: Required value, data[password]: Required value]'],
    ['kubernetes.io/ssh-auth', { other: b64('x') }, {}, 'Secret "typed-x" is invalid: data[ssh-privatekey]: Required value'],
    ['kubernetes.io/service-account-token', {}, {}, 'Secret "typed-x" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value'],
  ])('validates the keys of a %s Secret', async (type, data, annotations, message) => {
    const answer = await api('POST', secrets, { body: { metadata: { name: 'typed-x', annotations }, type, data } });
    expect(answer.status).toBe(422);
    expect(answer.body.message).toBe(message);
  });

  it('accepts valid typed Secrets', async () => {
    expect((await api('POST', secrets, { body: { metadata: { name: 'basic' }, type: 'kubernetes.io/basic-auth', stringData: { password: 'p' } } })).status).toBe(201);
    expect((await api('POST', secrets, { body: { metadata: { name: 'sa', annotations: { 'kubernetes.io/service-account.name': 'default' } }, type: 'kubernetes.io/service-account-token' } })).status).toBe(201);
  });

  it('records managedFields per field manager (fieldManager, else the User-Agent)', async () => {
    const created = await api('POST', `${secrets}?fieldManager=relay`, { body: { metadata: { name: 'managed', labels: { a: 'b' } }, data: { k: b64('v') } } });
    expect(created.body.metadata.managedFields).toEqual([
      { manager: 'relay', operation: 'Update', apiVersion: 'v1', time: expect.any(String), fieldsType: 'FieldsV1', fieldsV1: { 'f:data': { '.': {}, 'f:k': {} }, 'f:metadata': { '.': {}, 'f:labels': { '.': {}, 'f:a': {} } }, 'f:type': {} } },
    ]);
    const patched = await api('PATCH', `${secrets}/managed`, { body: { metadata: { labels: { c: 'd' } } }, contentType: 'application/merge-patch+json' });
    expect(patched.body.metadata.managedFields.map((m: { manager: string }) => m.manager)).toEqual(['relay', 'apiserver-test']);
  });

  it('words failed preconditions as the API server does', async () => {
    const created = await api('POST', secrets, { body: { metadata: { name: 'precond' } } });
    const uid = await api('DELETE', `${secrets}/precond`, { body: { preconditions: { uid: 'other-uid' } } });
    expect(uid.status).toBe(409);
    expect(uid.body).toMatchObject({
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on secrets "precond": StorageError: invalid object, Code: 4, Key: /registry/secrets/${NS}/precond, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: other-uid, UID in object meta: ${created.body.metadata.uid}`,
      details: { name: 'precond', kind: 'secrets' },
    });
    const rv = await api('DELETE', `${secrets}/precond`, { body: { preconditions: { resourceVersion: '1' } } });
    expect(rv.body.message).toContain(`Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: ${created.body.metadata.resourceVersion}`);
    const update = await api('PUT', `${secrets}/precond`, { body: { metadata: { name: 'precond', uid: 'other-uid' } } });
    expect(update.status).toBe(409);
    expect(update.body.message).toContain('Precondition failed: UID in precondition: other-uid');
  });
});

describe('server-side apply', () => {
  const apply = (body: string, query: string) => api('PATCH', `${secrets}/applied?${query}`, { body, contentType: 'application/apply-patch+yaml' });
  const config = (value: string, extra = '') => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\n  labels: {team: a}\nstringData:\n  k: ${value}\n${extra}`;

  it('creates, updates, removes fields it no longer applies, and reports conflicts with other managers', async () => {
    const created = await apply(config('v1', '  extra: x\n'), 'fieldManager=ci');
    expect(created.status).toBe(201);
    expect(created.body.data).toEqual({ k: b64('v1'), extra: b64('x') });
    expect(created.body.metadata.managedFields[0]).toMatchObject({ manager: 'ci', operation: 'Apply' });
    const updated = await apply(config('v2'), 'fieldManager=ci');
    expect(updated.status).toBe(200);
    expect(updated.body.data).toEqual({ k: b64('v2') });
    const conflict = await apply(config('v3'), 'fieldManager=other');
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toBe('Apply failed with 1 conflict: conflict with "ci" using v1: .data.k');
    const forced = await apply(config('v3'), 'fieldManager=other&force=true');
    expect(forced.status).toBe(200);
    expect(forced.body.data.k).toBe(b64('v3'));
  });

  it('requires a fieldManager', async () => {
    const answer = await apply(config('v1'), '');
    expect(answer.status).toBe(422);
    expect(answer.body.message).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  });
});

describe('namespace lifecycle', () => {
  it('a deleted namespace is Terminating and refuses new content with 403, then disappears', async () => {
    const slow = await startKubernetesEmulator({ cluster: 'slow-ns', namespaces: ['doomed'], namespaceFinalizeDelayInMs: 3_600_000 });
    try {
      const kc = new KubeConfig();
      kc.loadFromString(slow.kubeconfig(slow.tokens.admin!));
      const core = kc.makeApiClient(CoreV1Api);
      const deleted = await core.deleteNamespace({ name: 'doomed' });
      expect((deleted as { status?: { phase?: string } }).status?.phase).toBe('Terminating');
      expect((await core.readNamespace({ name: 'doomed' })).metadata?.deletionTimestamp).toBeInstanceOf(Date);
      const refused = await core.createNamespacedSecret({ namespace: 'doomed', body: { metadata: { name: 'late' } } }).catch((e: { code: number; body: string }) => e);
      expect((refused as { code: number }).code).toBe(403);
      expect(JSON.parse((refused as { body: string }).body)).toMatchObject({
        reason: 'Forbidden',
        message: 'secrets "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
        details: { name: 'late', kind: 'secrets', causes: [{ reason: 'NamespaceTerminating', message: 'namespace doomed is being terminated', field: 'metadata.namespace' }] },
      });
    } finally {
      await slow.close();
    }
    await api('POST', '/api/v1/namespaces', { body: { metadata: { name: 'short-lived' } } });
    await api('POST', '/api/v1/namespaces/short-lived/secrets', { body: { metadata: { name: 'inside' } } });
    const stream = watch('/api/v1/namespaces?watch=1&fieldSelector=metadata.name%3Dshort-lived');
    await stream.until(1);
    await api('DELETE', '/api/v1/namespaces/short-lived');
    await stream.until(3);
    stream.close();
    expect(stream.events.map((e) => `${e.type} ${e.object.status?.phase}`)).toEqual(['ADDED Active', 'MODIFIED Terminating', 'DELETED Terminating']);
    expect((await api('GET', '/api/v1/namespaces/short-lived/secrets/inside')).status).toBe(404);
  });
});

describe('Deployments', () => {
  const deployments = `/apis/apps/v1/namespaces/${NS}/deployments`;
  const body = (name: string, labels: Record<string, string> = { app: name }) => ({
    metadata: { name },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }] }] } } },
  });

  it('fills the pod template defaults and bumps generation on spec and annotation changes, not label changes', async () => {
    const created = await api('POST', deployments, { body: body('gen') });
    expect(created.body.metadata.generation).toBe(1);
    expect(created.body.spec.template.spec).toMatchObject({ restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', securityContext: {} });
    expect(created.body.spec.template.spec.containers[0]).toMatchObject({ imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', ports: [{ containerPort: 80, protocol: 'TCP' }] });
    const merge = (patch: unknown) => api('PATCH', `${deployments}/gen`, { body: patch, contentType: 'application/merge-patch+json' });
    expect((await merge({ metadata: { labels: { x: 'y' } } })).body.metadata.generation).toBe(1);
    expect((await merge({ metadata: { annotations: { note: 'n' } } })).body.metadata.generation).toBe(2);
    expect((await merge({ spec: { replicas: 3 } })).body.metadata.generation).toBe(3);
  });

  it('refuses a selector change and a template that the selector does not match', async () => {
    await api('POST', deployments, { body: body('sel') });
    const changed = await api('PATCH', `${deployments}/sel`, { body: { spec: { selector: { matchLabels: { app: 'other' } }, template: { metadata: { labels: { app: 'other' } } } } }, contentType: 'application/merge-patch+json' });
    expect(changed.status).toBe(422);
    expect(changed.body.message).toBe('Deployment.apps "sel" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable');
    const mismatch = await api('POST', deployments, { body: body('mismatch', { app: 'nope' }) });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body.message).toBe('Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"nope"}: `selector` does not match template `labels`');
  });
});

describe('SelfSubjectAccessReview and Events RBAC', () => {
  const review = (token: string, attributes: Record<string, string>) =>
    api('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { token, body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attributes } } });

  it('answers what the calling token may do', async () => {
    const relay = emulator.tokens.relay!;
    expect((await review(relay, { namespace: NS, verb: 'update', resource: 'secrets' })).body.status.allowed).toBe(true);
    expect((await review(relay, { namespace: NS, verb: 'create', resource: 'events' })).body.status.allowed).toBe(true);
    expect((await review(relay, { namespace: NS, verb: 'list', resource: 'events' })).body.status.allowed).toBe(false);
    expect((await review(relay, { namespace: NS, verb: 'patch', group: 'apps', resource: 'deployments' })).body.status.allowed).toBe(true);
    const answer = await review(emulator.tokens.admin!, { namespace: NS, verb: 'create', resource: 'events' });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ kind: 'SelfSubjectAccessReview', status: { allowed: true } });
  });

  it('lets a token with an events rule create and list Events, and refuses one without', async () => {
    const recorder = emulator.addToken({ name: 'recorder', rules: [{ verbs: ['create', 'list'], resources: ['events'], namespaces: [NS] }] });
    const event = { metadata: { name: 'rbac.1' }, involvedObject: { kind: 'Secret', name: 'db', namespace: NS }, reason: 'Synced', message: 'ok' };
    expect((await api('POST', `/api/v1/namespaces/${NS}/events`, { token: recorder, body: event })).status).toBe(201);
    expect((await api('GET', `/api/v1/namespaces/${NS}/events`, { token: recorder })).body.items.map((e: { metadata: { name: string } }) => e.metadata.name)).toContain('rbac.1');
    const refused = await api('GET', `/api/v1/namespaces/${NS}/events`, { token: emulator.tokens.relay });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(`events is forbidden: User "system:serviceaccount:secret-relay:relay" cannot list resource "events" in API group "" in the namespace "${NS}"`);
  });
});
