import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/** The local stack's metrics endpoint: the relay's instruments in Prometheus text format. */
export interface LocalMetrics {
  /** `http://127.0.0.1:<port>/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Registers a meter provider with a Prometheus reader as this process's global one (the local host runs the app's
 * activities and orchestrations in this process) and serves it on a free port (`GET /metrics`; anything else 404).
 * The Application Insights side of production is replaced by this scrape endpoint only; the instruments are the same.
 */
export async function startLocalMetrics(options: { hostname?: string } = {}): Promise<LocalMetrics> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  // One global provider per process: a stack started again in the same process (tests) replaces the last one.
  metrics.disable();
  metrics.setGlobalMeterProvider(provider);
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      exporter.getMetricsRequestHandler(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
  });
  const hostname = options.hostname ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, hostname, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${hostname}:${port}/metrics`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (metrics.getMeterProvider() === provider) metrics.disable();
      await provider.shutdown();
    },
  };
}
