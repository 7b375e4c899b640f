/**
 * The emulator's object store: namespaces, Secrets, Deployments (and empty ReplicaSets/Pods/Events lists), with a
 * cluster-wide resourceVersion counter, optimistic concurrency, defaults and validation as the API server applies
 * them. Objects are kept in their JSON wire form.
 */
import { randomUUID } from 'node:crypto';
import { applyJsonPatch, applyMergePatch } from './patch.js';
import { compileFieldSelector, compileLabelSelector } from './selectors.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  preconditionFailed,
  unsupportedMediaType,
  type FieldError,
  type GroupResource,
} from './status.js';
import type { Resource } from './types.js';
import { immutableError, labelNameErrors, secretErrors, subdomainNameErrors, annotationErrors } from './validation.js';

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
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

export const RESOURCE_DEFS: Readonly<Record<Resource, ResourceDef>> = {
  namespaces: { resource: 'namespaces', group: '', kind: 'Namespace', singular: 'namespace', namespaced: false, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'] },
  secrets: { resource: 'secrets', group: '', kind: 'Secret', singular: 'secret', namespaced: true, verbs: ALL_VERBS },
  events: { resource: 'events', group: '', kind: 'Event', singular: 'event', namespaced: true, verbs: ALL_VERBS, shortNames: ['ev'], readOnlyEmpty: true },
  pods: { resource: 'pods', group: '', kind: 'Pod', singular: 'pod', namespaced: true, verbs: ALL_VERBS, shortNames: ['po'], readOnlyEmpty: true },
  deployments: { resource: 'deployments', group: 'apps', kind: 'Deployment', singular: 'deployment', namespaced: true, verbs: ALL_VERBS, shortNames: ['deploy'] },
  replicasets: { resource: 'replicasets', group: 'apps', kind: 'ReplicaSet', singular: 'replicaset', namespaced: true, verbs: ALL_VERBS, shortNames: ['rs'], readOnlyEmpty: true },
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

/** The in-memory object store of one emulated cluster. */
export class ObjectStore {
  private readonly objects = new Map<string, K8sObject>();
  private revision = 0;

  constructor(namespaces: readonly string[]) {
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

  /** Returns a copy of an object, or throws 404. */
  get(resource: Resource, namespace: string | undefined, name: string): K8sObject {
    const found = this.objects.get(key(resource, namespace, name));
    if (!found) throw notFound(groupResource(resource), name);
    return structuredClone(found);
  }

  /** Lists copies of objects, optionally in one namespace, filtered by selectors, sorted by namespace and name. */
  list(resource: Resource, namespace: string | undefined, options: ListOptions = {}): K8sObject[] {
    const byLabel = compileLabelSelector(options.labelSelector);
    const byField = compileFieldSelector(options.fieldSelector);
    const items: K8sObject[] = [];
    for (const object of this.objects.values()) {
      if (object.kind !== RESOURCE_DEFS[resource].kind) continue;
      if (namespace !== undefined && object.metadata.namespace !== namespace) continue;
      if (!byLabel(object.metadata.labels) || !byField(object)) continue;
      items.push(structuredClone(object));
    }
    return items.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`),
    );
  }

  /** Creates an object: 404 if the namespace is missing, 409 AlreadyExists, 422 Invalid. */
  create(resource: Resource, namespace: string | undefined, body: K8sObject): K8sObject {
    const def = RESOURCE_DEFS[resource];
    if (def.readOnlyEmpty) throw badRequest(`the emulator does not create ${resource}`);
    const object = this.normalize(def, namespace, body);
    if (!object.metadata.name && object.metadata.generateName) {
      object.metadata.name = `${object.metadata.generateName}${randomUUID().slice(0, 5)}`;
    }
    const name = object.metadata.name ?? '';
    if (def.namespaced && namespace !== undefined && !this.objects.has(key('namespaces', undefined, namespace))) {
      throw notFound(groupResource('namespaces'), namespace);
    }
    this.validate(def, object, undefined);
    if (this.objects.has(key(resource, namespace, name))) throw alreadyExists(groupResource(resource), name);
    object.metadata.uid = randomUUID();
    object.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (resource === 'deployments') {
      object.metadata.generation = 1;
      object.status = deploymentStatus(object, 1);
    }
    if (resource === 'namespaces') {
      object.spec = { finalizers: ['kubernetes'] };
      object.status = { phase: 'Active' };
    }
    object.metadata.resourceVersion = this.nextVersion();
    this.objects.set(key(resource, namespace, name), object);
    return structuredClone(object);
  }

  /**
   * Replaces an object (PUT). A non-empty `metadata.resourceVersion` must equal the stored one (409 Conflict);
   * an empty one is an unconditional update. A no-op update keeps the resourceVersion, as etcd does.
   */
  update(resource: Resource, namespace: string | undefined, name: string, body: K8sObject): K8sObject {
    const def = RESOURCE_DEFS[resource];
    if (body.metadata?.name !== undefined && body.metadata.name !== name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    const current = this.objects.get(key(resource, namespace, name));
    if (!current) throw notFound(groupResource(resource), name);
    const object = this.normalize(def, namespace, body);
    object.metadata.name = name;
    return this.commit(def, current, object);
  }

  /** Applies a merge, strategic merge or JSON patch; a `metadata.resourceVersion` in the result is a precondition. */
  patch(resource: Resource, namespace: string | undefined, name: string, contentType: string, patchBody: unknown): K8sObject {
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
    return this.commit(def, current, this.normalize(def, namespace, object));
  }

  /**
   * Deletes an object; 404 if missing; 409 when `preconditions.resourceVersion` (from DeleteOptions) is stale.
   * Deleting a namespace deletes everything in it.
   */
  delete(resource: Resource, namespace: string | undefined, name: string, preconditions: { resourceVersion?: string; uid?: string } = {}): K8sObject {
    const k = key(resource, namespace, name);
    const current = this.objects.get(k);
    if (!current) throw notFound(groupResource(resource), name);
    if (preconditions.resourceVersion && preconditions.resourceVersion !== current.metadata.resourceVersion) {
      throw preconditionFailed(groupResource(resource), name, 'ResourceVersion', preconditions.resourceVersion, current.metadata.resourceVersion ?? '');
    }
    if (preconditions.uid && preconditions.uid !== current.metadata.uid) {
      throw preconditionFailed(groupResource(resource), name, 'UID', preconditions.uid, current.metadata.uid ?? '');
    }
    this.objects.delete(k);
    if (resource === 'namespaces') {
      for (const [other, object] of this.objects) if (object.metadata.namespace === name) this.objects.delete(other);
    }
    this.nextVersion();
    return structuredClone(current);
  }

  /**
   * Another writer changes the object: a new resourceVersion and the annotation `emulator.local/touched`. Used by
   * the `conflictingWrite` fault. A missing object is left missing.
   */
  touch(resource: Resource, namespace: string | undefined, name: string): void {
    const current = this.objects.get(key(resource, namespace, name));
    if (!current) return;
    current.metadata.annotations = { ...current.metadata.annotations, 'emulator.local/touched': this.nextVersion() };
    current.metadata.resourceVersion = this.resourceVersion;
  }

  private commit(def: ResourceDef, current: K8sObject, object: K8sObject): K8sObject {
    const name = current.metadata.name!;
    const wanted = object.metadata.resourceVersion;
    if (wanted && wanted !== current.metadata.resourceVersion) throw conflict(groupResource(def.resource), name);
    // System fields are the server's, whatever the body says.
    object.metadata.uid = current.metadata.uid;
    object.metadata.creationTimestamp = current.metadata.creationTimestamp;
    object.metadata.resourceVersion = current.metadata.resourceVersion;
    if (def.resource === 'secrets' && current.type !== object.type) {
      throw invalid(def.kind, groupResource(def.resource), name, [immutableError('type', String(object.type))]);
    }
    if (def.resource === 'namespaces') {
      object.spec = current.spec;
      object.status = current.status;
    }
    if (def.resource === 'deployments') {
      const generation = current.metadata.generation ?? 1;
      object.metadata.generation = sameJson(current.spec, object.spec) ? generation : generation + 1;
      object.status = deploymentStatus(object, object.metadata.generation);
    }
    this.validate(def, object, current);
    if (sameJson(current, object)) return structuredClone(current);
    object.metadata.resourceVersion = this.nextVersion();
    this.objects.set(key(def.resource, current.metadata.namespace, name), object);
    return structuredClone(object);
  }

  /** Fills apiVersion/kind/namespace, folds Secret `stringData` into `data`, defaults the Secret type. */
  private normalize(def: ResourceDef, namespace: string | undefined, body: K8sObject): K8sObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be an object');
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
      object.type = (object.type as string | undefined) || 'Opaque';
    }
    if (def.resource === 'deployments') {
      const spec = (object.spec ?? {}) as Record<string, unknown>;
      spec.replicas ??= 1;
      spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      object.spec = spec;
    }
    return object;
  }

  private validate(def: ResourceDef, object: K8sObject, _old: K8sObject | undefined): void {
    const name = object.metadata.name ?? '';
    let errors: FieldError[];
    switch (def.resource) {
      case 'secrets':
        errors = secretErrors(object as never);
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
    if (errors.length > 0) throw invalid(def.kind, groupResource(def.resource), name, errors);
  }
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
