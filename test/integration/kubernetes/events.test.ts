import { AppsV1Api, CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RELAY_RULES, startKubernetesEmulator, type KubernetesEmulator } from '../../../local/kubernetes/index.js';
import { STATUS_INFO } from '../../../shared/domain/statuses.js';
import { TransientTargetError, type DeliveryRequest } from '../../../shared/targets/contract.js';
import { WriteBudget } from '../../../shared/targets/writeBudget.js';
import {
  createClusterAccess,
  EVENT_REPORTING_COMPONENT,
  KubernetesTarget,
  sdkSecretsApi,
  type EventLog,
  type KubernetesConnector,
} from '../../../shared/targets/kubernetes/index.js';
import { adminClients, FINGERPRINT_KEY, sourceVersion, targetOn } from './support.js';

const NS = 'apps';
let emulator: KubernetesEmulator;
let core: CoreV1Api;
const values: string[] = [];
let counter = 0;
const name = (label: string): string => `${label}-${++counter}`;
const policy = { adopt: false, recoverDeleted: true };

/** A clock that moves one second per reading, so repeated Events have later lastTimestamps without waiting. */
function steppingClock(): () => number {
  let now = Date.parse('2026-06-01T10:00:00Z');
  return () => (now += 1000);
}

function capturingLog(): EventLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (message) => void lines.push(message) };
}

function request(secretName: string, version: ReturnType<typeof sourceVersion>, key = 'password'): DeliveryRequest {
  values.push(version.value);
  return { placement: { name: secretName, key }, source: version.facts, value: version.value, policy };
}

async function eventsOf(secretName: string): Promise<CoreV1Event[]> {
  const list = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.kind=Secret,involvedObject.name=${secretName}` });
  return list.items;
}

beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'edge-1', namespaces: [NS] });
  ({ core } = adminClients(emulator));
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(() => {
  emulator.setFaults([]);
});

describe('Kubernetes Events on the target Secret (real @kubernetes/client-node against the emulator)', () => {
  it('a create records a Normal Created Event on the Secret (uid, resourceVersion, secret-relay), an UpToDate repeat records none, an update records Updated', async () => {
    const target = targetOn(emulator, NS, { clock: steppingClock(), eventReportingInstance: 'relay-test-1' });
    const secretName = name('db');
    const v1 = sourceVersion('db-password');
    expect((await target.deliver(request(secretName, v1))).status).toBe('Created');
    await target.settle();
    const secret = await core.readNamespacedSecret({ name: secretName, namespace: NS });

    const [created, ...others] = await eventsOf(secretName);
    expect(others).toEqual([]);
    expect(created).toMatchObject({
      type: 'Normal',
      reason: 'Created',
      count: 1,
      involvedObject: { kind: 'Secret', apiVersion: 'v1', name: secretName, namespace: NS, uid: secret.metadata!.uid, resourceVersion: secret.metadata!.resourceVersion },
      source: { component: EVENT_REPORTING_COMPONENT },
      reportingComponent: EVENT_REPORTING_COMPONENT,
      reportingInstance: 'relay-test-1',
    });
    expect(created!.message).toBe(`Wrote source platform.vault.test/db-password version ${v1.facts.version} (key password).`);

    expect((await target.deliver(request(secretName, v1))).status).toBe('UpToDate');
    await target.settle();
    expect(await eventsOf(secretName)).toHaveLength(1);

    const v2 = sourceVersion('db-password');
    expect((await target.deliver(request(secretName, v2))).status).toBe('Updated');
    await target.settle();
    const events = await eventsOf(secretName);
    expect(events.map((e) => [e.type, e.reason, e.count])).toEqual([
      ['Normal', 'Created', 1],
      ['Normal', 'Updated', 1],
    ]);
    expect(events[1]!.message).toContain(v2.facts.version);
  });

  it('a foreign Secret gets a Warning FailedNotOwned with the hint; repeats bump count and lastTimestamp of that one Event', async () => {
    const target = targetOn(emulator, NS, { clock: steppingClock() });
    const secretName = name('foreign');
    const foreign = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: secretName }, stringData: { password: 'not-the-relays' } } });
    const v = sourceVersion('db-password');
    for (let i = 0; i < 3; i++) expect((await target.deliver(request(secretName, v))).status).toBe('FailedNotOwned');
    await target.settle();

    const [warning, ...others] = await eventsOf(secretName);
    expect(others).toEqual([]);
    expect(warning).toMatchObject({ type: 'Warning', reason: 'FailedNotOwned', count: 3, involvedObject: { uid: foreign.metadata!.uid } });
    expect(warning!.message).toContain(`Hint: ${STATUS_INFO.FailedNotOwned.hint}`);
    expect(Date.parse(String(warning!.lastTimestamp))).toBeGreaterThan(Date.parse(String(warning!.firstTimestamp)));
  });

  it('an aggregated Event that expired (deleted) is started again on the next repeat', async () => {
    const target = targetOn(emulator, NS, { clock: steppingClock() });
    const secretName = name('expired');
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: secretName }, stringData: { password: 'foreign' } } });
    const v = sourceVersion('db-password');
    await target.deliver(request(secretName, v));
    await target.settle();
    const [first] = await eventsOf(secretName);
    await core.deleteNamespacedEvent({ name: first!.metadata!.name!, namespace: NS });

    expect((await target.deliver(request(secretName, v))).status).toBe('FailedNotOwned');
    await target.settle();
    const events = await eventsOf(secretName);
    expect(events.map((e) => [e.reason, e.count])).toEqual([['FailedNotOwned', 1]]);
    expect(events[0]!.metadata!.name).not.toBe(first!.metadata!.name);
  });

  it('a transient failure (503 on the write) throws for the retry policy and leaves a Warning FailedUnavailable', async () => {
    const target = targetOn(emulator, NS, { clock: steppingClock() });
    const secretName = name('flaky');
    emulator.addFault({ verb: 'create', resource: 'secrets', effect: { kind: 'error', status: 503 } });
    await expect(target.deliver(request(secretName, sourceVersion('db-password')))).rejects.toBeInstanceOf(TransientTargetError);
    await target.settle();
    const [warning] = await eventsOf(secretName);
    expect(warning).toMatchObject({ type: 'Warning', reason: 'FailedUnavailable', count: 1 });
    // The API server's answer stays in the audit record and the log, not in an Event anyone with `view` can read.
    expect(warning!.message).not.toContain('503');
    expect(warning!.message).toContain(`Hint: ${STATUS_INFO.FailedUnavailable.hint}`);
  });

  it('without RBAC on events the delivery still succeeds, and the refusal is logged once at warning with the hint', async () => {
    const token = emulator.addToken({ name: 'no-events', rules: RELAY_RULES.filter((rule) => !rule.resources.includes('events')) });
    const log = capturingLog();
    const target = targetOn(emulator, NS, { token, log });
    const a = name('noevents');
    const b = name('noevents');
    expect((await target.deliver(request(a, sourceVersion('db-password')))).status).toBe('Created');
    expect((await target.deliver(request(b, sourceVersion('db-password')))).status).toBe('Created');
    await target.settle();
    expect((await core.readNamespacedSecret({ name: b, namespace: NS })).data?.password).toBeDefined();
    expect(await eventsOf(a)).toEqual([]);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toContain(`Kubernetes Event for edge-1/${NS}/${a} not recorded (403`);
    expect(log.lines[0]).toContain(`grant the relay identity create and patch on events in namespace ${NS}`);
    expect(log.lines[0]).toContain('the delivery outcome stands');
  });

  it('a 5xx from the API server on the Event keeps the delivery outcome and is logged once', async () => {
    const log = capturingLog();
    const target = targetOn(emulator, NS, { log });
    emulator.addFault({ verb: 'create', resource: 'events', effect: { kind: 'error', status: 500 } });
    const secretName = name('event500');
    expect((await target.deliver(request(secretName, sourceVersion('db-password')))).status).toBe('Created');
    expect((await target.deliver(request(secretName, sourceVersion('db-password')))).status).toBe('Updated');
    await target.settle();
    expect(await eventsOf(secretName)).toEqual([]);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toContain('not recorded (500');
  });

  it('no secret value (plain or base64) appears in any Event the relay recorded', async () => {
    const target = targetOn(emulator, NS);
    const secretName = name('scan');
    await target.deliver(request(secretName, sourceVersion('db-password')));
    await target.deliver(request(secretName, sourceVersion('db-password')));
    await target.settle();
    const all = await core.listNamespacedEvent({ namespace: NS });
    const relays = all.items.filter((e) => e.reportingComponent === EVENT_REPORTING_COMPONENT);
    expect(relays.length).toBeGreaterThan(5);
    const text = JSON.stringify(all.items);
    expect(values.length).toBeGreaterThan(5);
    for (const value of values) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(Buffer.from(value).toString('base64'));
    }
  });

  it('a write whose rollout restart fails records a Warning RolloutRestartFailed Event naming the Deployment (no API-server text)', async () => {
    const target = targetOn(emulator, NS, { clock: steppingClock() });
    const secretName = name('api');
    const v1 = sourceVersion('api-token');
    values.push(v1.value);
    const missing = `${secretName}-gone`;
    const outcome = await target.deliver({
      ...request(secretName, v1),
      kubernetes: { type: 'Opaque', restartDeployments: [missing] },
    });
    expect(outcome).toMatchObject({ status: 'Created', restartFailed: [missing] });
    expect(outcome.message).toContain(`rollout restart failed for ${missing}`);
    await target.settle();

    const events = await eventsOf(secretName);
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'Created'],
      ['Warning', 'RolloutRestartFailed'],
    ]);
    expect(events[0]!.message).toBe(`Wrote source platform.vault.test/api-token version ${v1.facts.version} (key password).`);
    expect(events[1]!.message).toMatch(new RegExp(`^Rollout restart failed for ${missing}\\. Hint: .*kubectl rollout restart`));
    // The 404's text ("deployments.apps … not found") stays in the outcome and the log, not in a widely readable Event.
    expect(events[1]!.message).not.toMatch(/not found/i);
  });
  it('the Event is not on the delivery’s critical path: the delivery returns after its read and its write, the Event follows', async () => {
    const log = capturingLog();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const access = createClusterAccess({
      cluster: { name: emulator.cluster, server: emulator.server, caCert: emulator.caCertPem, auth: { type: 'tokenSecret', source: 'platform', secret: 'cluster-token' } },
      readSecretValue: async () => emulator.tokens.relay!,
    });
    // The namespace's real API, with Event calls held until the test opens the gate.
    const connect: KubernetesConnector = async () => {
      const kc = await access.kubeConfig();
      const api = sdkSecretsApi(kc.makeApiClient(CoreV1Api), kc.makeApiClient(AppsV1Api), NS);
      return {
        ...api,
        events: {
          createEvent: async (event) => {
            await gate;
            return api.events.createEvent(event);
          },
          bumpEvent: async (eventName, update) => {
            await gate;
            return api.events.bumpEvent(eventName, update);
          },
        },
      };
    };
    const target = new KubernetesTarget(connect, {
      targetId: `k8s-${NS}`,
      clusterName: emulator.cluster,
      namespace: NS,
      fingerprintKey: FINGERPRINT_KEY,
      writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
      log,
    });
    const secretName = name('fast');
    const before = emulator.counters();
    expect((await target.deliver(request(secretName, sourceVersion('db-password')))).status).toBe('Created');
    const returned = emulator.counters();
    const delta = (after: Record<string, number>, key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    expect({ get: delta(returned, 'get secrets'), create: delta(returned, 'create secrets'), events: delta(returned, 'create events') }).toEqual({ get: 1, create: 1, events: 0 });
    open();
    await target.settle();
    expect(delta(emulator.counters(), 'create events')).toBe(1);
    expect((await eventsOf(secretName)).map((e) => e.reason)).toEqual(['Created']);
    expect(log.lines).toEqual([]);
  });

  it('a foreign Secret costs one read and no write; its Warning Event follows the delivery', async () => {
    const log = capturingLog();
    const target = targetOn(emulator, NS, { log });
    const secretName = name('theirs');
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: secretName }, stringData: { password: 'theirs' } } });
    const before = emulator.counters();
    expect((await target.deliver(request(secretName, sourceVersion('db-password')))).status).toBe('FailedNotOwned');
    await target.settle();
    const after = emulator.counters();
    const delta = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    expect({ get: delta('get secrets'), writes: delta('create secrets') + delta('update secrets') + delta('patch secrets'), events: delta('create events') }).toEqual({
      get: 1,
      writes: 0,
      events: 1,
    });
    expect((await core.readNamespacedSecret({ name: secretName, namespace: NS })).data?.password).toBe(Buffer.from('theirs').toString('base64'));
    expect(log.lines).toEqual([]);
  });

  it('repeats that overlap (deliveries do not wait for their Events) still count up one Event in order', async () => {
    const target = targetOn(emulator, NS, { clock: steppingClock() });
    const secretName = name('overlap');
    await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: secretName }, stringData: { password: 'theirs' } } });
    const v = sourceVersion('db-password');
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => target.deliver(request(secretName, v))));
    expect(outcomes.map((o) => o.status)).toEqual(Array(4).fill('FailedNotOwned'));
    await target.settle();
    const events = await eventsOf(secretName);
    expect(events.map((e) => [e.reason, e.count])).toEqual([['FailedNotOwned', 4]]);
  });
});
