import { app } from '@azure/functions';

// With HOLD_ORCHESTRATIONS=1 no orchestrator episode ever finishes (the preInvocation hook never settles), so a
// started instance stays where its start left it: durable in the host's start log, with no journal of its own yet.
if (process.env['HOLD_ORCHESTRATIONS'] === '1') {
  app.hook.preInvocation(async (context) => {
    if (context.invocationContext.options.trigger.type === 'orchestrationTrigger') await new Promise<never>(() => undefined);
  });
}
