import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['retireRotationSlot']>[0];

/** Activity `retireRotationSlot`: a step of the dual-credential rotation (shared/rotation/protocol.ts). */
df.app.activity('retireRotationSlot', { handler: (input: unknown) => getActivities().retireRotationSlot(input as Input) });
