/**
 * The rotator contract: a rotator changes a credential at its owner (a database, a BMC, a SaaS API) and hands back
 * the new value for the source vault. Every rotator keeps two credentials ("slots"): it only ever changes the
 * inactive one, and the relay retires (locks) the previously active one once every target holds the new value.
 * Values returned here stay inside the activity that asked for them: never log them or put them in an error.
 */

/** The two slots of one credential, e.g. two PostgreSQL login roles or a BMC's primary/secondary account. */
export type SlotPair = readonly [string, string];

export interface SetCredentialOptions {
  /** Stable id of the credential for the owner: `<sourceId>/<name>`. */
  readonly credentialId: string;
  /** A fresh random value the owner echoes (binds the answer to this request). */
  readonly nonce: string;
  /** Generates a value per the route's policy, for rotators whose owner accepts a value from the relay. */
  readonly generate: () => string;
  readonly abortSignal?: AbortSignal;
}

export interface RetireOptions {
  readonly credentialId: string;
  readonly nonce: string;
  readonly abortSignal?: AbortSignal;
}

/** What a rotator hands back: the value to write as the new source version (already checked to work). */
export interface NewCredential {
  readonly value: string;
}

/** Implemented by every rotator kind (postgres, webhook); built once per route by the composition root. */
export interface Rotator {
  readonly kind: 'postgres' | 'webhook';
  readonly slots: SlotPair;
  /**
   * Gives `slot` a new credential at the owner and returns the value consumers use to log in with it. The other slot
   * is not touched. Repeating it is harmless (the slot gets yet another value; nobody uses it until it is published).
   */
  setCredential(slot: string, options: SetCredentialOptions): Promise<NewCredential>;
  /** Locks `slot` at the owner so its credential no longer logs in. Repeating it is harmless. */
  retire(slot: string, options: RetireOptions): Promise<void>;
}

/** Statuses a rotator failure carries (a subset of the delivery statuses, with the same meaning and hints). */
export type RotatorFailureStatus = 'FailedValidation' | 'FailedAccessDenied' | 'FailedUnavailable';

/**
 * A rotator failure, classified at the edge: `retryable` ones (network, timeouts, 408/429/5xx, a server that is
 * starting) are thrown on so the orchestration's retry policy applies; the others come back as a value. The message
 * names the owner and the slot, never a value.
 */
export class RotatorError extends Error {
  override readonly name = 'RotatorError';
  constructor(
    message: string,
    readonly status: RotatorFailureStatus,
    readonly reason: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
