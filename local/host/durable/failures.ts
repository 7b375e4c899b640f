import type { FailureDetailsDto } from './history.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Converts an error thrown by an activity to the FailureDetails the extension records. When durable-functions'
 * exception-properties provider rewrote the message to a JSON failure payload, that payload is used (as the extension
 * parses it); otherwise the error's name, message and stack.
 */
export function failureDetailsFromError(error: unknown): FailureDetailsDto {
  if (error instanceof Error) {
    try {
      const parsed: unknown = JSON.parse(error.message);
      if (isRecord(parsed) && typeof parsed['errorType'] === 'string' && typeof parsed['errorMessage'] === 'string') {
        return {
          ErrorType: parsed['errorType'],
          ErrorMessage: parsed['errorMessage'],
          ...(typeof parsed['stackTrace'] === 'string' ? { StackTrace: parsed['stackTrace'] } : {}),
          IsNonRetriable: parsed['isNonRetriable'] === true,
          ...(isRecord(parsed['properties']) ? { Properties: parsed['properties'] } : {}),
        };
      }
    } catch {
      // not a JSON payload: a plain error message
    }
    return { ErrorType: error.name, ErrorMessage: error.message, ...(error.stack ? { StackTrace: error.stack } : {}), IsNonRetriable: false };
  }
  return { ErrorType: 'Error', ErrorMessage: typeof error === 'string' ? error : JSON.stringify(error) ?? String(error), IsNonRetriable: false };
}

/** Converts durable-functions' camelCase failure details (OrchestratorState.failureDetails) to the wire shape. */
export function failureDetailsFromState(value: unknown): FailureDetailsDto | undefined {
  if (!isRecord(value)) return undefined;
  const type = value['ErrorType'] ?? value['errorType'];
  const message = value['ErrorMessage'] ?? value['errorMessage'];
  if (typeof type !== 'string' || typeof message !== 'string') return undefined;
  const stack = value['StackTrace'] ?? value['stackTrace'];
  const inner = failureDetailsFromState(value['InnerFailure'] ?? value['innerFailure']);
  const properties = value['Properties'] ?? value['properties'];
  return {
    ErrorType: type,
    ErrorMessage: message,
    ...(typeof stack === 'string' ? { StackTrace: stack } : {}),
    IsNonRetriable: (value['IsNonRetriable'] ?? value['isNonRetriable']) === true,
    ...(isRecord(properties) ? { Properties: properties } : {}),
    ...(inner ? { InnerFailure: inner } : {}),
  };
}
