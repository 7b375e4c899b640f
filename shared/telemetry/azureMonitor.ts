import type { TokenCredential } from '@azure/core-auth';

/** What the worker needs to send telemetry to Application Insights with its identity (local auth is disabled). */
export interface AzureMonitorSettings {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING` (names the ingestion endpoint; grants nothing by itself). */
  readonly connectionString: string;
  /** The relay identity; needs Monitoring Metrics Publisher on the Application Insights resource. */
  readonly credential: TokenCredential;
}

let started: Promise<void> | undefined;

/**
 * Registers the Azure Monitor OpenTelemetry distro as this process's meter and tracer provider, once per process
 * (repeated calls return the first start). The distro is imported only here, so processes without Application
 * Insights (the local stack, tests, the CLI) never load it.
 */
export function startAzureMonitor(settings: AzureMonitorSettings): Promise<void> {
  started ??= (async () => {
    const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString: settings.connectionString, credential: settings.credential },
      // Live metrics would open a second channel; the relay's own instruments and the standard metrics suffice.
      enableLiveMetrics: false,
    });
  })();
  return started;
}
