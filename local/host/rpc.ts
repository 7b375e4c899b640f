import { randomUUID } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { Registration } from './coreStub.js';
import { getCoreRegistry } from './coreStub.js';
import type { LogSink, LogLevel } from './log.js';

/** The worker's typed data union (the subset the host produces and consumes). */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

/** HTTP data as the Functions host sends it to the worker and receives it back. */
export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  query?: Record<string, string> | null;
  statusCode?: string | null;
  cookies?: RpcHttpCookie[] | null;
}

/** A cookie returned by an HTTP function. */
export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | number | null;
  maxAge?: { value?: number | null } | null;
}

/** A binding as registered (`metadata.bindings[name]`). */
export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [property: string]: unknown;
}

/** Function metadata as `@azure/functions` registers it. */
export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

interface InvocationArguments {
  context: InvocationContext;
  inputs: unknown[];
}

interface InvocationModel {
  getArguments(): Promise<InvocationArguments>;
  invokeFunction(context: InvocationContext, inputs: unknown[], handler: (...args: unknown[]) => unknown): Promise<unknown>;
  getResponse(context: InvocationContext, result: unknown): Promise<{ returnValue?: RpcTypedData | null }>;
}

/** The programming model `@azure/functions` installs through `setProgrammingModel`. */
export interface ProgrammingModel {
  getInvocationModel(coreContext: unknown): InvocationModel;
}

/** What the host sends for one invocation (the worker's `InvocationRequest`, trimmed). */
export interface InvocationRequest {
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata?: Record<string, RpcTypedData>;
}

/** The converted result of one invocation. */
export interface InvocationResult {
  invocationId: string;
  returnValue: RpcTypedData | null | undefined;
  /** The handler's raw return value (before conversion). */
  result: unknown;
  context: InvocationContext;
}

const RPC_LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  information: 'information',
  warning: 'warning',
  error: 'error',
  critical: 'critical',
  none: 'none',
};

/**
 * Invokes a registered function the way the Node worker does: the `@azure/functions` programming model converts the
 * RPC input data to handler arguments (HttpRequest, camel-cased timer, parsed JSON, extra inputs), runs the handler
 * and converts the return value. Handler errors are rethrown unchanged.
 */
export async function invokeRegistration(
  registration: Registration,
  request: InvocationRequest,
  options: { log: LogSink; invocationId?: string },
): Promise<InvocationResult> {
  const model = getCoreRegistry().programmingModel;
  if (!model) throw new Error('No programming model was registered: did the app import @azure/functions?');
  const invocationId = options.invocationId ?? randomUUID();
  const functionName = registration.metadata.name;
  const coreContext = {
    invocationId,
    request: { invocationId, functionId: functionName, ...request },
    metadata: registration.metadata,
    state: 'invocation',
    log(level: string, category: string, message: string): void {
      options.log({
        timestamp: new Date().toISOString(),
        level: RPC_LEVELS[level] ?? 'information',
        category: category === 'system' ? 'system' : 'user',
        functionName,
        invocationId,
        message,
      });
    },
  };
  const invocation = model.getInvocationModel(coreContext);
  const { context, inputs } = await invocation.getArguments();
  // App hooks run as the Node worker's InvocationHandler runs them: preInvocation hooks may replace the inputs and
  // the callback, postInvocation hooks see (and may replace) the result or the error; a hook that throws fails the
  // invocation. hookData is per invocation, appHookData per app.
  const hookData: Record<string, unknown> = {};
  const appHookData = getCoreRegistry().appHookData;
  const pre = {
    get hookData() {
      return hookData;
    },
    get appHookData() {
      return appHookData;
    },
    get invocationContext() {
      return context;
    },
    functionCallback: registration.callback,
    inputs,
  };
  await executeHooks('preInvocation', pre);
  const post = {
    get hookData() {
      return hookData;
    },
    get appHookData() {
      return appHookData;
    },
    get invocationContext() {
      return context;
    },
    inputs: pre.inputs,
    result: null as unknown,
    error: null as unknown,
  };
  try {
    post.result = await invocation.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (error) {
    post.error = error;
  }
  await executeHooks('postInvocation', post);
  if (post.error !== null && post.error !== undefined) throw post.error;
  const response = await invocation.getResponse(context, post.result);
  return { invocationId, returnValue: response.returnValue, result: post.result, context };
}

/** Runs the app's registered hooks of one kind in registration order, each awaited (as the worker's executeHooks). */
async function executeHooks(hookName: 'preInvocation' | 'postInvocation', hookContext: object): Promise<void> {
  for (const callback of [...(getCoreRegistry().hooks.get(hookName) ?? [])]) {
    await (callback as (context: object) => unknown)(hookContext);
  }
}
