import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

/** Activity `listReconcileItems`: see `createActivities` in shared/activities.ts. */
df.app.activity('listReconcileItems', { handler: () => getActivities().listReconcileItems() });
