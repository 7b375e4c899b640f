import { describe, expect, it } from 'vitest';
import { useSampleHost } from '../support/sampleHost.js';

// A burst of starts of one instance id (duplicate events racing each other, or a restart of a finished instance)
// through the durable client API: exactly one start wins, every other is a 409, none is a 500.

const host = useSampleHost('host-start-race-');

// The instance waits for an `approval` event, so it is running for the whole burst: a start of a *finished*
// instance is a legitimate restart (as in Azure), and a burst racing a fast orchestration could meet one.
async function burst(instanceId: string, count: number): Promise<number[]> {
  const start = () => fetch(`${host().rpcBaseUrl}orchestrators/WaitForApproval/${instanceId}`, { method: 'POST', body: JSON.stringify({}) }).then((r) => r.status);
  return Promise.all(Array.from({ length: count }, start));
}

async function approve(instanceId: string): Promise<void> {
  const answer = await fetch(`${host().rpcBaseUrl}instances/${instanceId}/raiseEvent/approval`, { method: 'POST', body: '"yes"' });
  expect(answer.status).toBe(202);
  const done = await host().waitForInstance(instanceId, 10_000);
  expect(done.runtimeStatus).toBe('Completed');
  expect(done.output).toEqual({ approved: 'yes' });
}

describe('concurrent starts of one instance id', () => {
  it('start one instance for a new id and answer 409 to the others', async () => {
    const statuses = await burst('race-new', 20);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 202).every((s) => s === 409)).toBe(true);
    await approve('race-new');
  });

  it('restart a finished instance once and answer 409 to the others', async () => {
    expect(await burst('race-again', 1)).toEqual([202]);
    await approve('race-again');
    const statuses = await burst('race-again', 20);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 202).every((s) => s === 409)).toBe(true);
    await approve('race-again');
  });
});
