import { metrics, ValueType, type Counter, type Histogram, type MeterProvider } from '@opentelemetry/api';

/** The relay's instruments, by OpenTelemetry name (Application Insights: `customMetrics.name`). */
export const METRIC_NAMES = {
  deliveries: 'secret_relay.deliveries',
  deliveryDuration: 'secret_relay.delivery.duration',
  eventToConverged: 'secret_relay.event_to_converged',
  drift: 'secret_relay.drift',
  rotations: 'secret_relay.rotations',
  throttled: 'secret_relay.throttled',
  reconciliations: 'secret_relay.reconciliations',
} as const;

/** The meter every instrument belongs to. */
export const METER_NAME = 'secret-relay';

interface Instruments {
  readonly deliveries: Counter;
  readonly deliveryDuration: Histogram;
  readonly eventToConverged: Histogram;
  readonly drift: Counter;
  readonly rotations: Counter;
  readonly throttled: Counter;
  readonly reconciliations: Counter;
}

let cached: { readonly provider: MeterProvider; readonly instruments: Instruments } | undefined;

/**
 * The instruments over the process's global meter provider. Created lazily and again when the provider changes:
 * `@opentelemetry/api` has no proxy meter, so instruments made before the provider is registered (Azure Monitor in
 * the worker, the Prometheus reader of the local stack) would stay no-ops.
 */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (cached?.provider === provider) return cached.instruments;
  const meter = provider.getMeter(METER_NAME);
  const created: Instruments = {
    deliveries: meter.createCounter(METRIC_NAMES.deliveries, {
      description: 'Deliveries of a source version to one target placement, by named status',
      valueType: ValueType.INT,
    }),
    deliveryDuration: meter.createHistogram(METRIC_NAMES.deliveryDuration, {
      description: 'Time one delivery attempt took (read source, observe and write the target, audit)',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] },
    }),
    eventToConverged: meter.createHistogram(METRIC_NAMES.eventToConverged, {
      description: 'Time from the source version being created to the last delivery of its relay being done',
      unit: 's',
      advice: { explicitBucketBoundaries: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600] },
    }),
    drift: meter.createCounter(METRIC_NAMES.drift, {
      description: 'Reconciliation findings, by drift kind (check-failed: the target could not be checked)',
      valueType: ValueType.INT,
    }),
    rotations: meter.createCounter(METRIC_NAMES.rotations, {
      description: 'Finished credential rotations, by status',
      valueType: ValueType.INT,
    }),
    throttled: meter.createCounter(METRIC_NAMES.throttled, {
      description: 'Throttled calls (HTTP 429) waited out on the backoff ladder, by endpoint host',
      valueType: ValueType.INT,
    }),
    reconciliations: meter.createCounter(METRIC_NAMES.reconciliations, {
      description: 'Completed reconciliation runs (their drift report was written), by outcome',
      valueType: ValueType.INT,
    }),
  };
  cached = { provider, instruments: created };
  return created;
}
