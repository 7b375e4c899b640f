/**
 * The admin origin (plain http, separate from every vault origin): inspect vaults and counters, inject faults,
 * create or disable secrets for test setup, register event subscribers, emit expiry events. No authentication:
 * it listens on the loopback address only. Answers never contain secret values.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { KeyVaultEmulator } from './emulator.js';
import { KeyVaultHttpError } from './errors.js';
import { readBody, sendEmpty, sendJson } from './http.js';
import type { CreateSecretOptions, EventSchema, FaultRule, KeyVaultSecretEventType } from './types.js';

const EVENT_TYPES: readonly KeyVaultSecretEventType[] = [
  'Microsoft.KeyVault.SecretNewVersionCreated',
  'Microsoft.KeyVault.SecretNearExpiry',
  'Microsoft.KeyVault.SecretExpired',
];

class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type AdminAnswer = { status: number; body?: unknown; text?: string };
type AdminHandler = (params: string[], body: () => Promise<unknown>, url: URL) => Promise<AdminAnswer> | AdminAnswer;

/** Creates (does not start) the admin HTTP server bound to an emulator. */
export function createAdminServer(emulator: KeyVaultEmulator): Server {
  const routes: [string, RegExp, AdminHandler][] = [
    ['GET', /^\/health$/, () => ok({ status: 'ok' })],
    ['GET', /^\/vaults$/, () => ok(emulator.vaults())],
    ['GET', /^\/ca$/, () => ({ status: 200, text: emulator.caCertPem })],
    ['GET', /^\/counters$/, () => ok(emulator.counters())],
    ['GET', /^\/vaults\/([^/]+)\/counters$/, ([v]) => ok(emulator.counters(need(v)))],
    ['POST', /^\/counters\/reset$/, () => (emulator.resetCounters(), none())],
    ['GET', /^\/faults$/, () => ok(emulator.listFaults())],
    ['PUT', /^\/faults$/, async (_p, body) => ok(emulator.setFaults(asArray<FaultRule>(await body())))],
    ['POST', /^\/faults$/, async (_p, body) => ok(emulator.addFault(asObject(await body()) as unknown as FaultRule))],
    ['DELETE', /^\/faults$/, () => (emulator.clearFaults(), none())],
    ['DELETE', /^\/faults\/([^/]+)$/, ([id]) => (emulator.removeFault(need(id)) ? none() : notFound('fault'))],
    ['GET', /^\/vaults\/([^/]+)\/secrets$/, ([v]) => ok(emulator.listSecretProperties(need(v)))],
    [
      'PUT',
      /^\/vaults\/([^/]+)\/secrets\/([^/]+)$/,
      async ([v, n], body) => {
        const { value, ...rest } = asObject(await body());
        if (typeof value !== 'string') throw new AdminError(400, 'BadRequest', 'value must be a string');
        return ok(emulator.createSecret(need(v), need(n), value, rest as CreateSecretOptions));
      },
    ],
    [
      'PATCH',
      /^\/vaults\/([^/]+)\/secrets\/([^/]+)$/,
      async ([v, n], body) => {
        const { enabled, version } = asObject(await body());
        if (typeof enabled !== 'boolean') throw new AdminError(400, 'BadRequest', 'enabled must be a boolean');
        return ok(emulator.setSecretEnabled(need(v), need(n), enabled, typeof version === 'string' ? { version } : {}));
      },
    ],
    ['GET', /^\/vaults\/([^/]+)\/subscriptions$/, ([v]) => ok(emulator.subscriptions(need(v)))],
    [
      'POST',
      /^\/vaults\/([^/]+)\/subscriptions$/,
      async ([v], body) => {
        const { endpoint, schema } = asObject(await body());
        if (typeof endpoint !== 'string') throw new AdminError(400, 'BadRequest', 'endpoint must be a URL string');
        return ok(emulator.subscribe(need(v), endpoint, (schema ?? 'eventGrid') as EventSchema));
      },
    ],
    ['DELETE', /^\/subscriptions\/([^/]+)$/, ([id]) => (emulator.unsubscribe(need(id)) ? none() : notFound('subscription'))],
    [
      'POST',
      /^\/vaults\/([^/]+)\/events$/,
      async ([v], body) => {
        const { eventType, name, version } = asObject(await body());
        const type = (EVENT_TYPES as readonly unknown[]).includes(eventType)
          ? (eventType as KeyVaultSecretEventType)
          : EVENT_TYPES.find((t) => t.endsWith(`.${String(eventType)}`));
        if (!type) throw new AdminError(400, 'BadRequest', `eventType must be one of ${EVENT_TYPES.join(', ')}`);
        if (typeof name !== 'string') throw new AdminError(400, 'BadRequest', 'name must be a string');
        return ok({ eventId: emulator.emitEvent(need(v), name, type, typeof version === 'string' ? { version } : {}) });
      },
    ],
    ['GET', /^\/deliveries$/, () => ok(emulator.deliveries())],
    ['POST', /^\/deliveries\/wait$/, async () => (await emulator.whenEventsDelivered(), none())],
  ];

  return createServer((req, res) => {
    route(routes, req, res).catch((error: unknown) => sendAdminError(res, error));
  });
}

async function route(routes: [string, RegExp, AdminHandler][], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const method = (req.method ?? 'GET').toUpperCase();
  let pathMatched = false;
  for (const [m, pattern, handler] of routes) {
    const match = pattern.exec(url.pathname);
    if (!match) continue;
    pathMatched = true;
    if (m !== method) continue;
    const params = match.slice(1).map((p) => decodeURIComponent(p));
    const answer = await handler(params, () => parseBody(req), url);
    if (answer.text !== undefined) {
      res.writeHead(answer.status, { 'Content-Type': 'application/x-pem-file' });
      res.end(answer.text);
    } else if (answer.body === undefined) sendEmpty(res, answer.status);
    else sendJson(res, answer.status, answer.body);
    return;
  }
  req.resume();
  throw pathMatched ? new AdminError(405, 'MethodNotAllowed', `${method} is not allowed here`) : new AdminError(404, 'NotFound', `no admin route ${url.pathname}`);
}

async function parseBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminError(400, 'BadRequest', 'body is not valid JSON');
  }
}

function sendAdminError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) return;
  if (error instanceof AdminError) sendJson(res, error.status, { error: { code: error.code, message: error.message } });
  else if (error instanceof KeyVaultHttpError) sendJson(res, error.status, error.toBody());
  else if (error instanceof TypeError) sendJson(res, 400, { error: { code: 'BadRequest', message: error.message } });
  else sendJson(res, 500, { error: { code: 'InternalError', message: 'admin request failed' } });
}

const ok = (body: unknown): AdminAnswer => ({ status: 200, body });
const none = (): AdminAnswer => ({ status: 204 });
const notFound = (what: string): AdminAnswer => {
  throw new AdminError(404, 'NotFound', `${what} not found`);
};

function need(value: string | undefined): string {
  if (value === undefined) throw new AdminError(400, 'BadRequest', 'missing path parameter');
  return value;
}

function asObject(value: unknown): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new AdminError(400, 'BadRequest', 'body must be a JSON object');
  return value as Record<string, unknown>;
}

function asArray<T>(value: unknown): T[] {
  if (!Array.isArray(value)) throw new AdminError(400, 'BadRequest', 'body must be a JSON array');
  return value as T[];
}
