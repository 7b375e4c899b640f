export { METER_NAME, METRIC_NAMES } from './metrics.js';
export { TRACER_NAME, relayIdOf, relayTraceContext, type SpanOutcome } from './tracing.js';
export { otelTelemetry, type RelayTelemetry } from './port.js';
export { observeDelivery, observeDriftCheck, observeReconcileReport, observeRelay, observeRotation, statusOfError } from './observe.js';
export { startAzureMonitor, type AzureMonitorSettings, type AzureMonitorTelemetry } from './azureMonitor.js';
