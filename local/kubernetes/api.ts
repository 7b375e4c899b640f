/**
 * The API request handler: routes REST paths to the object store after authentication, authorization, counting
 * and fault injection, and renders results (objects, lists, Tables, Status).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { authorize, type TokenRegistry } from './auth.js';
import { apiGroups, apiVersions, appsV1Resources, coreV1Resources, versionInfo } from './discovery.js';
import type { FaultBook } from './faults.js';
import { ApiError, badRequest, forbidden, generic, methodNotAllowed, notFoundPath, unauthorized, unsupportedMediaType } from './status.js';
import { groupResource, RESOURCE_DEFS, type K8sObject, type ObjectStore } from './store.js';
import { toTable } from './table.js';
import { RESOURCES, type Resource, type Verb } from './types.js';

/** Largest request body the emulator reads (the real API server allows 3 MiB). */
const MAX_BODY_IN_BYTES = 3 * 1024 * 1024;

interface Route {
  kind: 'resource';
  verb: Verb | 'deletecollection';
  resource: Resource;
  namespace?: string;
  name?: string;
}

type Discovery = { kind: 'discovery'; body: () => unknown } | { kind: 'health' };

export interface ApiContext {
  store: ObjectStore;
  tokens: TokenRegistry;
  faults: FaultBook;
  /** `host:port` the server reports in `/api`. */
  serverAddress: () => string;
}

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_IN_BYTES) throw new ApiError({ ...generic(413, { reason: 'RequestEntityTooLarge', message: 'Request entity too large: limit is 3145728' }).body });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`json: cannot unmarshal request body: ${(error as Error).message}`);
  }
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
  }
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
  const verbs: Record<string, Verb | 'deletecollection' | undefined> = collection
    ? { GET: 'list', POST: 'create', DELETE: 'deletecollection' }
    : { GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  const verb = verbs[method];
  if (!verb) throw methodNotAllowed();
  return { kind: 'resource', verb, resource, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}) };
}

function wantsTable(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.split(',')[0]!.includes('as=Table');
}

function listOf(resource: Resource, items: K8sObject[], resourceVersion: string): Record<string, unknown> {
  const def = RESOURCE_DEFS[resource];
  return {
    kind: `${def.kind}List`,
    apiVersion: def.group ? `${def.group}/v1` : 'v1',
    metadata: { resourceVersion },
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
    if (target.verb === 'deletecollection') throw methodNotAllowed();
    const verb = target.verb;
    if (verb === 'list' && url.searchParams.get('watch') === 'true') throw methodNotAllowed();
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

    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
    const writes = verb === 'create' || verb === 'update' || verb === 'patch' || verb === 'delete';
    // Protobuf and CBOR bodies are not modelled: 415 makes client-go fall back to JSON.
    if (writes && verb !== 'delete' && !contentType.endsWith('json')) throw unsupportedMediaType(contentType);
    const body = writes ? await readBody(req) : '';
    const { store } = ctx;
    switch (verb) {
      case 'get': {
        const object = store.get(target.resource, target.namespace, target.name!);
        send(res, 200, wantsTable(req) ? toTable(target.resource, [object], store.resourceVersion) : object);
        return;
      }
      case 'list': {
        const items = store.list(target.resource, target.namespace, {
          labelSelector: url.searchParams.get('labelSelector'),
          fieldSelector: url.searchParams.get('fieldSelector'),
        });
        send(res, 200, wantsTable(req) ? toTable(target.resource, items, store.resourceVersion) : listOf(target.resource, items, store.resourceVersion));
        return;
      }
      case 'create':
        send(res, 201, store.create(target.resource, target.namespace, parseJson(body) as K8sObject));
        return;
      case 'update':
        send(res, 200, store.update(target.resource, target.namespace, target.name!, parseJson(body) as K8sObject));
        return;
      case 'patch':
        send(res, 200, store.patch(target.resource, target.namespace, target.name!, contentType, parseJson(body)));
        return;
      case 'delete': {
        const options = (body && contentType.endsWith('json') ? parseJson(body) : {}) as { preconditions?: { resourceVersion?: string; uid?: string } } | null;
        const deleted = store.delete(target.resource, target.namespace, target.name!, options?.preconditions ?? {});
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
      default:
        throw methodNotAllowed();
    }
  } catch (error) {
    if (res.headersSent || res.destroyed) return;
    if (error instanceof ApiError) send(res, error.code, error.body, error.headers);
    else send(res, 500, generic(500, { message: `Internal error occurred: ${(error as Error).message}` }).body);
  }
}
