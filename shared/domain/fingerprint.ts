import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A keyed fingerprint of a secret value: HMAC-SHA256 under the relay's fingerprint key, never a plain hash, so a
 * low-entropy value cannot be guessed from it. Format: `hmac-sha256:<keyId>:<base64url digest>` (≤ 80 chars, fits a
 * Key Vault tag or a Kubernetes annotation). The key id lets a reader tell "different value" from "different key".
 */
export interface FingerprintKey {
  /** Short identifier of the key (letters, digits, dashes), recorded in every fingerprint. */
  readonly id: string;
  /** The key material (at least 32 bytes). Never logged. */
  readonly secret: Uint8Array;
}

const PREFIX = 'hmac-sha256';
const KEY_ID = /^[A-Za-z0-9-]{1,32}$/;

export function fingerprintKeyFrom(id: string, secret: Uint8Array | string): FingerprintKey {
  if (!KEY_ID.test(id)) {
    throw new Error(`fingerprint key id must be 1-32 letters, digits or dashes; got ${JSON.stringify(id)}`);
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.byteLength < 32) {
    throw new Error(`fingerprint key "${id}" must be at least 32 bytes; got ${bytes.byteLength}`);
  }
  return { id, secret: bytes };
}

/** Computes the keyed fingerprint of a value. */
export function fingerprint(key: FingerprintKey, value: string | Uint8Array): string {
  const digest = createHmac('sha256', key.secret).update(value).digest('base64url');
  return `${PREFIX}:${key.id}:${digest}`;
}

/** Parses a fingerprint string; undefined when it is not one. */
export function parseFingerprint(text: string): { keyId: string; digest: string } | undefined {
  const parts = text.split(':');
  if (parts.length !== 3 || parts[0] !== PREFIX || !parts[1] || !parts[2]) return undefined;
  return { keyId: parts[1], digest: parts[2] };
}

/** Constant-time comparison of two fingerprints (equal strings ⇔ same key and same value). */
export function sameFingerprint(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
