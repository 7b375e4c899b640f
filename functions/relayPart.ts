import * as df from 'durable-functions';
import { relayPart } from '../shared/orchestrations/index.js';

df.app.orchestration('relayPart', relayPart);
