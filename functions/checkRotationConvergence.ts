import * as df from 'durable-functions';
import type { Activities } from '../shared/activities.js';
import { getActivities } from '../shared/composition.js';

type Input = Parameters<Activities['checkRotationConvergence']>[0];

/** Activity `checkRotationConvergence`: a step of the dual-credential rotation (shared/rotation/protocol.ts). */
df.app.activity('checkRotationConvergence', { handler: (input: unknown) => getActivities().checkRotationConvergence(input as Input) });
