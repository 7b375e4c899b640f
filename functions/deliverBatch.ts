import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['deliverBatch']>[0];

/** Activity `deliverBatch`: see `createActivities` in shared/activities.ts. */
df.app.activity('deliverBatch', { handler: (input: unknown) => getActivities().deliverBatch(input as Input) });
