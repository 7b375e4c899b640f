/**
 * The emulator's object store: namespaces, Secrets, Deployments (and empty ReplicaSets/Pods/Events lists), with a
 * cluster-wide resourceVersion counter, optimistic concurrency, defaults and validation as the API server applies
 * them. Objects are kept in their JSON wire form.
 */
import { randomUUID } from 'node:crypto';
import { applyJsonPatch, applyMergePatch } from './patch.js';
import { compileFieldSelector, compileLabelSelector } from './selectors.js';
import { recordUpdate, serverSideApply } from './fields.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  expiredContinue,
  invalid,
  namespaceTerminating,
  notFound,
  preconditionFailed,
  unsupportedMediaType,
  type FieldError,
  type GroupResource,
} from './status.js';
import type { Resource } from './types.js';
import {
  annotationErrors,
  configMapErrors,
  deploymentErrors,
  deploymentUpdateErrors,
  immutableDataErrors,
  immutableError,
  labelNameErrors,
  secretErrors,
  subdomainNameErrors,
} from './validation.js';

/** A Kubernetes object in wire form. */
export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Static facts about a resource type, as discovery reports them. */
export interface ResourceDef {
  resource: Resource;
  group: '' | 'apps';
  kind: string;
  singular: string;
  namespaced: boolean;
  verbs: readonly string[];
  shortNames?: readonly string[];
  /** Served for describe/get, but always empty and read-only. */
  readOnlyEmpty?: boolean;
  /** Field labels the type's field selector conversion accepts; others are 400 `field label not supported`. */
  fieldSelectors: readonly string[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

export const RESOURCE_DEFS: Readonly<Record<Resource, ResourceDef>> = {
  namespaces: { resource: 'namespaces', group: '', kind: 'Namespace', singular: 'namespace', namespaced: false, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'], fieldSelectors: ['metadata.name', 'status.phase'] },
  secrets: { resource: 'secrets', group: '', kind: 'Secret', singular: 'secret', namespaced: true, verbs: ALL_VERBS, fieldSelectors: ['metadata.name', 'metadata.namespace', 'type'] },
  configmaps: { resource: 'configmaps', group: '', kind: 'ConfigMap', singular: 'configmap', namespaced: true, verbs: ALL_VERBS, shortNames: ['cm'], fieldSelectors: ['metadata.name', 'metadata.namespace'] },
  events: {
    resource: 'events', group: '', kind: 'Event', singular: 'event', namespaced: true, verbs: ALL_VERBS, shortNames: ['ev'],
    fieldSelectors: ['metadata.name', 'metadata.namespace', 'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  },
  pods: { resource: 'pods', group: '', kind: 'Pod', singular: 'pod', namespaced: true, verbs: ALL_VERBS, shortNames: ['po'], readOnlyEmpty: true, fieldSelectors: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'] },
  deployments: { resource: 'deployments', group: 'apps', kind: 'Deployment', singular: 'deployment', namespaced: true, verbs: ALL_VERBS, shortNames: ['deploy'], fieldSelectors: ['metadata.name', 'metadata.namespace'] },
  replicasets: { resource: 'replicasets', group: 'apps', kind: 'ReplicaSet', singular: 'replicaset', namespaced: true, verbs: ALL_VERBS, shortNames: ['rs'], readOnlyEmpty: true, fieldSelectors: ['metadata.name', 'metadata.namespace', 'status.replicas'] },
};

export function groupResource(resource: Resource): GroupResource {
  return { group: RESOURCE_DEFS[resource].group, resource };
}

function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/v1` : 'v1';
}

function key(resource: Resource, namespace: string | undefined, name: string): string {
  return `${resource}|${namespace ?? ''}|${name}`;
}

/** Deep equality of JSON values, ignoring key order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, i) => sameJson(item, other[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const PATCH_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json'] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

export function isPatchType(contentType: string): contentType is PatchType {
  return (PATCH_TYPES as readonly string[]).includes(contentType);
}

export interface ListOptions {
  labelSelector?: string | null;
  fieldSelector?: string | null;
}

/** Who is writing, for managedFields: `fieldManager`, else the User-Agent's product name. */
export interface WriteOptions {
  manager?: string;
}

/** A change, as a watch reports it. `resourceVersion` is the cluster revision the change produced. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: Resource;
  object: K8sObject;
  /** For MODIFIED: the object before the change (a filtered watch turns entering/leaving its selector into ADDED/DELETED). */
  previous?: K8sObject;
  resourceVersion: number;
}

/** One page of a list: items after the `continue` key, and the key of the next page (if more remain). */
export interface ListPage {
  items: K8sObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface ObjectStoreOptions {
  /** How long a deleted namespace stays `Terminating` before its content and itself are gone; default 0 (next tick). */
  namespaceFinalizeDelayInMs?: number;
  /** Changes kept for watches that resume from a resourceVersion; older ones get 410 Expired. Default 1000. */
  watchHistorySize?: number;
}

const DATA_FIELDS: Partial<Record<Resource, readonly string[]>> = { secrets: ['data'], configmaps: ['data', 'binaryData'] };

function sortKey(object: K8sObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The in-memory object store of one emulated cluster. */
export class ObjectStore {
  private readonly objects = new Map<string, K8sObject>();
  private revision = 0;
  private readonly history: WatchEvent[] = [];
  private readonly listeners = new Set<(event: WatchEvent) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly finalizeDelayInMs: number;
  private readonly historySize: number;

  constructor(namespaces: readonly string[], options: ObjectStoreOptions = {}) {
    this.finalizeDelayInMs = options.namespaceFinalizeDelayInMs ?? 0;
    this.historySize = options.watchHistorySize ?? 1000;
    for (const name of namespaces) this.create('namespaces', undefined, { metadata: { name } });
  }

  /** The cluster's current resourceVersion (as a list's `metadata.resourceVersion`). */
  get resourceVersion(): string {
    return String(this.revision);
  }

  private nextVersion(): string {
    this.revision += 1;
    return String(this.revision);
  }

  /** Calls `listener` for every later change; returns the unsubscribe function. */
  subscribe(listener: (event: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes after `resourceVersion`, or `expired` when the history no longer reaches back that far. */
  changesSince(resourceVersion: number): WatchEvent[] | 'expired' {
    const oldest = this.history[0]?.resourceVersion ?? this.revision + 1;
    if (resourceVersion < oldest - 1 && resourceVersion < this.revision) return 'expired';
    return this.history.filter((e) => e.resourceVersion > resourceVersion).map((e) => structuredClone(e));
  }

  /** The oldest resourceVersion a watch can resume from. */
  get oldestResumableVersion(): number {
    return (this.history[0]?.resourceVersion ?? this.revision + 1) - 1;
  }

  /** Stops pending namespace finalizers (the emulator is closing). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.listeners.clear();
  }

  private emit(type: WatchEvent['type'], resource: Resource, object: K8sObject, previous?: K8sObject): void {
    const event: WatchEvent = { type, resource, object: structuredClone(object), ...(previous ? { previous: structuredClone(previous) } : {}), resourceVersion: this.revision };
    this.history.push(event);
    if (this.history.length > this.historySize) this.history.shift();
    for (const listener of this.listeners) listener(structuredClone(event));
  }

  /** Returns a copy of an object, or throws 404. */
  get(resource: Resource, namespace: string | undefined, name: string): K8sObject {
    const found = this.objects.get(key(resource, namespace, name));
    if (!found) throw notFound(groupResource(resource), name);
    return structuredClone(found);
  }

  /** Lists copies of objects, optionally in one namespace, filtered by selectors, sorted by namespace and name. */
  list(resource: Resource, namespace: string | undefined, options: ListOptions = {}): K8sObject[] {
    const byLabel = compileLabelSelector(options.labelSelector);
    const byField = compileFieldSelector(options.fieldSelector, RESOURCE_DEFS[resource].fieldSelectors);
    const items: K8sObject[] = [];
    for (const object of this.objects.values()) {
      if (object.kind !== RESOURCE_DEFS[resource].kind) continue;
      if (namespace !== undefined && object.metadata.namespace !== namespace) continue;
      if (!byLabel(object.metadata.labels) || !byField(object)) continue;
      items.push(structuredClone(object));
    }
    return items.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  }

  /**
   * One page of a list (`limit`, `continue`), with the continue token the API server uses: base64 of
   * `{"v":"meta.k8s.io/v1","rv":<list revision>,"start":"<next key>"}`. Pages after the first show the current state
   * after the start key (the real server serves the snapshot at `rv` from etcd).
   */
  listPage(resource: Resource, namespace: string | undefined, options: ListOptions & { limit?: number; continue?: string | null }): ListPage {
    let start = '';
    let rv = this.resourceVersion;
    if (options.continue) {
      const parsed = parseContinue(options.continue);
      start = parsed.start;
      rv = String(parsed.rv);
      if (parsed.rv < this.oldestResumableVersion) throw expiredContinue();
    }
    const all = this.list(resource, namespace, options).filter((o) => sortKey(o) >= start);
    const limit = options.limit && options.limit > 0 ? options.limit : undefined;
    if (limit === undefined || all.length <= limit) return { items: all, resourceVersion: rv };
    const items = all.slice(0, limit);
    const next = `${sortKey(items[items.length - 1]!)}\u0000`;
    const token = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(rv), start: next }), 'utf8').toString('base64');
    return { items, resourceVersion: rv, continue: token, remainingItemCount: all.length - limit };
  }

  /** Creates an object: 404 if the namespace is missing, 403 if it is terminating, 409 AlreadyExists, 422 Invalid. */
  create(resource: Resource, namespace: string | undefined, body: K8sObject, options: WriteOptions = {}): K8sObject {
    const def = RESOURCE_DEFS[resource];
    if (def.readOnlyEmpty) throw badRequest(`the emulator does not create ${resource}`);
    const object = this.normalize(def, namespace, body);
    if (!object.metadata.name && object.metadata.generateName) {
      object.metadata.name = `${object.metadata.generateName}${randomUUID().slice(0, 5)}`;
    }
    const name = object.metadata.name ?? '';
    this.admitCreate(def, namespace, name);
    this.validate(def, object, undefined);
    if (this.objects.has(key(resource, namespace, name))) throw alreadyExists(groupResource(resource), name);
    return this.insert(def, object, options);
  }

  /** The NamespaceLifecycle admission check: the namespace must exist and not be terminating. */
  private admitCreate(def: ResourceDef, namespace: string | undefined, name: string): void {
    if (!def.namespaced || namespace === undefined) return;
    const ns = this.objects.get(key('namespaces', undefined, namespace));
    if (!ns) throw notFound(groupResource('namespaces'), namespace);
    if ((ns.status as { phase?: string } | undefined)?.phase === 'Terminating') throw namespaceTerminating(groupResource(def.resource), name, namespace);
  }

  private insert(def: ResourceDef, object: K8sObject, options: WriteOptions, managedFields?: unknown): K8sObject {
    const name = object.metadata.name ?? '';
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = nowRfc3339();
    if (def.resource === 'deployments') {
      object.metadata.generation = 1;
      object.status = deploymentStatus(object, 1);
    }
    if (def.resource === 'namespaces') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    }
    object.metadata.managedFields = managedFields ?? recordUpdate(undefined, object, options.manager ?? 'unknown', apiVersionOf(def));
    object.metadata.resourceVersion = this.nextVersion();
    this.objects.set(key(def.resource, object.metadata.namespace, name), object);
    this.emit('ADDED', def.resource, object);
    return structuredClone(object);
  }

  /**
   * Replaces an object (PUT). A non-empty `metadata.resourceVersion` must equal the stored one (409 Conflict);
   * an empty one is an unconditional update. A no-op update keeps the resourceVersion, as etcd does.
   */
  update(resource: Resource, namespace: string | undefined, name: string, body: K8sObject, options: WriteOptions = {}): K8sObject {
    const def = RESOURCE_DEFS[resource];
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    const current = this.objects.get(key(resource, namespace, name));
    if (!current) throw notFound(groupResource(resource), name);
    const object = this.normalize(def, namespace, body);
    object.metadata.name = name;
    return this.commit(def, current, object, options);
  }

  /** Applies a merge, strategic merge or JSON patch; a `metadata.resourceVersion` in the result is a precondition. */
  patch(resource: Resource, namespace: string | undefined, name: string, contentType: string, patchBody: unknown, options: WriteOptions = {}): K8sObject {
    const def = RESOURCE_DEFS[resource];
    if (!isPatchType(contentType)) throw unsupportedMediaType(contentType);
    const current = this.objects.get(key(resource, namespace, name));
    if (!current) throw notFound(groupResource(resource), name);
    const base = structuredClone(current) as never;
    const patched = (contentType === 'application/json-patch+json' ? applyJsonPatch(base, patchBody) : applyMergePatch(base, patchBody as never)) as unknown;
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) throw badRequest('patch did not produce an object');
    const object = patched as K8sObject;
    object.metadata ??= {};
    if (object.metadata.name !== name) throw badRequest(`the name of the object (${String(object.metadata.name)}) does not match the name on the URL (${name})`);
    return this.commit(def, current, this.normalize(def, namespace, object), options);
  }

  /**
   * Server-side apply (`application/apply-patch+yaml`): creates the object when absent, else merges the applied
   * configuration, tracking ownership per field manager. 409 on a conflict with another manager unless `force`.
   */
  apply(resource: Resource, namespace: string | undefined, name: string, config: unknown, options: { manager: string; force: boolean }): { object: K8sObject; created: boolean } {
    const def = RESOURCE_DEFS[resource];
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw badRequest('the applied configuration must be an object');
    const body = config as K8sObject;
    const apiVersion = apiVersionOf(def);
    if (body.apiVersion !== apiVersion || body.kind !== def.kind) {
      throw badRequest(`the API version in the data (${String(body.apiVersion ?? '')}) does not match the expected API version (${apiVersion})`);
    }
    if (body.metadata?.name !== name) throw badRequest(`the name of the object (${String(body.metadata?.name ?? '')}) does not match the name on the URL (${name})`);
    const normalized = this.normalize(def, namespace, body, { defaults: false });
    delete normalized.apiVersion;
    delete normalized.kind;
    const current = this.objects.get(key(resource, namespace, name));
    const merged = serverSideApply(current, normalized, { manager: options.manager, force: options.force, apiVersion });
    if (!current) {
      this.admitCreate(def, namespace, name);
      const object = this.normalize(def, namespace, merged);
      this.validate(def, object, undefined);
      return { object: this.insert(def, object, {}, merged.metadata.managedFields), created: true };
    }
    const object = this.normalize(def, namespace, merged);
    delete object.metadata.resourceVersion;
    return { object: this.commit(def, current, object, { managedFields: merged.metadata.managedFields }), created: false };
  }

  /**
   * Deletes an object; 404 if missing; 409 when a precondition (from DeleteOptions) fails, worded as the API server's
   * storage layer words it. Deleting a namespace marks it `Terminating`; its content and then itself go later.
   */
  delete(resource: Resource, namespace: string | undefined, name: string, preconditions: { resourceVersion?: string; uid?: string } = {}): K8sObject {
    const k = key(resource, namespace, name);
    const current = this.objects.get(k);
    if (!current) throw notFound(groupResource(resource), name);
    const storageKey = storageKeyOf(resource, namespace, name);
    if (preconditions.uid && preconditions.uid !== current.metadata.uid) {
      throw preconditionFailed(groupResource(resource), name, storageKey, 'UID', preconditions.uid, current.metadata.uid ?? '');
    }
    if (preconditions.resourceVersion && preconditions.resourceVersion !== current.metadata.resourceVersion) {
      throw preconditionFailed(groupResource(resource), name, storageKey, 'ResourceVersion', preconditions.resourceVersion, current.metadata.resourceVersion ?? '');
    }
    if (resource === 'namespaces') return this.terminate(current);
    this.objects.delete(k);
    this.nextVersion();
    this.emit('DELETED', resource, { ...current, metadata: { ...current.metadata, resourceVersion: this.resourceVersion } });
    return structuredClone(current);
  }

  /** Deletes every object of a collection matching the selectors; returns the deleted objects. */
  deleteCollection(resource: Resource, namespace: string | undefined, options: ListOptions): K8sObject[] {
    return this.list(resource, namespace, options).map((o) => this.delete(resource, o.metadata.namespace, o.metadata.name!));
  }

  private terminate(namespace: K8sObject): K8sObject {
    if ((namespace.status as { phase?: string } | undefined)?.phase === 'Terminating') return structuredClone(namespace);
    const previous = structuredClone(namespace);
    namespace.metadata.deletionTimestamp = nowRfc3339();
    namespace.status = { phase: 'Terminating' };
    namespace.metadata.resourceVersion = this.nextVersion();
    this.emit('MODIFIED', 'namespaces', namespace, previous);
    const name = namespace.metadata.name!;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.finalizeNamespace(name);
    }, this.finalizeDelayInMs);
    this.timers.add(timer);
    return structuredClone(namespace);
  }

  /** What the namespace controller does: delete the content, then the namespace. */
  private finalizeNamespace(name: string): void {
    for (const [k, object] of [...this.objects]) {
      if (object.metadata.namespace !== name) continue;
      this.objects.delete(k);
      this.nextVersion();
      const resource = (Object.values(RESOURCE_DEFS).find((d) => d.kind === object.kind)?.resource ?? 'secrets') as Resource;
      this.emit('DELETED', resource, { ...object, metadata: { ...object.metadata, resourceVersion: this.resourceVersion } });
    }
    const k = key('namespaces', undefined, name);
    const ns = this.objects.get(k);
    if (!ns) return;
    this.objects.delete(k);
    this.nextVersion();
    this.emit('DELETED', 'namespaces', { ...ns, spec: { finalizers: [] }, metadata: { ...ns.metadata, resourceVersion: this.resourceVersion } });
  }

  /**
   * Another writer changes the object: a new resourceVersion and the annotation `emulator.local/touched`. Used by
   * the `conflictingWrite` fault. A missing object is left missing.
   */
  touch(resource: Resource, namespace: string | undefined, name: string): void {
    const current = this.objects.get(key(resource, namespace, name));
    if (!current) return;
    const previous = structuredClone(current);
    current.metadata.annotations = { ...current.metadata.annotations, 'emulator.local/touched': this.nextVersion() };
    current.metadata.resourceVersion = this.resourceVersion;
    this.emit('MODIFIED', resource, current, previous);
  }

  private commit(def: ResourceDef, current: K8sObject, object: K8sObject, options: WriteOptions & { managedFields?: unknown }): K8sObject {
    const name = current.metadata.name!;
    const wantedUid = object.metadata.uid;
    if (wantedUid && wantedUid !== current.metadata.uid) {
      throw preconditionFailed(groupResource(def.resource), name, storageKeyOf(def.resource, current.metadata.namespace, name), 'UID', wantedUid, current.metadata.uid ?? '');
    }
    const wanted = object.metadata.resourceVersion;
    if (wanted && wanted !== current.metadata.resourceVersion) throw conflict(groupResource(def.resource), name);
    // System fields are the server's, whatever the body says.
    object.metadata.uid = current.metadata.uid;
    object.metadata.creationTimestamp = current.metadata.creationTimestamp;
    object.metadata.resourceVersion = current.metadata.resourceVersion;
    if (current.metadata.deletionTimestamp !== undefined) object.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
    else delete object.metadata.deletionTimestamp;
    if (def.resource === 'secrets' && current.type !== object.type) {
      throw invalid(def.kind, groupResource(def.resource), name, [immutableError('type', String(object.type))]);
    }
    if (def.resource === 'namespaces') {
      object.spec = current.spec;
      object.status = current.status;
    }
    if (def.resource === 'deployments') {
      const generation = current.metadata.generation ?? 1;
      // As the Deployment strategy does: spec and annotation changes bump the generation (annotations are copied to
      // ReplicaSets), label changes do not.
      const unchanged = sameJson(current.spec, object.spec) && sameJson(current.metadata.annotations ?? {}, object.metadata.annotations ?? {});
      object.metadata.generation = unchanged ? generation : generation + 1;
      object.status = deploymentStatus(object, object.metadata.generation);
    }
    this.validate(def, object, current);
    object.metadata.managedFields =
      options.managedFields ?? (options.manager ? recordUpdate(current, object, options.manager, apiVersionOf(def)) : current.metadata.managedFields);
    if (sameJson(withoutTimes(current), withoutTimes(object))) return structuredClone(current);
    object.metadata.resourceVersion = this.nextVersion();
    this.objects.set(key(def.resource, current.metadata.namespace, name), object);
    this.emit('MODIFIED', def.resource, object, current);
    return structuredClone(object);
  }

  /** Fills apiVersion/kind/namespace, folds Secret `stringData` into `data`, defaults the Secret type and Deployments. */
  private normalize(def: ResourceDef, namespace: string | undefined, body: K8sObject, options: { defaults?: boolean } = {}): K8sObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be an object');
    const defaults = options.defaults ?? true;
    const object = structuredClone(body);
    object.metadata = { ...(object.metadata ?? {}) };
    if (def.namespaced) {
      if (object.metadata.namespace !== undefined && object.metadata.namespace !== '' && object.metadata.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      object.metadata.namespace = namespace;
    } else delete object.metadata.namespace;
    object.apiVersion = apiVersionOf(def);
    object.kind = def.kind;
    for (const field of ['labels', 'annotations'] as const) {
      const map = object.metadata[field];
      if (map !== undefined && (map === null || Object.keys(map).length === 0)) delete object.metadata[field];
    }
    if (object.metadata.managedFields === null || (Array.isArray(object.metadata.managedFields) && object.metadata.managedFields.length === 0)) {
      delete object.metadata.managedFields;
    }
    if (def.resource === 'secrets') {
      const data: Record<string, string> = { ...((object.data as Record<string, string> | undefined) ?? {}) };
      for (const [k, v] of Object.entries(data)) {
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
          throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data[${k}])`);
        }
      }
      const stringData = (object.stringData as Record<string, string> | undefined) ?? {};
      for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      delete object.stringData;
      if (Object.keys(data).length > 0) object.data = data;
      else delete object.data;
      if (defaults) object.type = (object.type as string | undefined) || 'Opaque';
    }
    if (def.resource === 'configmaps') {
      for (const field of ['data', 'binaryData'] as const) {
        const map = object[field] as Record<string, unknown> | undefined | null;
        if (map === null || (map && Object.keys(map).length === 0)) delete object[field];
      }
    }
    if (def.resource === 'events' && defaults) {
      object.type ??= 'Normal';
      object.count ??= 1;
      object.source ??= {};
      object.reportingComponent ??= '';
      object.reportingInstance ??= '';
      object.involvedObject ??= {};
    }
    if (def.resource === 'deployments' && defaults) defaultDeployment(object);
    return object;
  }

  private validate(def: ResourceDef, object: K8sObject, old: K8sObject | undefined): void {
    const name = object.metadata.name ?? '';
    let errors: FieldError[];
    switch (def.resource) {
      case 'secrets':
        errors = secretErrors(object as never);
        break;
      case 'configmaps':
        errors = configMapErrors(object as never);
        break;
      case 'deployments':
        errors = [...deploymentErrors(object as never), ...(old ? deploymentUpdateErrors(old as never, object as never) : [])];
        break;
      case 'namespaces':
        errors = name ? labelNameErrors(name) : [{ field: 'metadata.name', type: 'FieldValueRequired', message: 'Required value: name or generateName is required' }];
        break;
      default:
        errors = [
          ...(name ? subdomainNameErrors(name) : [{ field: 'metadata.name', type: 'FieldValueRequired' as const, message: 'Required value: name or generateName is required' }]),
          ...annotationErrors(object.metadata.annotations),
        ];
    }
    const dataFields = DATA_FIELDS[def.resource];
    if (old && dataFields) errors.push(...immutableDataErrors(old, object, dataFields));
    if (errors.length > 0) throw invalid(def.kind, groupResource(def.resource), name, errors);
  }
}

/** An object without the managedFields timestamps, to tell a no-op write from a change. */
function withoutTimes(object: K8sObject): unknown {
  const copy = structuredClone(object);
  const entries = copy.metadata.managedFields as { time?: string }[] | undefined;
  if (entries) for (const e of entries) delete e.time;
  return copy;
}

/** The etcd key the API server stores an object under (it appears in precondition errors). */
function storageKeyOf(resource: Resource, namespace: string | undefined, name: string): string {
  return `/registry/${resource}/${namespace ? `${namespace}/` : ''}${name}`;
}

function parseContinue(token: string): { rv: number; start: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch (error) {
    throw badRequest(`continue key is not valid: ${(error as Error).message}`);
  }
  const { v, rv, start } = (parsed ?? {}) as { v?: unknown; rv?: unknown; start?: unknown };
  if (v !== 'meta.k8s.io/v1') throw badRequest('continue key is not valid: server does not recognize this encoded key');
  if (typeof rv !== 'number' || typeof start !== 'string' || rv <= 0) throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  return { rv, start };
}

/** The defaults the API server fills into a Deployment and its pod template. */
function defaultDeployment(object: K8sObject): void {
  const spec = (object.spec ?? {}) as Record<string, unknown>;
  spec.replicas ??= 1;
  spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  const template = (spec.template ?? {}) as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  template.metadata ??= {};
  template.metadata.creationTimestamp ??= null;
  const pod = (template.spec ??= {});
  pod.restartPolicy ??= 'Always';
  pod.terminationGracePeriodSeconds ??= 30;
  pod.dnsPolicy ??= 'ClusterFirst';
  pod.securityContext ??= {};
  pod.schedulerName ??= 'default-scheduler';
  for (const container of (pod.containers as Record<string, unknown>[] | undefined) ?? []) {
    container.terminationMessagePath ??= '/dev/termination-log';
    container.terminationMessagePolicy ??= 'File';
    const image = String(container.image ?? '');
    const tag = /:([^/:@]+)$/.exec(image.split('@')[0] ?? '')?.[1];
    container.imagePullPolicy ??= image.includes('@') || (tag !== undefined && tag !== 'latest') ? 'IfNotPresent' : 'Always';
    container.resources ??= {};
    for (const port of (container.ports as Record<string, unknown>[] | undefined) ?? []) port.protocol ??= 'TCP';
  }
  spec.template = template;
  object.spec = spec;
}

/** A Deployment controller that converges instantly: every replica is ready at the observed generation. */
function deploymentStatus(object: K8sObject, generation: number): Record<string, unknown> {
  const replicas = ((object.spec as { replicas?: number } | undefined)?.replicas ?? 1) as number;
  return {
    observedGeneration: generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }],
  };
}
