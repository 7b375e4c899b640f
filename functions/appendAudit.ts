import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['appendAudit']>[0];

/** Activity `appendAudit`: see `createActivities` in shared/activities.ts. */
df.app.activity('appendAudit', { handler: (input: unknown) => getActivities().appendAudit(input as Input) });
