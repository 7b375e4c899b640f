import * as df from 'durable-functions';
import { reconcile } from '../shared/orchestrations/index.js';

df.app.orchestration('reconcile', reconcile);
