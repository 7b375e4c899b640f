import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('writeDriftReport', { handler: (input: never) => getActivities().writeDriftReport(input) });
