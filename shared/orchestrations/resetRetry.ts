/** Runtime statuses in which the extension refuses a start of the same instance id. */
export const ACTIVE_RUNTIME_STATUSES: ReadonlySet<string> = new Set(['Pending', 'Running', 'ContinuedAsNew']);

/**
 * Runs a durable client call, and once more when its connection was reset: a keep-alive connection the extension's
 * listener closed just as the client reused it (the request never reached it) is retried on a fresh one.
 */
export async function onceMoreIfReset<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
    return call();
  }
}
