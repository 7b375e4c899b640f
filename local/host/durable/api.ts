import type { ServerResponse } from 'node:http';
import type { DurableEngine, InstanceSnapshot, RuntimeStatus } from './engine.js';
import { InstanceAlreadyExistsError, UnknownOrchestratorError } from './engine.js';
import { EVENT_TYPE_NAMES, EventType } from './history.js';
import type { HistoryEvent } from './history.js';

/** The durable client binding data (`OrchestrationClientInputData`) the extension passes to client functions. */
export interface DurableClientData {
  taskHubName: string;
  creationUrls: { createNewInstancePostUri: string; createAndWaitOnNewInstancePostUri: string };
  managementUrls: Record<string, string>;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

/** Path of the public durable webhook API. */
export const DURABLE_WEBHOOK_PATH = '/runtime/webhooks/durabletask';
/**
 * Path of the local RPC endpoint (the extension's LocalHttpListener; on the host's own port here, under a per-host
 * path token: `/durabletask/<token>/`).
 */
export const DURABLE_RPC_PATH = '/durabletask';

/**
 * Builds the client binding data with the host's real origin (management URL templates carry the system key, as in
 * Azure; `rpcBaseUrl` carries the RPC path token).
 */
export function buildDurableClientData(origin: string, taskHubName: string, durableTaskKey: string, rpcToken: string): DurableClientData {
  const base = `${origin}${DURABLE_WEBHOOK_PATH}`;
  const code = `code=${encodeURIComponent(durableTaskKey)}`;
  const common = `taskHub=${encodeURIComponent(taskHubName)}&connection=Storage&${code}`;
  return {
    taskHubName,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?${code}`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&${code}`,
    },
    managementUrls: {
      id: 'INSTANCEID',
      statusQueryGetUri: `${base}/instances/INSTANCEID?${common}`,
      sendEventPostUri: `${base}/instances/INSTANCEID/raiseEvent/{eventName}?${common}`,
      terminatePostUri: `${base}/instances/INSTANCEID/terminate?reason={text}&${common}`,
      rewindPostUri: `${base}/instances/INSTANCEID/rewind?reason={text}&${common}`,
      purgeHistoryDeleteUri: `${base}/instances/INSTANCEID?${common}`,
      restartPostUri: `${base}/instances/INSTANCEID/restart?${common}`,
      suspendPostUri: `${base}/instances/INSTANCEID/suspend?reason={text}&${common}`,
      resumePostUri: `${base}/instances/INSTANCEID/resume?reason={text}&${common}`,
    },
    baseUrl: base,
    requiredQueryStringParameters: code,
    rpcBaseUrl: `${origin}${DURABLE_RPC_PATH}/${rpcToken}/`,
  };
}

/** The management payload for one instance (what `createCheckStatusResponse` and the start API return). */
export function managementPayload(clientData: DurableClientData, instanceId: string): Record<string, string> {
  const payload: Record<string, string> = { id: instanceId };
  for (const [key, template] of Object.entries(clientData.managementUrls)) {
    if (key === 'id' || key === 'rewindPostUri') continue;
    payload[key] = template.replace('INSTANCEID', encodeURIComponent(instanceId));
  }
  return payload;
}

function timeText(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The condensed history the status API shows (scheduling events folded into their completions, episodes hidden). */
export function statusHistory(history: HistoryEvent[], showHistoryOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  for (const event of history) {
    if (event.EventType === EventType.TaskScheduled || event.EventType === EventType.SubOrchestrationInstanceCreated) scheduled.set(event.EventId, event);
  }
  const result: Record<string, unknown>[] = [];
  for (const event of history) {
    const base: Record<string, unknown> = { EventType: EVENT_TYPE_NAMES[event.EventType], Timestamp: event.Timestamp };
    switch (event.EventType) {
      case EventType.ExecutionStarted:
        result.push({ ...base, FunctionName: event.Name, ...(showHistoryOutput ? { Input: parseJson(event.Input) } : {}) });
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const origin = event.TaskScheduledId !== undefined ? scheduled.get(event.TaskScheduledId) : undefined;
        result.push({
          ...base,
          FunctionName: origin?.Name,
          ScheduledTime: origin?.Timestamp,
          ...(origin?.InstanceId ? { InstanceId: origin.InstanceId } : {}),
          ...(showHistoryOutput && event.Result !== undefined ? { Result: parseJson(event.Result) } : {}),
          ...(event.Reason !== undefined ? { Reason: event.Reason, Details: event.Details } : {}),
          ...(event.FailureDetails ? { FailureDetails: event.FailureDetails } : {}),
        });
        break;
      }
      case EventType.TimerCreated:
      case EventType.TimerFired:
        result.push({ ...base, FireAt: event.FireAt });
        break;
      case EventType.EventRaised:
        result.push({ ...base, Name: event.Name, ...(showHistoryOutput ? { Input: parseJson(event.Input) } : {}) });
        break;
      case EventType.ExecutionCompleted:
        result.push({
          ...base,
          OrchestrationStatus: event.OrchestrationStatus,
          ...(showHistoryOutput ? { Result: parseJson(event.Result) } : {}),
          ...(event.FailureDetails ? { FailureDetails: event.FailureDetails } : {}),
        });
        break;
      case EventType.ExecutionTerminated:
        result.push({ ...base, Input: parseJson(event.Input) });
        break;
      default:
        break;
    }
  }
  return result;
}

/** The status payload (`StatusResponsePayload`) for one instance. */
export function statusPayload(snapshot: InstanceSnapshot, options: { showHistory?: boolean; showHistoryOutput?: boolean; showInput?: boolean } = {}): Record<string, unknown> {
  return {
    name: snapshot.name,
    instanceId: snapshot.instanceId,
    runtimeStatus: snapshot.runtimeStatus,
    input: options.showInput === false ? null : snapshot.input,
    customStatus: snapshot.customStatus,
    output: snapshot.output,
    createdTime: timeText(snapshot.createdTime),
    lastUpdatedTime: timeText(snapshot.lastUpdatedTime),
    ...(options.showHistory ? { historyEvents: statusHistory(snapshot.history, options.showHistoryOutput ?? false) } : {}),
  };
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

function bool(url: URL, name: string): boolean | undefined {
  const value = url.searchParams.get(name);
  if (value === null) return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  return undefined;
}

function dateParam(url: URL, name: string): Date | undefined {
  const value = url.searchParams.get(name);
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const KNOWN_STATUSES: RuntimeStatus[] = ['Pending', 'Running', 'Completed', 'ContinuedAsNew', 'Failed', 'Terminated'];

function statusParam(url: URL): RuntimeStatus[] | undefined {
  const value = url.searchParams.getAll('runtimeStatus').flatMap((v) => v.split(','));
  const statuses = value.map((v) => KNOWN_STATUSES.find((s) => s.toLowerCase() === v.trim().toLowerCase())).filter((s): s is RuntimeStatus => s !== undefined);
  return statuses.length > 0 ? statuses : undefined;
}

/** Context of one durable API request. */
export interface DurableApiRequest {
  method: string;
  url: URL;
  /** The path after the API base (`/runtime/webhooks/durabletask` or `/durabletask`). */
  path: string;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
  clientData: DurableClientData;
}

/**
 * Serves the durable HTTP API as the extension's HttpApiHandler does: start (202 + management payload, 409 with
 * `{Message}` when the id is pending or running, 400 for an unknown orchestrator), status (202 while running, 200 when
 * finished; `showHistory`, `showHistoryOutput`, `showInput`, `returnInternalServerErrorOnFailure`), list with filters and
 * paging, raise event, terminate, purge by id or filter. Suspend, resume, rewind and restart answer 501.
 */
export async function handleDurableApi(engine: DurableEngine, request: DurableApiRequest, res: ServerResponse): Promise<void> {
  const { method, url } = request;
  let decodedPath: string;
  try {
    decodedPath = decodeURIComponent(request.path);
  } catch {
    return send(res, 400, { Message: 'The URL path has a malformed percent-encoding.' });
  }
  const segments = decodedPath.replace(/^\/+|\/+$/g, '').split('/').filter((s) => s.length > 0);
  const [controller, first, operation, operationArgument] = segments;

  if (controller === 'orchestrators' && first !== undefined && segments.length <= 3) {
    if (method !== 'POST') return send(res, 404);
    let input: unknown;
    if (request.body.length > 0) {
      try {
        input = JSON.parse(request.body.toString('utf8'));
      } catch {
        return send(res, 400, { Message: 'Invalid JSON content' });
      }
    }
    try {
      const id = await engine.startNew(first, { ...(operation ? { instanceId: operation } : {}), input });
      const payload = managementPayload(request.clientData, id);
      return send(res, 202, payload, { location: payload['statusQueryGetUri'] ?? '', 'retry-after': '10' });
    } catch (error) {
      if (error instanceof InstanceAlreadyExistsError) return send(res, 409, { Message: error.message });
      if (error instanceof UnknownOrchestratorError) return send(res, 400, { Message: error.message });
      throw error;
    }
  }

  if (controller !== 'instances') return send(res, 404);

  if (first === undefined) {
    const filter = {
      ...(dateParam(url, 'createdTimeFrom') ? { createdTimeFrom: dateParam(url, 'createdTimeFrom') } : {}),
      ...(dateParam(url, 'createdTimeTo') ? { createdTimeTo: dateParam(url, 'createdTimeTo') } : {}),
      ...(statusParam(url) ? { runtimeStatus: statusParam(url) } : {}),
      ...(url.searchParams.get('instanceIdPrefix') ? { instanceIdPrefix: url.searchParams.get('instanceIdPrefix') ?? '' } : {}),
    };
    if (method === 'GET') {
      const all = engine.list(filter);
      const top = Number(url.searchParams.get('top') ?? '0');
      const tokenHeader = request.headers['x-ms-continuation-token'];
      const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
      const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) || 0 : 0;
      const end = top > 0 ? start + top : all.length;
      const page = all.slice(start, end).map((s) => statusPayload(s, { showInput: bool(url, 'showInput') ?? true }));
      const headers: Record<string, string> = end < all.length ? { 'x-ms-continuation-token': Buffer.from(String(end)).toString('base64url') } : {};
      return send(res, 200, page, headers);
    }
    if (method === 'DELETE') {
      if (!filter.createdTimeFrom) return send(res, 400, { Message: "Please provide value for 'createdTimeFrom' parameter." });
      let deleted = 0;
      for (const snapshot of engine.list(filter)) {
        if ((await engine.purge(snapshot.instanceId)) === 'deleted') deleted += 1;
      }
      return deleted === 0 ? send(res, 404) : send(res, 200, { instancesDeleted: deleted });
    }
    return send(res, 404);
  }

  const instanceId = first;
  if (operation === undefined) {
    if (method === 'GET') {
      const snapshot = engine.get(instanceId);
      if (!snapshot) return send(res, 404);
      const payload = statusPayload(snapshot, {
        showHistory: bool(url, 'showHistory') ?? false,
        showHistoryOutput: bool(url, 'showHistoryOutput') ?? false,
        showInput: bool(url, 'showInput') ?? true,
      });
      switch (snapshot.runtimeStatus) {
        case 'Pending':
        case 'Running':
        case 'ContinuedAsNew':
          return send(res, 202, payload, { location: url.href, 'retry-after': '5' });
        case 'Failed':
          return send(res, bool(url, 'returnInternalServerErrorOnFailure') ? 500 : 200, payload);
        default:
          return send(res, 200, payload);
      }
    }
    if (method === 'DELETE') {
      const outcome = await engine.purge(instanceId);
      if (outcome === 'notFound') return send(res, 404);
      if (outcome === 'notTerminal') {
        const status = engine.get(instanceId)?.runtimeStatus ?? 'Running';
        return send(res, 412, `Only orchestrations in a terminal state can be purged, but the orchestration with instance ID ${instanceId} has status ${status}`);
      }
      return send(res, 200, { instancesDeleted: 1 });
    }
    return send(res, 404);
  }

  if (method !== 'POST') return send(res, 404);
  if (operation === 'raiseEvent' && operationArgument !== undefined) {
    let data: unknown;
    if (request.body.length > 0) {
      try {
        data = JSON.parse(request.body.toString('utf8'));
      } catch {
        return send(res, 400, { Message: 'Invalid JSON content' });
      }
    }
    const outcome = await engine.raiseEvent(instanceId, operationArgument, data);
    return send(res, outcome === 'accepted' ? 202 : outcome === 'gone' ? 410 : 404);
  }
  if (operation.toLowerCase() === 'terminate') {
    const outcome = await engine.terminate(instanceId, url.searchParams.get('reason') ?? '');
    return send(res, outcome === 'accepted' ? 202 : outcome === 'gone' ? 410 : 404);
  }
  if (['suspend', 'resume', 'rewind', 'restart'].includes(operation.toLowerCase())) {
    return send(res, 501, { Message: `The local host does not implement '${operation}'.` });
  }
  return send(res, 404);
}
