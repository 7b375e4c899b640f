import { startTelemetry } from '../shared/composition.js';

// Loaded once per worker process with the other function modules: with APPLICATIONINSIGHTS_CONNECTION_STRING set,
// metrics and spans go to Application Insights with the relay identity. Never fails the worker.
await startTelemetry();
