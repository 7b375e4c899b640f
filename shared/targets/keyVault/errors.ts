import type { DeliveryStatus } from '../../domain/statuses.js';
import { retryAfterInMsFrom, type RetryHint } from '../backoff.js';
import { TransientTargetError } from '../contract.js';

/** Constant reasons for outcomes that come from an error rather than from the delivery decision. */
export const ERROR_REASONS = [
  'access-denied',
  'unauthenticated',
  'throttled',
  'unavailable',
  'busy',
  'conflict',
  'rejected-by-target',
  'invalid',
  'source-missing',
  'source-disabled',
] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];

/** What the relay needs to know about a failed Key Vault call, read from a `RestError` without its message. */
export interface KeyVaultErrorInfo {
  /** HTTP status; undefined for network failures. */
  readonly statusCode?: number;
  /** `error.code` of the body, or the Node error code for network failures. */
  readonly code?: string;
  /** `error.innererror.code` of the body, e.g. `ForbiddenByRbac`, `ObjectIsDeletedButRecoverable`. */
  readonly innerCode?: string;
  readonly retryAfterInMs?: number;
}

/** A final (non-retryable) failure with its status, already classified. Its message never contains a value. */
export class TargetFailure extends Error {
  override readonly name = 'TargetFailure';
  constructor(
    message: string,
    readonly status: Exclude<DeliveryStatus, 'Created' | 'Updated' | 'UpToDate' | 'Recovered' | 'Adopted' | 'SkippedNewerPresent'>,
    readonly reason: ErrorReason,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface RestErrorLike {
  statusCode?: number;
  code?: string;
  details?: unknown;
  response?: { headers?: { get(name: string): string | undefined } };
}

/** Reads status, codes and retry hint from an SDK error; never reads the message or the request. */
export function keyVaultErrorInfo(error: unknown): KeyVaultErrorInfo {
  if (typeof error !== 'object' || error === null) return {};
  const e = error as RestErrorLike;
  const details = e.details as { error?: { code?: unknown; innerError?: { code?: unknown }; innererror?: { code?: unknown } } } | undefined;
  const inner = details?.error?.innerError?.code ?? details?.error?.innererror?.code;
  const headers = e.response?.headers;
  const retryAfterInMs = headers ? retryAfterInMsFrom((name) => headers.get(name) ?? undefined) : undefined;
  return {
    ...(typeof e.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof inner === 'string' ? { innerCode: inner } : {}),
    ...(retryAfterInMs !== undefined ? { retryAfterInMs } : {}),
  };
}

export function isNotFound(error: unknown): boolean {
  return keyVaultErrorInfo(error).statusCode === 404;
}

function hasCode(info: KeyVaultErrorInfo, code: string): boolean {
  return info.innerCode === code || info.code === code;
}

/** 409 on a name that is soft-deleted (set raced a deletion, or the name was deleted before). */
export function isDeletedButRecoverable(error: unknown): boolean {
  const info = keyVaultErrorInfo(error);
  return info.statusCode === 409 && hasCode(info, 'ObjectIsDeletedButRecoverable');
}

/** 409 while someone's recovery of the name is still in progress (its versions are coming back). */
export function isBeingRecovered(error: unknown): boolean {
  const info = keyVaultErrorInfo(error);
  return info.statusCode === 409 && hasCode(info, 'ObjectIsBeingRecovered');
}

/** 409 while a recovery or deletion is still in progress: wait and retry. */
export function isBusyConflict(error: unknown): boolean {
  const info = keyVaultErrorInfo(error);
  return info.statusCode === 409 && (hasCode(info, 'ObjectIsBeingRecovered') || hasCode(info, 'ObjectIsBeingDeleted'));
}

function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: string }).name === 'AbortError';
}

/** Retry classifier for `withBackoff`: 429 (with its hint) and busy 409s are retried on the ladder. */
export function keyVaultRetryHint(error: unknown): RetryHint | undefined {
  const info = keyVaultErrorInfo(error);
  if (info.statusCode === 429) return info.retryAfterInMs !== undefined ? { retryAfterInMs: info.retryAfterInMs } : {};
  if (isBusyConflict(error)) return {};
  return undefined;
}

/**
 * Classifies an error from a Key Vault call once, at the edge: returns the error to throw. Final failures become
 * `TargetFailure` (403/401 → FailedAccessDenied, other 4xx → FailedValidation); 429 past the ladder →
 * `TransientTargetError` FailedThrottled; 5xx, busy 409s past the ladder and network failures → `TransientTargetError`
 * FailedUnavailable. Aborts pass through unchanged. Messages name the operation, the location and the service's codes,
 * never the service's free text or any value.
 */
export function classifyKeyVaultError(error: unknown, context: { operation: string; location: string }): Error {
  if (error instanceof TargetFailure || error instanceof TransientTargetError || isAbort(error)) return error as Error;
  const info = keyVaultErrorInfo(error);
  const codes = [info.code, info.innerCode].filter((c): c is string => c !== undefined && c !== '');
  const detail = `${context.operation} on ${context.location}: Key Vault answered ${info.statusCode ?? 'no response'}${
    codes.length ? ` ${codes.join('/')}` : ''
  }`;
  // The cause is the classified summary, not the SDK error: a RestError still references the request, whose body
  // holds the value on a set.
  const options = { cause: info };
  const status = info.statusCode;
  if (status === undefined) return new TransientTargetError(`${detail} (network failure)`, 'FailedUnavailable', undefined, options);
  if (status === 401) return new TargetFailure(detail, 'FailedAccessDenied', 'unauthenticated', options);
  if (status === 403) return new TargetFailure(detail, 'FailedAccessDenied', 'access-denied', options);
  if (status === 429) return new TransientTargetError(detail, 'FailedThrottled', info.retryAfterInMs, options);
  if (status === 409 && isBusyConflict(error)) return new TransientTargetError(detail, 'FailedUnavailable', undefined, options);
  if (status === 409) return new TargetFailure(detail, 'FailedValidation', 'conflict', options);
  if (status === 408 || status >= 500) return new TransientTargetError(detail, 'FailedUnavailable', info.retryAfterInMs, options);
  return new TargetFailure(detail, 'FailedValidation', 'rejected-by-target', options);
}
