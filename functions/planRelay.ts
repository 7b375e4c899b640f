import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['planRelay']>[0];

/** Activity `planRelay`: see `createActivities` in shared/activities.ts. */
df.app.activity('planRelay', { handler: (input: unknown) => getActivities().planRelay(input as Input) });
