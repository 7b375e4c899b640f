import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('checkDrift', { handler: (input: never) => getActivities().checkDrift(input) });
