import * as df from 'durable-functions';
import { relaySecretVersion } from '../shared/orchestrations/index.js';
import { observeRelay, otelTelemetry } from '../shared/telemetry/index.js';

df.app.orchestration('relaySecretVersion', observeRelay(otelTelemetry, relaySecretVersion));
