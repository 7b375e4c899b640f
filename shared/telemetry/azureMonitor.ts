import type { TokenCredential } from '@azure/core-auth';
import { metrics, trace } from '@opentelemetry/api';

/** What the worker needs to send telemetry to Application Insights with its identity (local auth is disabled). */
export interface AzureMonitorSettings {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING` (names the ingestion endpoint; grants nothing by itself). */
  readonly connectionString: string;
  /** The relay identity; needs Monitoring Metrics Publisher on the Application Insights resource. */
  readonly credential: TokenCredential;
  /** PEM of a CA to trust for the ingestion endpoint instead of the public ones (`RELAY_TRUSTED_CA_PATH`: emulators). */
  readonly trustedCa?: string;
  /** How often metrics are sent (default 60 s, the distro's; `OTEL_METRIC_EXPORT_INTERVAL`). */
  readonly metricExportIntervalInMs?: number;
}

/** The started exporters. */
export interface AzureMonitorTelemetry {
  /** Sends what is recorded so far (metrics and ended spans) now. */
  forceFlush(): Promise<void>;
  /** Sends what is left and unregisters the providers. */
  shutdown(): Promise<void>;
}

const DEFAULT_METRIC_EXPORT_INTERVAL_IN_MS = 60_000;

let started: Promise<AzureMonitorTelemetry> | undefined;

/**
 * Registers a meter provider and a tracer provider that export to Application Insights as this process's global
 * ones, once per process (repeated calls return the first start). What the Azure Monitor distro did for the relay,
 * with its exporter package alone: the relay's instruments every minute (counters as deltas), its spans in batches,
 * and the distro's resource (cloud role and instance from the Functions environment). Every span is sent: the
 * distro's default sampler (5 spans per second) cut a fan-out's trace to a few of its deliveries, and without
 * auto-instrumentation a relay sends one span per delivery attempt (`OTEL_TRACES_SAMPLER` still applies). No
 * auto-instrumentation: the Functions host records invocations and their logs.
 * The exporter and SDK modules are imported only here, so processes without Application Insights (the local
 * stack, tests, the CLI) never load them.
 */
export function startAzureMonitor(settings: AzureMonitorSettings): Promise<AzureMonitorTelemetry> {
  started ??= (async () => {
    const [exporter, sdkMetrics, sdkTrace, resources, azureResources] = await Promise.all([
      import('@azure/monitor-opentelemetry-exporter'),
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/resource-detector-azure'),
    ]);
    const exporterOptions = {
      connectionString: settings.connectionString,
      credential: settings.credential,
      ...(settings.trustedCa ? { tlsOptions: { ca: settings.trustedCa } } : {}),
    };
    // The distro's detectors that apply to a Function App (the AKS, Container Apps and VM ones do not; the VM one
    // probes the instance metadata endpoint).
    const resource = resources.defaultResource().merge(
      resources.detectResources({
        detectors: [
          resources.envDetector,
          resources.hostDetector,
          resources.osDetector,
          azureResources.azureAppServiceDetector,
          azureResources.azureFunctionsDetector,
        ],
      }),
    );
    const meterProvider = new sdkMetrics.MeterProvider({
      resource,
      readers: [
        new sdkMetrics.PeriodicExportingMetricReader({
          exporter: new exporter.AzureMonitorMetricExporter(exporterOptions),
          exportIntervalMillis: settings.metricExportIntervalInMs ?? DEFAULT_METRIC_EXPORT_INTERVAL_IN_MS,
        }),
      ],
    });
    const tracerProvider = new sdkTrace.BasicTracerProvider({
      resource,
      spanProcessors: [new sdkTrace.BatchSpanProcessor(new exporter.AzureMonitorTraceExporter(exporterOptions))],
    });
    metrics.disable();
    trace.disable();
    metrics.setGlobalMeterProvider(meterProvider);
    trace.setGlobalTracerProvider(tracerProvider);
    return {
      async forceFlush() {
        await Promise.all([meterProvider.forceFlush(), tracerProvider.forceFlush()]);
      },
      async shutdown() {
        metrics.disable();
        trace.disable();
        await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
        started = undefined;
      },
    };
  })();
  return started;
}
