import { app } from '@azure/functions';
import { refreshConfig } from '../shared/composition.js';

/**
 * Before every invocation, reload the relay config blob when its refresh interval has passed (a conditional read),
 * so an event handled after `secret-relay config push` uses the pushed config. No-op with a config file.
 */
app.hook.preInvocation(async () => {
  await refreshConfig();
});
