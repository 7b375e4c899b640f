import http from 'node:http';
import https from 'node:https';
import { context as otelContext, propagation, trace } from '@opentelemetry/api';
import type { InstanceStatus, OrchestrationClientPort } from '../triggers/ports.js';
import { ACTIVE_RUNTIME_STATUSES, onceMoreIfReset } from './resetRetry.js';

/**
 * The Event Grid triggers' two durable calls — a status read and a start — sent straight to the Durable Functions
 * extension's RPC endpoint (`rpcBaseUrl` of the durable client binding: `http://127.0.0.1:17071/durabletask/` in
 * Azure), with the same URLs, bodies and answers as durable-functions' `DurableClient.getStatus` and `startNew`.
 *
 * Why not the SDK's client here: under a burst of events those two calls are most of a webhook answer's CPU, and
 * the SDK's axios stack costs 1–1.5 ms of CPU per call against 0.1–0.4 ms for `node:http` (docs/benchmarks.md,
 * "Event Grid webhook"). Every other durable call (HTTP and timer triggers, operators' paths) keeps the SDK client;
 * a binding without `rpcBaseUrl` (an old extension) falls back to it too.
 */
export function rpcOrchestrationClientPort(rpcBaseUrl: string): OrchestrationClientPort {
  const base = new URL(rpcBaseUrl);
  const transport = base.protocol === 'https:' ? https : http;
  // One keep-alive pool per endpoint: the listener is local, so a connection is worth keeping between answers.
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 64 });

  async function status(instanceId: string): Promise<InstanceStatus | undefined> {
    // As getStatusInternal builds it: the id is appended unencoded and the URL parser normalises it.
    const url = new URL(new URL(`instances/${instanceId}`, rpcBaseUrl).href + '?showInput=true', rpcBaseUrl);
    const answer = await onceMoreIfReset(() => exchange(transport, agent, 'GET', url));
    if (answer.status === 404) return undefined;
    // As DurableClient.getStatus: 200 (finished), 202 (running) and 400 (older extensions: failed or terminated)
    // carry the status; anything else, or an empty body, is an error.
    if (![200, 202, 400].includes(answer.status) || answer.body.length === 0) throw answerError(`status of ${instanceId}`, answer);
    const body = parseBody(answer, `status of ${instanceId}`) as Record<string, unknown>;
    return {
      instanceId: String(body['instanceId'] ?? instanceId),
      name: String(body['name'] ?? ''),
      runtimeStatus: String(body['runtimeStatus']),
      input: body['input'],
      output: body['output'],
      customStatus: body['customStatus'],
      ...isoOf('createdTime', body['createdTime']),
      ...isoOf('lastUpdatedTime', body['lastUpdatedTime']),
    };
  }

  return {
    status,
    async start(name, instanceId, input) {
      const url = new URL(`orchestrators/${name}/${instanceId}`, rpcBaseUrl);
      const body = input === undefined ? '' : JSON.stringify(input);
      // A start is idempotent by instance id: if the reset one did arrive, the second answers 409 (a duplicate).
      const answer = await onceMoreIfReset(() => exchange(transport, agent, 'POST', url, body));
      if (answer.status <= 202 && answer.body.length > 0) return 'started';
      // 409: another start of this id was accepted (pending or running). It may not be visible yet, or may have
      // finished already, by the time its status is read: a duplicate either way.
      if (answer.status === 409) return 'already-running';
      const existing = await status(instanceId);
      if (existing && ACTIVE_RUNTIME_STATUSES.has(existing.runtimeStatus)) return 'already-running';
      throw answerError(`start of ${name} ${instanceId}`, answer);
    },
  };
}

/** A timestamp as the SDK port gives it (DurableOrchestrationStatus makes a Date of it; the port writes ISO back). */
function isoOf<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  if (typeof value !== 'string') return {};
  const date = new Date(value);
  return { [key]: Number.isNaN(date.getTime()) ? value : date.toISOString() } as Partial<Record<K, string>>;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

function exchange(transport: typeof http | typeof https, agent: http.Agent, method: 'GET' | 'POST', url: URL, body?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  // Trace context, as DurableClient sends it when a span is active.
  if (trace.getSpan(otelContext.active())) propagation.inject(otelContext.active(), headers);
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const request = transport.request(url, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

function parseBody(answer: Answer, what: string): unknown {
  try {
    return JSON.parse(answer.body);
  } catch {
    throw answerError(what, answer, 'the body is not JSON');
  }
}

function answerError(what: string, answer: Answer, problem?: string): Error {
  const details = answer.body.length > 500 ? `${answer.body.slice(0, 500)}…` : answer.body;
  return new Error(`durable ${what}: the extension answered HTTP ${answer.status}${problem ? ` (${problem})` : ''}: ${details || '(empty body)'}`);
}
