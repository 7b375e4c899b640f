// The naive baseline of bench/memory.ts: the smallest durable Functions app a user would write with the same two
// libraries (an HTTP starter, an orchestration, an activity, a timer), and nothing else. Plain JavaScript, so the
// tsx and the compiled runs load exactly the same module.
import { app } from '@azure/functions';
import * as df from 'durable-functions';

df.app.activity('bareDeliver', { handler: async (target) => ({ target, status: 'Updated' }) });

df.app.orchestration('bareRelay', function* (context) {
  const targets = context.df.getInput() ?? [];
  return yield context.df.Task.all(targets.map((target) => context.df.callActivity('bareDeliver', target)));
});

app.http('bareStart', {
  route: 'bare/start',
  methods: ['POST'],
  extraInputs: [df.input.durableClient()],
  handler: async (request, context) => {
    const client = df.getClient(context);
    const id = await client.startNew('bareRelay', { input: await request.json() });
    return client.createCheckStatusResponse(request, id);
  },
});

app.timer('bareTimer', { schedule: '0 0 0 1 1 *', handler: async () => undefined });
