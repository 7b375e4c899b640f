import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('listReconcileItems', { handler: (input: never) => getActivities().listReconcileItems(input) });
