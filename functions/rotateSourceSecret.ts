import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('rotateSourceSecret', { handler: (input: never) => getActivities().rotateSourceSecret(input) });
