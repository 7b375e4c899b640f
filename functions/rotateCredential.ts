import * as df from 'durable-functions';
import { rotateCredential } from '../shared/orchestrations/index.js';
import { observeRotation, otelTelemetry } from '../shared/telemetry/index.js';

// Counted by final status: Rotated, FailedDeliveries (the relay of the new version failed somewhere), or the
// status that stopped the rotation before a version was written.
df.app.orchestration(
  'rotateCredential',
  observeRotation(otelTelemetry, rotateCredential, (output) => ('relay' in output ? (output.ok ? 'Rotated' : 'FailedDeliveries') : output.status)),
);
