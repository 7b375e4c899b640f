import { randomBytes, randomInt } from 'node:crypto';
/** The part of a route's rotation policy that says how to generate a value. */
export type GeneratorPolicy =
  | { readonly generator: 'password'; readonly length: number; readonly alphabet?: string | undefined; readonly [other: string]: unknown }
  | { readonly generator: 'bytes'; readonly length: number; readonly encoding: 'base64' | 'hex'; readonly [other: string]: unknown };

/** Default password alphabet: letters, digits and symbols that survive shells, URLs-in-quotes and YAML. */
export const DEFAULT_PASSWORD_ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!@#%^*+=';

/**
 * Generates a new credential value per a route's rotation policy, from the OS CSPRNG. Passwords draw each character
 * uniformly (`randomInt` has no modulo bias) and, with the default alphabet, contain at least one character of each
 * class. The value is returned to the caller only; never log it.
 */
export function generateValue(policy: GeneratorPolicy): string {
  // The config schema bounds lengths so that every generated value fits Key Vault's 25 KB.
  return policy.generator === 'password' ? password(policy.length, policy.alphabet) : bytes(policy.length, policy.encoding);
}

function password(length: number, alphabet: string | undefined): string {
  const chars = [...new Set(alphabet ?? DEFAULT_PASSWORD_ALPHABET)];
  const classes = alphabet ? [] : [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/];
  for (;;) {
    let out = '';
    for (let i = 0; i < length; i++) out += chars[randomInt(chars.length)];
    // Rejection sampling keeps the distribution uniform over the accepted passwords.
    if (classes.every((c) => c.test(out))) return out;
  }
}

function bytes(length: number, encoding: 'base64' | 'hex'): string {
  return randomBytes(length).toString(encoding);
}
