import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { buildDurableClientData } from '../../local/host/durable/api.js';
import { durableClientOf, eventTriggerPortOf, orchestrationClientPort } from '../../shared/orchestrations/client.js';
import { rpcOrchestrationClientPort } from '../../shared/orchestrations/rpcClient.js';
import type { OrchestrationClientPort } from '../../shared/triggers/index.js';
import { useSampleHost } from '../support/sampleHost.js';

// The Event Grid triggers' direct client of the extension's RPC endpoint (shared/orchestrations/rpcClient.ts) against
// the local host's real durable API, side by side with the SDK's DurableClient it stands in for: same answers.

const host = useSampleHost('host-rpc-client-');

function bindingData(origin = host().baseUrl): ReturnType<typeof buildDurableClientData> {
  const token = new URL(host().rpcBaseUrl).pathname.split('/').filter(Boolean).at(-1) ?? '';
  return buildDurableClientData(origin, host().taskHubName, host().durableTaskKey, token);
}

function contextWith(data: unknown): InvocationContext {
  const input = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [input] } });
  context.extraInputs.set(input, data);
  return context;
}

async function approve(instanceId: string, value: string): Promise<void> {
  const response = await fetch(`${host().rpcBaseUrl}instances/${instanceId}/raiseEvent/approval`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(value),
  });
  expect(response.status).toBe(202);
}

const sdk = (): OrchestrationClientPort => orchestrationClientPort(durableClientOf(contextWith(bindingData())));
const rpc = (): OrchestrationClientPort => eventTriggerPortOf(contextWith(bindingData()));

describe('the RPC client of the Event Grid triggers, beside the SDK client', () => {
  it('is what an Event Grid trigger gets when the binding names an RPC endpoint, and the SDK client when it does not', async () => {
    const withRpc = eventTriggerPortOf(contextWith(bindingData()));
    expect(eventTriggerPortOf(contextWith(bindingData()))).toBe(withRpc); // one port per endpoint
    const { rpcBaseUrl: _, ...withoutRpc } = bindingData();
    const fallback = eventTriggerPortOf(contextWith(withoutRpc));
    expect(fallback).not.toBe(withRpc);
    // The fallback goes through the management URLs, and still reaches the host.
    expect(await fallback.status('rpc-none')).toBeUndefined();
  });

  it('reads an unknown id as absent, and a finished instance with the same fields as the SDK', async () => {
    expect(await rpc().status('rpc-unknown')).toBeUndefined();
    expect(await rpc().start('Sequence', 'rpc-sequence', ['r'])).toBe('started');
    await host().waitForInstance('rpc-sequence', 10_000);
    const direct = await rpc().status('rpc-sequence');
    expect(direct).toMatchObject({ instanceId: 'rpc-sequence', name: 'Sequence', runtimeStatus: 'Completed', input: ['r'], output: ['Hello r'] });
    expect(direct).toEqual(await sdk().status('rpc-sequence'));
  });

  it('answers already-running for a running id, as the SDK port does, and starts a finished one again', async () => {
    const id = 'rpc-waiting';
    expect(await rpc().start('WaitForApproval', id, { timeoutMs: 600_000 })).toBe('started');
    expect(await rpc().start('WaitForApproval', id, {})).toBe('already-running');
    expect(await sdk().start('WaitForApproval', id, {})).toBe('already-running');
    expect((await rpc().status(id))?.runtimeStatus).toMatch(/^(Pending|Running)$/);
    await approve(id, 'yes');
    await host().waitForInstance(id, 10_000);
    // The extension replaces a Completed instance on start (overridableExistingInstanceStates: NonRunningStates).
    expect(await rpc().start('WaitForApproval', id, { timeoutMs: 600_000 })).toBe('started');
    expect((await rpc().status(id))?.runtimeStatus).toMatch(/^(Pending|Running)$/);
    await approve(id, 'again');
    expect((await host().waitForInstance(id, 10_000)).output).toEqual({ approved: 'again' });
  });

  it('reads a status answered with HTTP 400 (failed or terminated, as older extensions answer) as that status', async () => {
    const listener = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'Sequence', instanceId: 'rpc-failed', runtimeStatus: 'Failed', output: 'boom' })),
      );
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const port = rpcOrchestrationClientPort(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/durabletask/t/`);
      expect(await port.status('rpc-failed')).toMatchObject({ instanceId: 'rpc-failed', name: 'Sequence', runtimeStatus: 'Failed', output: 'boom' });
    } finally {
      listener.closeAllConnections();
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('names the call, the status and the answer when the extension fails, and retries once on a reset connection', async () => {
    let requests = 0;
    const listener = createServer((req, res) => {
      requests += 1;
      const socket = req.socket as typeof req.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      req.resume();
      // The second request of a kept-alive connection is reset, as by a listener that closed it as it was reused.
      if (socket.served > 1) return socket.resetAndDestroy();
      req.on('end', () => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'task hub unavailable' })));
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const port = rpcOrchestrationClientPort(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/durabletask/t/`);
      await expect(port.status('rpc-broken')).rejects.toThrow(/durable status of rpc-broken: the extension answered HTTP 500: .*task hub unavailable/);
      // Reused connection reset → sent again on a new one, which answers 500; then the start reads the status (500).
      await expect(port.start('Sequence', 'rpc-broken', ['x'])).rejects.toThrow(/HTTP 500/);
      expect(requests).toBeGreaterThanOrEqual(3);
    } finally {
      listener.closeAllConnections();
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});
