import * as df from 'durable-functions';
import { relaySecretVersion } from '../shared/orchestrations/index.js';

df.app.orchestration('relaySecretVersion', relaySecretVersion);
