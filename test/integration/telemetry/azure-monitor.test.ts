import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelemetry } from '../../../shared/composition.js';
import { METRIC_NAMES, observeDelivery, otelTelemetry, relayTraceContext, type AzureMonitorTelemetry } from '../../../shared/telemetry/index.js';
import { decodeLocalToken, startTokenEndpoint, type TokenEndpoint } from '../../../local/identity/index.js';
import { INSTRUMENTATION_KEY, startIngestionEndpoint, type Envelope, type IngestionEndpoint } from './ingestion.js';

// What the worker sends to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, as the worker
// starts it (`startTelemetry` from functions/telemetry.ts): the real Azure Monitor exporters, the real managed
// identity credential against the local token endpoint, and a real HTTPS ingestion endpoint that records the
// envelopes. If telemetry stops being exported when configured, this fails.

const VERSION = '0123456789abcdef0123456789abcdef';
const RELAY_ID = `relay:platform:db-password:${VERSION}`;
const CLIENT_ID = '11111111-2222-4333-8444-555555555555';

let ingestion: IngestionEndpoint;
let identity: TokenEndpoint;
let telemetry: AzureMonitorTelemetry | undefined;
const savedEnv = { ...process.env };

beforeAll(async () => {
  ingestion = await startIngestionEndpoint();
  identity = await startTokenEndpoint();
  // The Functions environment the resource detectors read (Flex Consumption), and the identity endpoint.
  Object.assign(process.env, identity.env, {
    WEBSITE_SITE_NAME: 'func-relay-test',
    WEBSITE_INSTANCE_ID: 'instance-7',
    WEBSITE_SKU: 'FlexConsumption',
    FUNCTIONS_WORKER_RUNTIME: 'node',
    // The exporter's own usage reports go to Microsoft's endpoints: not from a test.
    APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
  });
  telemetry = await startTelemetry({
    APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
    AZURE_CLIENT_ID: CLIENT_ID,
    RELAY_TRUSTED_CA_PATH: ingestion.caCertPath,
  });
}, 60_000);

afterAll(async () => {
  await telemetry?.shutdown();
  await ingestion?.close();
  await identity?.close();
  process.env = savedEnv;
});

describe('telemetry with APPLICATIONINSIGHTS_CONNECTION_STRING', () => {
  let envelopes: Envelope[];

  beforeAll(async () => {
    expect(telemetry).toBeDefined();
    const deliver = observeDelivery(otelTelemetry, async (input: { ref: { sourceId: string; name: string; version: string }; delivery: { deliveryId: string; targetId: string; kind: string }; cause: { trigger: string; eventId?: string }; instanceId?: string }) => {
      return { status: input.delivery.targetId === 'contoso' ? 'Updated' : 'FailedAccessDenied', kind: input.delivery.kind, targetId: input.delivery.targetId, reason: 'older-version' };
    });
    const ref = { sourceId: 'platform', name: 'db-password', version: VERSION };
    const cause = { trigger: 'event', eventId: 'evt-42' };
    await deliver({ ref, delivery: { deliveryId: 'db/contoso/db-password', targetId: 'contoso', kind: 'keyVault' }, cause, instanceId: RELAY_ID });
    await deliver({ ref, delivery: { deliveryId: 'db/fabrikam/db-password', targetId: 'fabrikam', kind: 'keyVault' }, cause, instanceId: RELAY_ID });
    otelTelemetry.reconciliation('clean');
    otelTelemetry.relaySpan(RELAY_ID, new Date(Date.now() - 2_000), new Date(), { 'secret_relay.relay_id': RELAY_ID, 'secret_relay.planned': 2, 'secret_relay.failed': 1 }, true);
    await telemetry!.forceFlush();
    envelopes = ingestion.envelopes();
  }, 60_000);

  it('sends the relay\'s metrics with their attributes, authenticated as the relay identity', () => {
    const metric = (name: string) =>
      envelopes
        .filter((e) => e.data.baseType === 'MetricData')
        .flatMap((e) => (e.data.baseData['metrics'] as { name: string; value: number; count?: number }[]).map((m) => ({ ...m, properties: e.data.baseData.properties ?? {} })))
        .filter((m) => m.name === name);
    const deliveries = metric(METRIC_NAMES.deliveries);
    expect(deliveries.map((m) => [m.properties['status'], m.properties['target_kind'], m.properties['target_id'], m.value]).sort()).toEqual([
      ['FailedAccessDenied', 'keyVault', 'fabrikam', 1],
      ['Updated', 'keyVault', 'contoso', 1],
    ]);
    expect(metric(METRIC_NAMES.deliveryDuration).reduce((n, m) => n + (m.count ?? 0), 0)).toBe(2);
    expect(metric(METRIC_NAMES.reconciliations).map((m) => [m.properties['outcome'], m.value])).toEqual([['clean', 1]]);

    expect(ingestion.requests.every((r) => r.path.endsWith('/v2.1/track'))).toBe(true);
    expect(new Set(envelopes.map((e) => e.iKey))).toEqual(new Set([INSTRUMENTATION_KEY]));
    // Local auth is disabled on the resource: every request carries the relay identity's token for Azure Monitor.
    for (const request of ingestion.requests) {
      const claims = decodeLocalToken(request.authorization?.replace(/^Bearer /, '') ?? '');
      expect(claims?.appid).toBe(CLIENT_ID);
      expect(claims?.aud).toMatch(/^https:\/\/monitor\.azure\.com/);
    }
  });

  it('sends each delivery span and the relay span in the relay\'s trace, with the event id and the named status', () => {
    const spans = envelopes.filter((e) => e.data.baseType === 'RemoteDependencyData' || e.data.baseType === 'RequestData');
    expect(spans.map((e) => e.data.baseData['name']).sort()).toEqual(['deliver', 'deliver', 'relay']);
    expect(new Set(spans.map((e) => e.tags['ai.operation.id']))).toEqual(new Set([relayTraceContext(RELAY_ID).traceId]));
    const delivered = spans.filter((e) => e.data.baseData['name'] === 'deliver').map((e) => e.data.baseData.properties ?? {});
    expect(delivered.map((p) => [p['secret_relay.target_id'], p['secret_relay.status'], p['secret_relay.event_id']]).sort()).toEqual([
      ['contoso', 'Updated', 'evt-42'],
      ['fabrikam', 'FailedAccessDenied', 'evt-42'],
    ]);
    const failed = spans.find((e) => e.data.baseData.properties?.['secret_relay.target_id'] === 'fabrikam');
    expect(failed?.data.baseData['success']).toBe(false);
  });

  it('names the Function App as the cloud role, from the Functions environment', () => {
    expect(envelopes.length).toBeGreaterThan(0);
    for (const envelope of envelopes) {
      expect(envelope.tags['ai.cloud.role']).toBe('func-relay-test');
      expect(envelope.tags['ai.cloud.roleInstance']).toBe(hostname());
    }
  });
});

describe('telemetry without APPLICATIONINSIGHTS_CONNECTION_STRING', () => {
  it('starts nothing', async () => {
    expect(await startTelemetry({ AZURE_CLIENT_ID: CLIENT_ID })).toBeUndefined();
    expect(await startTelemetry({ APPLICATIONINSIGHTS_CONNECTION_STRING: '  ' })).toBeUndefined();
  });
});
