import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['writeDriftReport']>[0];

/** Activity `writeDriftReport`: see `createActivities` in shared/activities.ts. */
df.app.activity('writeDriftReport', { handler: (input: unknown) => getActivities().writeDriftReport(input as Input) });
