import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['planRotation']>[0];

/** Activity `planRotation`: a step of the dual-credential rotation (shared/rotation/protocol.ts). */
df.app.activity('planRotation', { handler: (input: unknown) => getActivities().planRotation(input as Input) });
