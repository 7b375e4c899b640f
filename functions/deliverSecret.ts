import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['deliverSecret']>[0];

/** Activity `deliverSecret`: see `createActivities` in shared/activities.ts. */
df.app.activity('deliverSecret', { handler: (input: unknown) => getActivities().deliverSecret(input as Input) });
