/**
 * Runs `fn` with an abort signal that fires after `limitInMs`, and rejects with a `TimeoutError` then, whatever `fn`
 * does (a call that ignores its signal cannot hold a check or a listing past its limit). `controller` lets a caller
 * share the abort with work it started itself.
 */
export async function withTimeLimit<T>(
  limitInMs: number,
  what: string,
  fn: (abortSignal: AbortSignal) => Promise<T>,
  controller: AbortController = new AbortController(),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`${what} took longer than ${limitInMs} ms`);
      error.name = 'TimeoutError';
      controller.abort(error);
      reject(error);
    }, limitInMs);
  });
  try {
    return await Promise.race([fn(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
