import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['checkDrift']>[0];

/** Activity `checkDrift`: see `createActivities` in shared/activities.ts. */
df.app.activity('checkDrift', { handler: (input: unknown) => getActivities().checkDrift(input as Input) });
