import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

/** What the hooks saw, in order (read by hooks.test.ts). */
export const seen: string[] = [];

app.hook.preInvocation((context) => {
  const name = context.invocationContext.functionName;
  context.hookData['startedBy'] = 'pre';
  seen.push(`pre:${name}`);
  if (name === 'wrapped') {
    const original = context.functionHandler as (...args: unknown[]) => unknown;
    context.functionHandler = async (...args: unknown[]) => {
      const response = (await original(...args)) as HttpResponseInit;
      return { ...response, body: `wrapped(${String(response.body)})` };
    };
  }
});

app.hook.postInvocation((context) => {
  const name = context.invocationContext.functionName;
  seen.push(`post:${name}:${String(context.hookData['startedBy'])}:${context.error ? 'error' : 'ok'}`);
  if (name === 'rescued' && context.error) {
    context.error = null;
    context.result = { status: 200, body: 'rescued' };
  }
});

app.hook.preInvocation((context) => {
  seen.push(`pre2:${context.invocationContext.functionName}`);
  if (context.invocationContext.functionName === 'refused') throw new Error('refused by a preInvocation hook');
});

const hello = async (request: HttpRequest): Promise<HttpResponseInit> => ({ body: `hello ${request.query.get('n') ?? ''}` });
const boom = async (): Promise<HttpResponseInit> => {
  throw new Error('boom');
};
app.http('plain', { route: 'plain', authLevel: 'anonymous', handler: hello });
app.http('wrapped', { route: 'wrapped', authLevel: 'anonymous', handler: hello });
app.http('failing', { route: 'failing', authLevel: 'anonymous', handler: boom });
app.http('rescued', { route: 'rescued', authLevel: 'anonymous', handler: boom });
app.http('refused', { route: 'refused', authLevel: 'anonymous', handler: hello });
