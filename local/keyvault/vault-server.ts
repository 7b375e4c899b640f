/**
 * The HTTPS origin of one emulated vault: challenge auth first, then routing to the secrets REST operations that
 * `SecretClient` 4.12 sends (platform-facts.md §3.1), with counters and injected faults applied in between.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, unauthorized } from './auth.js';
import type { CounterBook } from './counters.js';
import { badParameter, forbidden, KeyVaultHttpError, methodNotAllowed, notFoundRoute, secretDisabled, throttled } from './errors.js';
import type { FaultInjector } from './faults.js';
import { delay, readJsonObject, sendEmpty, sendJson } from './http.js';
import type { StoredSecret, StoredVersion, VaultStore } from './store.js';
import type { OperationName } from './types.js';
import { optionalBoolean, optionalUnixSeconds, parseMaxResults } from './validation.js';
import {
  latestVersion,
  toDeletedBundle,
  toDeletedItem,
  toSecretBundle,
  toSecretItem,
  type PageWire,
  type WireContext,
} from './wire.js';

export interface VaultServerOptions {
  vault: string;
  store: VaultStore;
  counters: CounterBook;
  faults: FaultInjector;
  tls: { key: string; cert: string };
  tenantId: string;
  /** Called after a new version was stored (set); must not block. */
  onNewVersion: (secret: StoredSecret, version: StoredVersion, origin: string) => void;
}

interface Route {
  operation: OperationName;
  name?: string;
  version?: string;
}

interface RequestContext {
  req: IncomingMessage;
  url: URL;
  route: Route;
  wire: WireContext;
}

type Answer = { status: number; body?: unknown };

/** Creates (does not start) the HTTPS server of one vault. */
export function createVaultServer(options: VaultServerOptions): Server {
  return createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
    handle(options, req, res).catch((error: unknown) => sendError(res, error));
  });
}

async function handle(options: VaultServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { vault, counters, faults, tenantId } = options;
  counters.request(vault);
  // The challenge comes before anything else, body included: the SDK's first request carries no body.
  if (!bearerToken(req)) {
    counters.challenge(vault);
    req.resume();
    throw unauthorized(tenantId);
  }
  counters.begin(vault);
  try {
    await serve(options, req, res);
  } finally {
    counters.end(vault);
  }
}

async function serve(options: VaultServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { vault, counters, faults, tenantId } = options;
  const origin = `https://${req.headers.host ?? 'localhost'}`;
  const url = new URL(req.url ?? '/', origin);
  const route = resolveRoute(req.method ?? 'GET', url.pathname);
  counters.operation(vault, route.operation);

  const decision = faults.decide(vault, route.operation);
  if (decision.latencyInMs > 0) await delay(decision.latencyInMs);
  if (decision.effect) {
    counters.fault(vault);
    req.resume();
    switch (decision.effect.kind) {
      case 'throttle':
        throw throttled(decision.effect.retryAfterInSeconds);
      case 'forbidden':
        throw forbidden(decision.effect.innerCode);
      case 'rejectToken':
        throw unauthorized(tenantId, 'AKV10032: Invalid issuer or token rejected by the emulator fault injection.');
      case 'error': {
        const e = decision.effect.error;
        throw new KeyVaultHttpError(e.status, e.code, e.message ?? `Injected fault ${e.code}.`, {
          ...(e.innerCode === undefined ? {} : { innerCode: e.innerCode }),
          ...(e.retryAfterInSeconds === undefined ? {} : { headers: { 'Retry-After': String(e.retryAfterInSeconds) } }),
        });
      }
      case 'reset':
        res.socket?.destroy();
        return;
    }
  }

  const ctx: RequestContext = { req, url, route, wire: { origin, recoverableDays: options.store.recoverableDays } };
  let answer;
  try {
    answer = await OPERATION_HANDLERS[route.operation](options, ctx);
  } catch (error) {
    if (error instanceof KeyVaultHttpError && error.status === 409) counters.conflict(vault);
    throw error;
  }
  if (answer.body === undefined) sendEmpty(res, answer.status);
  else sendJson(res, answer.status, answer.body);
}

function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent || res.destroyed) return;
  if (error instanceof KeyVaultHttpError) {
    sendJson(res, error.status, error.toBody(), error.headers);
    return;
  }
  sendJson(res, 500, { error: { code: 'InternalServerError', message: 'The emulator failed to process the request.' } });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Maps method + path to an operation; throws 404/405 for anything the SDK does not send. */
export function resolveRoute(method: string, pathname: string): Route {
  const parts = pathname.split('/').slice(1).map(decodeSegment);
  // `GET /secrets/{n}/` (trailing slash) is the SDK's "latest version" form.
  if (parts.length > 1 && parts.at(-1) === '') parts.pop();
  const [collection, name, third] = parts;
  const m = method.toUpperCase();
  const only = (allowed: Record<string, Route>): Route => {
    const r = allowed[m];
    if (!r) throw methodNotAllowed(m);
    return r;
  };

  if (collection === 'secrets') {
    if (parts.length === 1) return only({ GET: { operation: 'listSecrets' } });
    if (name === undefined) throw notFoundRoute(m, pathname);
    if (parts.length === 2) {
      if (name === 'restore' && m === 'POST') return { operation: 'restoreSecret' };
      return only({
        PUT: { operation: 'setSecret', name },
        GET: { operation: 'getSecret', name },
        PATCH: { operation: 'updateSecretProperties', name },
        DELETE: { operation: 'deleteSecret', name },
      });
    }
    if (parts.length === 3 && third !== undefined) {
      if (third === 'versions' && m === 'GET') return { operation: 'listSecretVersions', name };
      if (third === 'backup' && m === 'POST') return { operation: 'backupSecret', name };
      return only({
        GET: { operation: 'getSecret', name, version: third },
        PATCH: { operation: 'updateSecretProperties', name, version: third },
      });
    }
  }
  if (collection === 'deletedsecrets') {
    if (parts.length === 1) return only({ GET: { operation: 'listDeletedSecrets' } });
    if (name !== undefined && parts.length === 2) {
      return only({ GET: { operation: 'getDeletedSecret', name }, DELETE: { operation: 'purgeDeletedSecret', name } });
    }
    if (name !== undefined && parts.length === 3 && third === 'recover') return only({ POST: { operation: 'recoverDeletedSecret', name } });
  }
  throw notFoundRoute(m, pathname);
}

function requireName(route: Route): string {
  if (route.name === undefined) throw new Error(`route ${route.operation} has no name`);
  return route.name;
}

function page<T>(items: T[], ctx: RequestContext): PageWire<T> {
  const size = parseMaxResults(ctx.url.searchParams.get('maxresults'));
  const skip = Math.max(0, Number.parseInt(ctx.url.searchParams.get('$skiptoken') ?? '0', 10) || 0);
  const value = items.slice(skip, skip + size);
  if (skip + size >= items.length) return { value, nextLink: null };
  const next = new URL(ctx.url.pathname, ctx.wire.origin);
  next.searchParams.set('api-version', ctx.url.searchParams.get('api-version') ?? '7.4');
  next.searchParams.set('$skiptoken', String(skip + size));
  next.searchParams.set('maxresults', String(size));
  return { value, nextLink: next.toString() };
}

function attributesOf(body: Record<string, unknown>): Record<string, unknown> {
  const a = body.attributes;
  return a && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
}

type Handler = (options: VaultServerOptions, ctx: RequestContext) => Promise<Answer>;

const OPERATION_HANDLERS: Record<OperationName, Handler> = {
  async setSecret(options, ctx) {
    const name = requireName(ctx.route);
    const body = await readJsonObject(ctx.req);
    const attrs = attributesOf(body);
    const enabled = optionalBoolean(attrs.enabled, 'enabled');
    const notBefore = optionalUnixSeconds(attrs.nbf, 'nbf');
    const expiresOn = optionalUnixSeconds(attrs.exp, 'exp');
    const { secret, version } = options.store.setSecret(name, {
      value: body.value,
      contentType: body.contentType,
      tags: body.tags,
      ...(enabled === undefined ? {} : { enabled }),
      ...(notBefore === undefined ? {} : { notBefore }),
      ...(expiresOn === undefined ? {} : { expiresOn }),
    });
    options.onNewVersion(secret, version, ctx.wire.origin);
    return { status: 200, body: toSecretBundle(secret, version, ctx.wire, { includeValue: true }) };
  },

  async getSecret(options, ctx) {
    ctx.req.resume();
    const { secret, version } = options.store.getVersion(requireName(ctx.route), ctx.route.version);
    if (!version.enabled) throw secretDisabled();
    // Every emulated secret is a plain secret; Key Vault converts only certificate-backed secrets.
    const outContentType = ctx.url.searchParams.get('outContentType');
    if (outContentType !== null) {
      throw badParameter(`The secret ${secret.name} is not backed by a certificate; outContentType ${outContentType} applies only to certificate-backed secrets.`);
    }
    return { status: 200, body: toSecretBundle(secret, version, ctx.wire, { includeValue: true }) };
  },

  async updateSecretProperties(options, ctx) {
    const body = await readJsonObject(ctx.req);
    const attrs = attributesOf(body);
    const enabled = optionalBoolean(attrs.enabled, 'enabled');
    const notBefore = optionalUnixSeconds(attrs.nbf, 'nbf');
    const expiresOn = optionalUnixSeconds(attrs.exp, 'exp');
    const { secret, version } = options.store.updateProperties(requireName(ctx.route), ctx.route.version, {
      contentType: body.contentType,
      tags: body.tags,
      ...(enabled === undefined ? {} : { enabled }),
      ...(notBefore === undefined ? {} : { notBefore }),
      ...(expiresOn === undefined ? {} : { expiresOn }),
    });
    return { status: 200, body: toSecretBundle(secret, version, ctx.wire, { includeValue: false }) };
  },

  async listSecrets(options, ctx) {
    ctx.req.resume();
    const items = options.store.listSecrets().map((s) => toSecretItem(s, latestVersion(s), ctx.wire, { withVersion: false }));
    return { status: 200, body: page(items, ctx) };
  },

  async listSecretVersions(options, ctx) {
    ctx.req.resume();
    const { secret, versions } = options.store.listVersions(requireName(ctx.route));
    const items = secret ? versions.map((v) => toSecretItem(secret, v, ctx.wire, { withVersion: true })) : [];
    return { status: 200, body: page(items, ctx) };
  },

  async deleteSecret(options, ctx) {
    ctx.req.resume();
    const deleted = options.store.deleteSecret(requireName(ctx.route));
    return { status: 200, body: toDeletedBundle(deleted, ctx.wire) };
  },

  async getDeletedSecret(options, ctx) {
    ctx.req.resume();
    return { status: 200, body: toDeletedBundle(options.store.getDeleted(requireName(ctx.route)), ctx.wire) };
  },

  async listDeletedSecrets(options, ctx) {
    ctx.req.resume();
    const items = options.store.listDeleted().map((d) => toDeletedItem(d, ctx.wire));
    return { status: 200, body: page(items, ctx) };
  },

  async recoverDeletedSecret(options, ctx) {
    ctx.req.resume();
    const secret = options.store.recover(requireName(ctx.route));
    return { status: 200, body: toSecretBundle(secret, latestVersion(secret), ctx.wire, { includeValue: false }) };
  },

  async purgeDeletedSecret(options, ctx) {
    ctx.req.resume();
    options.store.purge(requireName(ctx.route));
    return { status: 204 };
  },

  async backupSecret(options, ctx) {
    ctx.req.resume();
    return { status: 200, body: { value: options.store.backup(requireName(ctx.route)) } };
  },

  async restoreSecret(options, ctx) {
    const body = await readJsonObject(ctx.req);
    const secret = options.store.restore(body.value);
    return { status: 200, body: toSecretBundle(secret, latestVersion(secret), ctx.wire, { includeValue: false }) };
  },
};
