import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { InstanceStatus, OrchestrationClientPort } from '../triggers/ports.js';
import { rpcOrchestrationClientPort } from './rpcClient.js';
import { ACTIVE_RUNTIME_STATUSES, onceMoreIfReset } from './resetRetry.js';

/**
 * Adapts the Durable Functions client to the narrow port the trigger handlers use. A start refused because the id
 * is pending or running (the extension's default `overridableExistingInstanceStates: NonRunningStates`) surfaces
 * as `already-running`, never as an error.
 */
export function orchestrationClientPort(client: DurableClient): OrchestrationClientPort {
  async function status(instanceId: string): Promise<InstanceStatus | undefined> {
    try {
      const s = await onceMoreIfReset(() => client.getStatus(instanceId, { showInput: true }));
      return {
        instanceId: s.instanceId,
        name: s.name,
        runtimeStatus: String(s.runtimeStatus),
        input: s.input,
        output: s.output,
        customStatus: s.customStatus,
        createdTime: toIso(s.createdTime),
        lastUpdatedTime: toIso(s.lastUpdatedTime),
      };
    } catch (error) {
      if (error instanceof Error && /HTTP 404 response/.test(error.message)) return undefined;
      throw error;
    }
  }

  return {
    status,
    async start(name, instanceId, input) {
      try {
        // A start is idempotent by instance id: if the reset one did arrive, the second answers 409 (a duplicate).
        await onceMoreIfReset(() => client.startNew(name, { instanceId, input }));
        return 'started';
      } catch (error) {
        // 409: another start of this id was accepted. It may not be visible yet, or may have finished already, by the
        // time its status is read: a duplicate either way.
        if (isConflict(error)) return 'already-running';
        const existing = await status(instanceId);
        if (existing && ACTIVE_RUNTIME_STATUSES.has(existing.runtimeStatus)) return 'already-running';
        throw error;
      }
    },
  };
}

function isConflict(error: unknown): boolean {
  return error instanceof Error && /unexpected status code: 409\b/.test(error.message);
}

function toIso(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : undefined;
}

const clients = new Map<string, DurableClient>();
const rpcPorts = new Map<string, OrchestrationClientPort>();

/**
 * The orchestration port of an Event Grid trigger's invocation: the extension's RPC endpoint called directly when the
 * binding names one (`rpcBaseUrl`, see rpcClient.ts), else the SDK's `DurableClient`. One port per endpoint.
 */
export function eventTriggerPortOf(context: InvocationContext): OrchestrationClientPort {
  const rpcBaseUrl = (bindingDataOf(context) as { rpcBaseUrl?: unknown } | undefined)?.rpcBaseUrl;
  if (typeof rpcBaseUrl !== 'string' || !/^https?:\/\//.test(rpcBaseUrl)) return orchestrationClientPort(durableClientOf(context));
  let port = rpcPorts.get(rpcBaseUrl);
  if (!port) {
    port = rpcOrchestrationClientPort(rpcBaseUrl);
    if (rpcPorts.size >= 8) rpcPorts.clear();
    rpcPorts.set(rpcBaseUrl, port);
  }
  return port;
}

function bindingDataOf(context: InvocationContext): unknown {
  const input = context.options.extraInputs.find((binding) => binding.type === 'durableClient' || binding.type === 'orchestrationClient');
  return input ? context.extraInputs.get(input) : undefined;
}

/**
 * The Durable Functions client of an invocation whose function registered a `df.input.durableClient()` extra input:
 * one `DurableClient` per distinct binding data, reused across invocations (`df.getClient` builds a new client, an
 * axios instance and validates every management URL on each call; the binding data is the same for every invocation
 * of a host, and a changed one, e.g. a rotated system key, gets a client of its own).
 */
export function durableClientOf(context: InvocationContext): DurableClient {
  const data = bindingDataOf(context);
  // df.getClient rewrites the URLs when WEBSITE_HOSTNAME is unset, so the setting is part of the key.
  const key = `${process.env['WEBSITE_HOSTNAME'] ?? ''}\n${JSON.stringify(data ?? null)}`;
  let client = clients.get(key);
  if (!client) {
    client = df.getClient(context);
    if (clients.size >= 8) clients.clear();
    clients.set(key, client);
  }
  return client;
}
