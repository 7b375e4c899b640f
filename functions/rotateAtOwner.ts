import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['rotateAtOwner']>[0];

/** Activity `rotateAtOwner`: a step of the dual-credential rotation (shared/rotation/protocol.ts). */
df.app.activity('rotateAtOwner', { handler: (input: unknown) => getActivities().rotateAtOwner(input as Input) });
