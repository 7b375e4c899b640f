import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['rotateSourceSecret']>[0];

/** Activity `rotateSourceSecret`: see `createActivities` in shared/activities.ts. */
df.app.activity('rotateSourceSecret', { handler: (input: unknown) => getActivities().rotateSourceSecret(input as Input) });
