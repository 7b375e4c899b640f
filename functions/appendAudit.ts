import * as df from 'durable-functions';
import { getActivities } from '../shared/composition.js';

df.app.activity('appendAudit', { handler: (input: never) => getActivities().appendAudit(input) });
