import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionInfo } from './catalog.js';
import { buildInputData } from './catalog.js';
import type { Registration } from './coreStub.js';
import { isAuthorized, presentedKey } from './keys.js';
import type { HostKeys } from './keys.js';
import { hostLog } from './log.js';
import type { LogSink } from './log.js';
import { compileRoute } from './routes.js';
import type { RouteTemplate } from './routes.js';
import { invokeRegistration } from './rpc.js';
import type { RpcHttpCookie, RpcHttpData, RpcTypedData } from './rpc.js';

/** The route prefix of HTTP functions (host.json `extensions.http.routePrefix`, default `api`). */
export const ROUTE_PREFIX = 'api';

interface HttpRoute {
  info: FunctionInfo;
  registration: Registration;
  route: RouteTemplate;
  methods: string[] | undefined;
  authLevel: string;
}

/** Everything HTTP dispatch needs from the host. */
export interface HttpDispatchContext {
  keys: HostKeys;
  log: LogSink;
  durableClientData: () => unknown;
}

/** Builds the route table of all `httpTrigger` functions (route defaults to the function name). */
export function buildHttpRoutes(functions: { info: FunctionInfo; registration: Registration }[]): HttpRoute[] {
  return functions
    .filter(({ info }) => info.triggerType.toLowerCase() === 'httptrigger')
    .map(({ info, registration }) => {
      const methods = Array.isArray(info.trigger['methods']) ? (info.trigger['methods'] as string[]).map((m) => m.toUpperCase()) : undefined;
      const authLevel = typeof info.trigger['authLevel'] === 'string' ? (info.trigger['authLevel'] as string) : 'function';
      const template = typeof info.trigger['route'] === 'string' ? (info.trigger['route'] as string) : info.name;
      return { info, registration, route: compileRoute(template), methods, authLevel };
    });
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function bodyBytes(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

function serializeCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  if (typeof cookie.expires?.value?.seconds === 'number') parts.push(`Expires=${new Date(cookie.expires.value.seconds * 1000).toUTCString()}`);
  if (typeof cookie.maxAge?.value === 'number') parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = cookie.sameSite === 1 ? 'Lax' : cookie.sameSite === 2 ? 'Strict' : cookie.sameSite === 3 ? 'None' : undefined;
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

/** Writes a worker HTTP response (`RpcHttpData`) to the client; no return value gives 204, as the host does. */
export function writeRpcHttpResponse(res: ServerResponse, returnValue: RpcTypedData | null | undefined): void {
  const http = returnValue?.http;
  if (!http) {
    res.writeHead(204).end();
    return;
  }
  const body = bodyBytes(http.body);
  const headers: Record<string, string | string[]> = { ...(http.headers ?? {}) };
  const cookies = (http.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type') && body.length > 0) {
    headers['content-type'] = 'text/plain; charset=utf-8';
  }
  res.writeHead(Number(http.statusCode ?? '200'), headers).end(body);
}

/**
 * Serves `/api/<route>`: finds the function by route and method, enforces its `authLevel` with the function keys,
 * passes every request header through (including the App Service authentication principal headers), invokes the
 * function with the worker's HTTP conversion, and writes its response. A handler error gives 500 with an empty body.
 * Returns false when no function matches (the caller answers 404).
 */
export async function dispatchHttp(
  routes: HttpRoute[],
  context: HttpDispatchContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
): Promise<boolean> {
  const relative = url.pathname.slice(ROUTE_PREFIX.length + 1);
  const method = (req.method ?? 'GET').toUpperCase();
  let matched: { route: HttpRoute; params: Record<string, string> } | undefined;
  try {
    for (const route of routes) {
      if (route.methods && !route.methods.includes(method)) continue;
      const params = route.route.match(relative);
      if (params) {
        matched = { route, params };
        break;
      }
    }
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    // A route value that cannot be decoded (`%E0%A4%A`, a lone `%`) is the caller's mistake, never a host failure.
    res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end(
      JSON.stringify({ error: 'InvalidRequest', message: 'the URL path has a malformed percent-encoding' }),
    );
    return true;
  }
  if (!matched) return false;
  const { route, params } = matched;
  if (!isAuthorized(route.authLevel, presentedKey(url, req.headers), context.keys)) {
    res.writeHead(401).end();
    return true;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const httpData: RpcHttpData = {
    method,
    url: url.href,
    headers: headerRecord(req),
    query,
    params,
    body: { bytes: body },
  };
  try {
    const result = await invokeRegistration(
      route.registration,
      { inputData: buildInputData(route.info, { http: httpData }, context.durableClientData) },
      { log: context.log },
    );
    writeRpcHttpResponse(res, result.returnValue);
  } catch (error) {
    hostLog(context.log, 'error', `Executed with an error: ${error instanceof Error ? error.message : String(error)}`, route.info.name);
    if (!res.headersSent) res.writeHead(500).end();
  }
  return true;
}
