import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('planRelay', { handler: (input: never) => getActivities().planRelay(input) });
