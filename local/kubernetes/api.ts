/**
 * The API request handler: routes REST paths to the object store after authentication, authorization, counting
 * and fault injection, and renders results (objects, lists, Tables, Status).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { authorize, isAllowed, type Principal, type TokenRegistry } from './auth.js';
import { apiGroups, apiVersions, appsV1Resources, authorizationV1Resources, coreV1Resources, versionInfo } from './discovery.js';
import type { FaultBook } from './faults.js';
import { managerFromUserAgent } from './fields.js';
import { openApiV3Document, openApiV3Index } from './openapi.js';
import { decodeProtobufBody, PROTOBUF_CONTENT_TYPE } from './protobuf/decode.js';
import { ApiError, badRequest, forbidden, generic, methodNotAllowed, notFoundPath, unauthorized, unsupportedMediaType } from './status.js';
import { groupResource, RESOURCE_DEFS, type K8sObject, type ObjectStore } from './store.js';
import { toTable } from './table.js';
import { RESOURCES, type Resource, type Verb } from './types.js';
import { serveWatch } from './watch.js';

/** Largest request body the emulator reads (the real API server allows 3 MiB). */
const MAX_BODY_IN_BYTES = 3 * 1024 * 1024;

interface Route {
  kind: 'resource';
  verb: Verb;
  resource: Resource;
  namespace?: string;
  name?: string;
}

type Discovery = { kind: 'discovery'; body: () => unknown } | { kind: 'health' } | { kind: 'selfSubjectAccessReview' };

export interface ApiContext {
  store: ObjectStore;
  tokens: TokenRegistry;
  faults: FaultBook;
  /** `host:port` the server reports in `/api`. */
  serverAddress: () => string;
  /** How often a watch with `allowWatchBookmarks` gets a BOOKMARK event. */
  bookmarkIntervalInMs: number;
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_IN_BYTES) throw new ApiError({ ...generic(413, { reason: 'RequestEntityTooLarge', message: 'Request entity too large: limit is 3145728' }).body });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`json: cannot unmarshal request body: ${(error as Error).message}`);
  }
}

/** Top-level and metadata fields each kind has; others are unknown fields for `fieldValidation`. */
const META_FIELDS = ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields'];
const KIND_FIELDS: Record<Resource, readonly string[]> = {
  secrets: ['data', 'stringData', 'type', 'immutable'],
  configmaps: ['data', 'binaryData', 'immutable'],
  namespaces: ['spec', 'status'],
  deployments: ['spec', 'status'],
  replicasets: ['spec', 'status'],
  pods: ['spec', 'status'],
  events: ['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'series', 'action', 'related', 'reportingComponent', 'reportingInstance'],
};

/**
 * Applies `fieldValidation` to a decoded body: unknown fields are dropped (as decoding into the Go type drops them),
 * with a 400 for `Strict` and a `Warning` header for `Warn` (the default).
 */
function checkUnknownFields(resource: Resource, body: unknown, mode: string | null, warnings: string[]): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const object = body as Record<string, unknown>;
  const unknown: string[] = [];
  const allowed = new Set(['apiVersion', 'kind', 'metadata', ...KIND_FIELDS[resource]]);
  for (const k of Object.keys(object)) if (!allowed.has(k)) unknown.push(k);
  const metadata = object.metadata;
  if (metadata && typeof metadata === 'object' && !Array.isArray(metadata)) {
    for (const k of Object.keys(metadata)) if (!META_FIELDS.includes(k)) unknown.push(`metadata.${k}`);
  }
  if (unknown.length === 0 || mode === 'Ignore') return stripUnknown(object, unknown);
  const def = RESOURCE_DEFS[resource];
  if (mode === 'Strict') {
    const list = unknown.map((u) => `unknown field "${u}"`).join(', ');
    throw badRequest(`${def.kind} in version "v1" cannot be handled as a ${def.kind}: strict decoding error: ${list}`);
  }
  for (const u of unknown) warnings.push(`299 - "unknown field \\"${u}\\""`);
  stripUnknown(object, unknown);
}

function stripUnknown(object: Record<string, unknown>, unknown: readonly string[]): void {
  for (const path of unknown) {
    if (path.startsWith('metadata.')) delete (object.metadata as Record<string, unknown>)[path.slice('metadata.'.length)];
    else delete object[path];
  }
}

/** Decodes a write body by its content type: JSON, Kubernetes protobuf, or YAML (server-side apply). */
function decodeBody(body: Buffer, contentType: string): unknown {
  if (contentType === PROTOBUF_CONTENT_TYPE) return decodeProtobufBody(body);
  if (contentType === 'application/apply-patch+yaml') {
    try {
      return parseYaml(body.toString('utf8'));
    } catch (error) {
      throw badRequest(`error converting YAML to JSON: ${(error as Error).message}`);
    }
  }
  return parseJson(body.toString('utf8'));
}

function isResource(segment: string | undefined): segment is Resource {
  return (RESOURCES as readonly string[]).includes(segment ?? '');
}

/** Maps a method and path to a discovery document or a resource route; undefined = 404. */
function route(method: string, segments: string[], ctx: ApiContext): Route | Discovery | undefined {
  const [first, second, third] = segments;
  if (segments.length === 1 && ['healthz', 'livez', 'readyz'].includes(first ?? '')) return { kind: 'health' };
  if (method === 'GET') {
    if (segments.length === 1 && first === 'version') return { kind: 'discovery', body: versionInfo };
    if (segments.length === 1 && first === 'api') return { kind: 'discovery', body: () => apiVersions(ctx.serverAddress()) };
    if (segments.length === 2 && first === 'api' && second === 'v1') return { kind: 'discovery', body: coreV1Resources };
    if (segments.length === 1 && first === 'apis') return { kind: 'discovery', body: apiGroups };
    if (segments.length === 3 && first === 'apis' && second === 'apps' && third === 'v1') return { kind: 'discovery', body: appsV1Resources };
    if (segments.length === 3 && first === 'apis' && second === 'authorization.k8s.io' && third === 'v1') return { kind: 'discovery', body: authorizationV1Resources };
    if (segments.length === 2 && first === 'openapi' && second === 'v3') return { kind: 'discovery', body: openApiV3Index };
    if (first === 'openapi' && second === 'v3' && segments.length > 2) {
      const document = openApiV3Document(segments.slice(2).join('/'));
      return document ? { kind: 'discovery', body: () => document } : undefined;
    }
  }
  if (method === 'POST' && segments.join('/') === 'apis/authorization.k8s.io/v1/selfsubjectaccessreviews') return { kind: 'selfSubjectAccessReview' };
  let group: '' | 'apps';
  let rest: string[];
  if (first === 'api' && second === 'v1') {
    group = '';
    rest = segments.slice(2);
  } else if (first === 'apis' && second === 'apps' && third === 'v1') {
    group = 'apps';
    rest = segments.slice(3);
  } else return undefined;

  let resource: string | undefined;
  let namespace: string | undefined;
  let name: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    [, namespace, resource, name] = rest;
    if (rest.length > 4) return undefined;
  } else {
    [resource, name] = rest;
    if (rest.length > 2) return undefined;
  }
  if (!isResource(resource) || RESOURCE_DEFS[resource].group !== group) return undefined;
  if (RESOURCE_DEFS[resource].namespaced === false && namespace !== undefined) return undefined;
  if (RESOURCE_DEFS[resource].namespaced && namespace === undefined && name !== undefined) return undefined;

  const collection = name === undefined;
  const verbs: Record<string, Verb | undefined> = collection
    ? { GET: 'list', POST: 'create', DELETE: 'deletecollection' }
    : { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const verb = verbs[method];
  if (!verb) throw methodNotAllowed();
  return { kind: 'resource', verb, resource, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}) };
}

function contentTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
}

function deleteOptionsOf(raw: Buffer, contentType: string): { preconditions?: { resourceVersion?: string; uid?: string } } | null {
  if (raw.length === 0) return null;
  if (contentType === PROTOBUF_CONTENT_TYPE) return decodeProtobufBody(raw) as never;
  return contentType.endsWith('json') ? (parseJson(raw.toString('utf8')) as never) : null;
}

/**
 * Answers a SelfSubjectAccessReview for the calling token: `status.allowed` says whether its rules allow the
 * resource attributes asked about. Any authenticated caller may create one.
 */
function selfSubjectAccessReview(principal: Principal, body: unknown): Record<string, unknown> {
  const review = (body ?? {}) as { spec?: { resourceAttributes?: Record<string, string>; nonResourceAttributes?: Record<string, string> } };
  const attributes = review.spec?.resourceAttributes;
  const nonResource = review.spec?.nonResourceAttributes;
  if (!attributes && !nonResource) {
    throw generic(422, { reason: 'Invalid', message: 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' });
  }
  const allowed = attributes
    ? isAllowed(principal, attributes.verb ?? '', attributes.group ?? '', attributes.resource ?? '', attributes.namespace || undefined)
    : principal.rules.some((r) => r.verbs.includes('*') && r.resources.includes('*') && r.namespaces.includes('*'));
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: review.spec,
    status: { allowed, ...(allowed ? { reason: `allowed by the emulator's rules for "${principal.user}"` } : {}) },
  };
}

function wantsTable(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.split(',')[0]!.includes('as=Table');
}

function listOf(resource: Resource, items: K8sObject[], resourceVersion: string, page: { continue?: string; remainingItemCount?: number } = {}): Record<string, unknown> {
  const def = RESOURCE_DEFS[resource];
  return {
    kind: `${def.kind}List`,
    apiVersion: def.group ? `${def.group}/v1` : 'v1',
    metadata: { resourceVersion, ...(page.continue ? { continue: page.continue } : {}), ...(page.remainingItemCount !== undefined ? { remainingItemCount: page.remainingItemCount } : {}) },
    items: items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
  };
}

/** Handles one API request end to end; never throws. */
export async function handleApiRequest(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'https://emulator.local');
    const segments = url.pathname.split('/').filter((s) => s.length > 0).map(decodeURIComponent);
    const method = (req.method ?? 'GET').toUpperCase();
    const target = route(method, segments, ctx);
    if (target?.kind === 'health') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    ctx.faults.count('total');
    let principal;
    try {
      principal = ctx.tokens.authenticate(req.headers.authorization);
    } catch (error) {
      ctx.faults.count('unauthorized');
      throw error;
    }
    if (!target) throw notFoundPath();
    if (target.kind === 'discovery') {
      ctx.faults.count('discovery');
      send(res, 200, target.body());
      return;
    }
    if (target.kind === 'selfSubjectAccessReview') {
      ctx.faults.count('create selfsubjectaccessreviews');
      send(res, 201, selfSubjectAccessReview(principal, decodeBody(await readBody(req), contentTypeOf(req))));
      return;
    }
    const watching = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    const verb: Verb = target.verb === 'list' && watching ? 'watch' : target.verb;
    if (watching && target.verb !== 'list') throw methodNotAllowed();
    try {
      authorize(principal, verb, target.resource, target.namespace, target.name);
    } catch (error) {
      ctx.faults.count('forbidden');
      throw error;
    }
    ctx.faults.count(`${verb} ${target.resource}`);

    const fault = ctx.faults.take({ verb, resource: target.resource, ...(target.namespace !== undefined ? { namespace: target.namespace } : {}), ...(target.name !== undefined ? { name: target.name } : {}) });
    if (fault) {
      const effect = fault.effect;
      switch (effect.kind) {
        case 'latency':
          await delay(effect.latencyInMs);
          break;
        case 'throttle':
          throw generic(429, { retryAfterInSeconds: effect.retryAfterInSeconds ?? 1 });
        case 'forbidden':
          throw forbidden(principal.user, verb, groupResource(target.resource), target.namespace, target.name);
        case 'rejectToken':
          throw unauthorized();
        case 'error':
          throw generic(effect.status, effect);
        case 'reset':
          req.socket.destroy();
          return;
        case 'conflictingWrite':
          if (target.name !== undefined) ctx.store.touch(target.resource, target.namespace, target.name);
          break;
      }
    }

    const contentType = contentTypeOf(req);
    const params = url.searchParams;
    const manager = params.get('fieldManager') ?? managerFromUserAgent(req.headers['user-agent']);
    const fieldValidation = params.get('fieldValidation');
    if (fieldValidation !== null && !['Strict', 'Warn', 'Ignore'].includes(fieldValidation)) {
      throw badRequest(`fieldValidation parameter is invalid: ${fieldValidation}; only Strict, Warn and Ignore are supported`);
    }
    const warnings: string[] = [];
    const withBody = verb === 'create' || verb === 'update' || verb === 'patch';
    if (withBody && verb !== 'patch' && !contentType.endsWith('json') && contentType !== PROTOBUF_CONTENT_TYPE) throw unsupportedMediaType(contentType);
    const raw = withBody || verb === 'delete' || verb === 'deletecollection' ? await readBody(req) : Buffer.alloc(0);
    const decoded = (): K8sObject => {
      const body = decodeBody(raw, contentType) as K8sObject;
      checkUnknownFields(target.resource, body, fieldValidation, warnings);
      return body;
    };
    const headers = (): Record<string, string> => (warnings.length > 0 ? { warning: warnings.join(', ') } : {});
    const { store } = ctx;
    switch (verb) {
      case 'get': {
        const object = store.get(target.resource, target.namespace, target.name!);
        send(res, 200, wantsTable(req) ? toTable(target.resource, [object], store.resourceVersion) : object);
        return;
      }
      case 'watch':
        serveWatch(req, res, store, {
          resource: target.resource,
          ...(target.namespace !== undefined ? { namespace: target.namespace } : {}),
          labelSelector: params.get('labelSelector'),
          fieldSelector: params.get('fieldSelector'),
          resourceVersion: params.get('resourceVersion'),
          allowWatchBookmarks: params.get('allowWatchBookmarks') === 'true',
          sendInitialEvents: params.get('sendInitialEvents') === 'true',
          ...(params.get('timeoutSeconds') ? { timeoutSeconds: Number(params.get('timeoutSeconds')) } : {}),
          table: wantsTable(req),
        }, ctx.bookmarkIntervalInMs);
        return;
      case 'list': {
        const limit = Number(params.get('limit') ?? 0);
        const page = store.listPage(target.resource, target.namespace, {
          labelSelector: params.get('labelSelector'),
          fieldSelector: params.get('fieldSelector'),
          ...(Number.isFinite(limit) && limit > 0 ? { limit } : {}),
          continue: params.get('continue'),
        });
        const pageMeta = { ...(page.continue ? { continue: page.continue } : {}), ...(page.remainingItemCount !== undefined ? { remainingItemCount: page.remainingItemCount } : {}) };
        if (wantsTable(req)) {
          const table = toTable(target.resource, page.items, page.resourceVersion);
          send(res, 200, { ...table, metadata: { ...(table.metadata as object), ...pageMeta } });
        } else send(res, 200, listOf(target.resource, page.items, page.resourceVersion, pageMeta));
        return;
      }
      case 'create':
        send(res, 201, store.create(target.resource, target.namespace, decoded(), { manager }), headers());
        return;
      case 'update':
        send(res, 200, store.update(target.resource, target.namespace, target.name!, decoded(), { manager }), headers());
        return;
      case 'patch': {
        if (contentType === 'application/apply-patch+yaml') {
          const fieldManager = params.get('fieldManager');
          if (!fieldManager) {
            throw generic(422, { reason: 'Invalid', message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch' });
          }
          const force = params.get('force') === 'true';
          const applied = store.apply(target.resource, target.namespace, target.name!, decoded(), { manager: fieldManager, force });
          send(res, applied.created ? 201 : 200, applied.object, headers());
          return;
        }
        if (params.get('force') !== null) throw badRequest('force is not allowed for patch types other than apply');
        send(res, 200, store.patch(target.resource, target.namespace, target.name!, contentType, parseJson(raw.toString('utf8')), { manager }));
        return;
      }
      case 'delete': {
        const options = deleteOptionsOf(raw, contentType);
        const deleted = store.delete(target.resource, target.namespace, target.name!, options?.preconditions ?? {});
        if (target.resource === 'namespaces') {
          send(res, 200, deleted);
          return;
        }
        const gr = groupResource(target.resource);
        send(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: target.name, ...(gr.group ? { group: gr.group } : {}), kind: target.resource, uid: deleted.metadata.uid },
        });
        return;
      }
      case 'deletecollection': {
        const deleted = store.deleteCollection(target.resource, target.namespace, { labelSelector: params.get('labelSelector'), fieldSelector: params.get('fieldSelector') });
        send(res, 200, listOf(target.resource, deleted, store.resourceVersion));
        return;
      }
      default:
        throw methodNotAllowed();
    }
  } catch (error) {
    if (res.headersSent || res.destroyed) return;
    if (error instanceof ApiError) send(res, error.code, error.body, error.headers);
    else send(res, 500, generic(500, { message: `Internal error occurred: ${(error as Error).message}` }).body);
  }
}
