/**
 * Key Vault error bodies as the service sends them: `{"error":{"code","message","innererror":{"code"}}}`.
 * Messages never contain secret values (names only).
 */

/** An error answer of the vault origin. Thrown inside handlers, rendered by the router. */
export class KeyVaultHttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly innerCode: string | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: { innerCode?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'KeyVaultHttpError';
    this.status = status;
    this.code = code;
    this.innerCode = options.innerCode;
    this.headers = options.headers ?? {};
  }

  /** The wire body (lower-case `innererror`, as Key Vault sends it). */
  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode === undefined ? {} : { innererror: { code: this.innerCode } }),
      },
    };
  }
}

const RECOVERY_HINT =
  'If you recently deleted this secret you may be able to recover it using the correct recovery command. ' +
  'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182';

export function secretNotFound(nameOrId: string): KeyVaultHttpError {
  return new KeyVaultHttpError(404, 'SecretNotFound', `A secret with (name/id) ${nameOrId} was not found in this key vault. ${RECOVERY_HINT}`);
}

export function deletedSecretNotFound(name: string): KeyVaultHttpError {
  return new KeyVaultHttpError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
}

export function deletedButRecoverable(name: string): KeyVaultHttpError {
  return new KeyVaultHttpError(
    409,
    'Conflict',
    `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
    { innerCode: 'ObjectIsDeletedButRecoverable' },
  );
}

export function beingDeleted(name: string): KeyVaultHttpError {
  return new KeyVaultHttpError(409, 'Conflict', `Secret ${name} is currently being deleted.`, { innerCode: 'ObjectIsBeingDeleted' });
}

export function beingRecovered(name: string): KeyVaultHttpError {
  // The service's own text on a set during a recovery (azure-sdk-for-net#31581).
  return new KeyVaultHttpError(409, 'Conflict', `Secret ${name} is currently being recovered and cannot be re-created; retry later.`, {
    innerCode: 'ObjectIsBeingRecovered',
  });
}

export function alreadyExists(name: string): KeyVaultHttpError {
  return new KeyVaultHttpError(409, 'Conflict', `Secret ${name} already exists in this key vault.`);
}

export function secretDisabled(): KeyVaultHttpError {
  return new KeyVaultHttpError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', { innerCode: 'SecretDisabled' });
}

export function forbidden(innerCode = 'ForbiddenByRbac'): KeyVaultHttpError {
  return new KeyVaultHttpError(
    403,
    'Forbidden',
    'Caller is not authorized to perform action on resource. If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.',
    { innerCode },
  );
}

export function throttled(retryAfterInSeconds?: number): KeyVaultHttpError {
  return new KeyVaultHttpError(
    429,
    'Throttled',
    'Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached',
    retryAfterInSeconds === undefined ? {} : { headers: { 'Retry-After': String(retryAfterInSeconds) } },
  );
}

export function badParameter(message: string): KeyVaultHttpError {
  return new KeyVaultHttpError(400, 'BadParameter', message);
}

export function badRequest(message: string): KeyVaultHttpError {
  return new KeyVaultHttpError(400, 'BadRequest', message);
}

export function notFoundRoute(method: string, path: string): KeyVaultHttpError {
  return new KeyVaultHttpError(404, 'NotFound', `The requested resource ${method} ${path} was not found.`);
}

export function methodNotAllowed(method: string): KeyVaultHttpError {
  return new KeyVaultHttpError(405, 'MethodNotAllowed', `The method ${method} is not allowed for this resource.`);
}
