import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FunctionInfo } from './catalog.js';
import { buildInputData } from './catalog.js';
import type { Registration } from './coreStub.js';
import { isSystemKey, presentedKey } from './keys.js';
import type { HostKeys } from './keys.js';
import { hostLog } from './log.js';
import type { LogSink } from './log.js';
import { invokeRegistration } from './rpc.js';

/** Path of the Event Grid webhook. */
export const EVENT_GRID_PATH = '/runtime/webhooks/eventgrid';

/** What the webhook needs from the host. */
export interface EventGridContext {
  keys: HostKeys;
  log: LogSink;
  durableClientData: () => unknown;
  lookup: (name: string) => { info: FunctionInfo; registration: Registration } | undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) res.writeHead(status, headers).end();
  else res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

/**
 * Serves `/runtime/webhooks/eventgrid?functionName=<name>` as the Event Grid extension does: answers the CloudEvents
 * abuse-protection handshake (OPTIONS with `WebHook-Request-Origin`) and the Event Grid `SubscriptionValidation`
 * handshake, then invokes the function once per event of an Event Grid array, a single CloudEvent or a CloudEvents batch.
 * All events delivered → 202; any handler error → 500 so the sender retries the delivery; unknown function → 404. Every
 * request (handshakes included) must carry the `eventgrid_extension` system key or the master key as `code` (or
 * `x-functions-key`), else 401 before anything is read.
 */
export async function handleEventGrid(context: EventGridContext, req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  if (!isSystemKey(presentedKey(url, req.headers), context.keys.eventGridKey, context.keys)) return send(res, 401);
  const functionName = url.searchParams.get('functionName') ?? '';
  const target = context.lookup(functionName);
  if (!target || target.info.triggerType.toLowerCase() !== 'eventgridtrigger') {
    return send(res, 404, { Message: `cannot find function: '${functionName}'` });
  }

  if (method === 'OPTIONS') {
    const origin = header(req, 'webhook-request-origin');
    if (!origin) return send(res, 400);
    return send(res, 200, undefined, { 'webhook-allowed-origin': origin, 'webhook-allowed-rate': '*' });
  }
  if (method !== 'POST') return send(res, 405);

  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return send(res, 400, { Message: 'The request body is not valid JSON.' });
  }

  const eventType = header(req, 'aeg-event-type');
  if (eventType === 'SubscriptionValidation') {
    const first: unknown = Array.isArray(payload) ? payload[0] : payload;
    const data = isRecord(first) && isRecord(first['data']) ? first['data'] : undefined;
    const code = data?.['validationCode'];
    if (typeof code !== 'string') return send(res, 400, { Message: 'SubscriptionValidation event without validationCode' });
    hostLog(context.log, 'information', 'Event Grid subscription validated', functionName);
    return send(res, 200, { validationResponse: code });
  }
  if (eventType === 'Unsubscribe') return send(res, 202);

  const events: unknown[] = Array.isArray(payload) ? payload : [payload];
  if (!events.every(isRecord)) return send(res, 400, { Message: 'Every event must be a JSON object.' });

  let failed = 0;
  for (const event of events) {
    try {
      await invokeRegistration(target.registration, { inputData: buildInputData(target.info, { string: JSON.stringify(event) }, context.durableClientData) }, { log: context.log });
    } catch (error) {
      failed += 1;
      hostLog(context.log, 'error', `Executed with an error: ${error instanceof Error ? error.message : String(error)}`, functionName);
    }
  }
  return failed > 0 ? send(res, 500) : send(res, 202);
}
