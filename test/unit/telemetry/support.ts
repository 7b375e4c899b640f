import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A pull reader: `collect()` on demand, as a Prometheus scrape does. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Recorded {
  /** Sum of a counter's points whose attributes include `attributes`. */
  counter(name: string, attributes?: Record<string, unknown>): Promise<number>;
  /** Count and sum of a histogram's points whose attributes include `attributes`. */
  histogram(name: string, attributes?: Record<string, unknown>): Promise<{ count: number; sum: number }>;
  /** Every attribute value of every recorded point and span, as text (for leak scans). */
  attributeText(): Promise<string>;
  spans(): ReadableSpan[];
  close(): Promise<void>;
}

/** Registers real SDK providers (meter with a pull reader, tracer with an in-memory exporter) as the global ones. */
export function recordTelemetry(): Recorded {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  metrics.disable();
  trace.disable();
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);

  const points = async (name: string, attributes: Record<string, unknown>) => {
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).filter((m) => m.descriptor.name === name);
    return all.flatMap((m) => m.dataPoints as DataPoint<unknown>[]).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  };
  return {
    async counter(name, attributes = {}) {
      return (await points(name, attributes)).reduce((sum, p) => sum + (p.value as number), 0);
    },
    async histogram(name, attributes = {}) {
      const found = (await points(name, attributes)).map((p) => p.value as Histogram);
      return { count: found.reduce((n, h) => n + h.count, 0), sum: found.reduce((n, h) => n + (h.sum ?? 0), 0) };
    },
    async attributeText() {
      const { resourceMetrics } = await reader.collect();
      const fromMetrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => (m.dataPoints as DataPoint<unknown>[]).map((p) => JSON.stringify(p.attributes))));
      const fromSpans = exporter.getFinishedSpans().map((s) => JSON.stringify(s.attributes));
      return [...fromMetrics, ...fromSpans].join('\n');
    },
    spans: () => exporter.getFinishedSpans(),
    async close() {
      metrics.disable();
      trace.disable();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}
