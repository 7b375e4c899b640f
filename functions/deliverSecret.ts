import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('deliverSecret', { handler: (input: never) => getActivities().deliverSecret(input) });
