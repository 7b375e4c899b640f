import type { DurableClient } from 'durable-functions';
import type { InstanceStatus, OrchestrationClientPort } from '../triggers/ports.js';

const ACTIVE = new Set(['Pending', 'Running', 'ContinuedAsNew']);

/**
 * Adapts the Durable Functions client to the narrow port the trigger handlers use. A start refused because the id
 * is pending or running (the extension's default `overridableExistingInstanceStates: NonRunningStates`) surfaces
 * as `already-running`, never as an error.
 */
export function orchestrationClientPort(client: DurableClient): OrchestrationClientPort {
  async function status(instanceId: string): Promise<InstanceStatus | undefined> {
    try {
      const s = await client.getStatus(instanceId, { showInput: true });
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
        await client.startNew(name, { instanceId, input });
        return 'started';
      } catch (error) {
        // 409: another start of this id was accepted. It may not be visible yet, or may have finished already, by the
        // time its status is read: a duplicate either way.
        if (isConflict(error)) return 'already-running';
        const existing = await status(instanceId);
        if (existing && ACTIVE.has(existing.runtimeStatus)) return 'already-running';
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
