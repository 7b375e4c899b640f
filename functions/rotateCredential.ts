import * as df from 'durable-functions';
import { rotateCredential } from '../shared/orchestrations/index.js';

df.app.orchestration('rotateCredential', rotateCredential);
