/**
 * Classifies Kubernetes API failures once, at the edge: 401/403 → FailedAccessDenied, 400/404/422 → FailedValidation
 * (final), 409 → conflict (the caller re-reads and retries), 429 → throttled (Retry-After), 5xx and network →
 * `TransientTargetError`. Messages carry the API server's Status message (which never contains Secret data) and never
 * the request.
 */
import type { DeliveryStatus } from '../../domain/statuses.js';
import { retryAfterInMsFrom, type RetryHint } from '../backoff.js';
import { TransientTargetError } from '../contract.js';

export const KUBERNETES_ERROR_REASONS = [
  'access-denied',
  'unauthenticated',
  'credential-unavailable',
  'not-found',
  'namespace-missing',
  'rejected-by-target',
  'conflict',
  'throttled',
  'unavailable',
  'invalid',
] as const;
export type KubernetesErrorReason = (typeof KUBERNETES_ERROR_REASONS)[number];

/** A final failure with its status and constant reason; its message never contains a value. */
export class KubernetesTargetFailure extends Error {
  override readonly name = 'KubernetesTargetFailure';
  constructor(
    message: string,
    readonly status: Extract<DeliveryStatus, 'FailedAccessDenied' | 'FailedValidation' | 'FailedNotOwned'>,
    readonly reason: KubernetesErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What the relay reads from a failed call: HTTP status, Status reason and message, retry hint. */
export interface KubernetesErrorInfo {
  /** Undefined for network failures. */
  readonly statusCode?: number;
  /** `Status.reason`, e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Invalid`. */
  readonly reason?: string;
  /** `Status.message`. */
  readonly message?: string;
  readonly retryAfterInMs?: number;
}

/** Reads an `ApiException` (code, body, headers) from `@kubernetes/client-node`. */
export function kubernetesErrorInfo(error: unknown): KubernetesErrorInfo {
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { code?: unknown; body?: unknown; headers?: Record<string, string> };
  if (typeof e.code !== 'number') return {};
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = undefined;
    }
  }
  const status = (body ?? {}) as { reason?: unknown; message?: unknown };
  const headers = e.headers ?? {};
  const retryAfterInMs = retryAfterInMsFrom((name) => headers[name] ?? headers[name.toLowerCase()]);
  return {
    statusCode: e.code,
    ...(typeof status.reason === 'string' ? { reason: status.reason } : {}),
    ...(typeof status.message === 'string' ? { message: status.message } : {}),
    ...(retryAfterInMs !== undefined ? { retryAfterInMs } : {}),
  };
}

export function isNotFound(error: unknown): boolean {
  return kubernetesErrorInfo(error).statusCode === 404;
}

/** 409, either `Conflict` (stale resourceVersion) or `AlreadyExists` (a create raced another). */
export function isConflict(error: unknown): boolean {
  return kubernetesErrorInfo(error).statusCode === 409;
}

/** Retry inside the call only for 429, honouring Retry-After. */
export function kubernetesRetryHint(error: unknown): RetryHint | undefined {
  const info = kubernetesErrorInfo(error);
  if (info.statusCode !== 429) return undefined;
  return info.retryAfterInMs !== undefined ? { retryAfterInMs: info.retryAfterInMs } : {};
}

function detail(info: KubernetesErrorInfo): string {
  return info.message ? `: ${info.message.slice(0, 300)}` : '';
}

/** Turns any failure into a final `KubernetesTargetFailure` or a `TransientTargetError`. */
export function classifyKubernetesError(
  error: unknown,
  context: { operation: string; location: string },
): KubernetesTargetFailure | TransientTargetError {
  if (error instanceof KubernetesTargetFailure || error instanceof TransientTargetError) return error;
  const info = kubernetesErrorInfo(error);
  const where = `${context.operation} on ${context.location}`;
  const code = info.statusCode;
  if (code === undefined) {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === 'AbortError') throw error;
    return new TransientTargetError(`${where}: network failure`, 'FailedUnavailable', undefined, { cause: error });
  }
  if (code === 401) return new KubernetesTargetFailure(`${where}: 401 Unauthorized (token rejected or expired)`, 'FailedAccessDenied', 'unauthenticated');
  if (code === 403) return new KubernetesTargetFailure(`${where}: 403${detail(info)}`, 'FailedAccessDenied', 'access-denied');
  if (code === 404) return new KubernetesTargetFailure(`${where}: 404${detail(info)}`, 'FailedValidation', 'not-found');
  if (code === 409) return new TransientTargetError(`${where}: 409 ${info.reason ?? 'Conflict'} kept recurring`, 'FailedUnavailable');
  if (code === 429) return new TransientTargetError(`${where}: 429 throttled`, 'FailedThrottled', info.retryAfterInMs);
  if (code >= 500) return new TransientTargetError(`${where}: ${code}${detail(info)}`, 'FailedUnavailable', info.retryAfterInMs);
  return new KubernetesTargetFailure(`${where}: ${code} ${info.reason ?? ''}${detail(info)}`.trimEnd(), 'FailedValidation', 'rejected-by-target');
}
