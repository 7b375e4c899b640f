import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { expect, it } from 'vitest';
import { buildDurableClientData } from '../../local/host/durable/api.js';
import { durableClientOf, orchestrationClientPort } from '../../shared/orchestrations/client.js';
import { rpcOrchestrationClientPort } from '../../shared/orchestrations/rpcClient.js';
import { useSampleHost } from '../support/sampleHost.js';

const host = useSampleHost('host-keep-alive-');

type Kind = 'sdk' | 'rpc';

/** The SDK's DurableClient port, or the Event Grid triggers' direct RPC port (rpcClient.ts), for this binding data. */
function clientFor(data: ReturnType<typeof buildDurableClientData>, kind: Kind): ReturnType<typeof orchestrationClientPort> {
  if (kind === 'rpc') return rpcOrchestrationClientPort(data.rpcBaseUrl);
  const input = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [input] } });
  context.extraInputs.set(input, data);
  return orchestrationClientPort(durableClientOf(context));
}

/** Blocks this thread (the host's and the client's event loop) without using the CPU. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

it.each<Kind>(['sdk', 'rpc'])('answers a durable client (%s) that reuses a keep-alive connection after a 7 s event-loop stall', async (kind) => {
  // The durable client as the trigger uses it (axios on Node's global agent), against the host's real RPC API.
  const token = new URL(host().rpcBaseUrl).pathname.split('/').filter(Boolean).at(-1) ?? '';
  const client = clientFor(buildDurableClientData(host().baseUrl, host().taskHubName, host().durableTaskKey, token), kind);
  expect(await client.status('keep-alive-none')).toBeUndefined();
  // The connection is idle in the client's pool; both its idle timers (client and host) come due during the stall,
  // and the next request is written on it before either fires.
  stall(7_000);
  expect(await client.status('keep-alive-none')).toBeUndefined();
  const id = `keep-alive-started-${kind}`;
  expect(await client.start('Sequence', id, ['k'])).toBe('started');
  expect((await host().waitForInstance(id, 10_000)).output).toEqual(['Hello k']);
});

it.each<Kind>(['sdk', 'rpc'])("retries a status read and a start once (%s) when the durable API's listener resets a reused connection", async (kind) => {
  // A listener that answers the first request of each connection (keeping it alive) and resets the connection on the
  // second, as a listener that closed an idle connection the client was reusing.
  const seen: string[] = [];
  const listener = createServer((req, res) => {
    const socket = req.socket as typeof req.socket & { served?: number };
    socket.served = (socket.served ?? 0) + 1;
    seen.push(`${req.method} ${req.url} #${socket.served}`);
    if (socket.served > 1) {
      socket.resetAndDestroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') res.writeHead(404).end();
      else res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'reset-started' }));
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  try {
    const origin = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    const client = clientFor(buildDurableClientData(origin, 'hub', 'key', 'token'), kind);
    expect(await client.status('reset-none')).toBeUndefined();
    expect(await client.status('reset-none')).toBeUndefined();
    expect(await client.start('Sequence', 'reset-started', ['r'])).toBe('started');
    // each reset request was sent again, on a new connection
    expect(seen.filter((line) => line.endsWith('#2')).length).toBeGreaterThanOrEqual(1);
    expect(seen.filter((line) => line.startsWith('POST')).at(-1)).toMatch(/#1$/);
  } finally {
    listener.closeAllConnections();
    await new Promise((resolve) => listener.close(resolve));
  }
});
