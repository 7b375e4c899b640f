/**
 * Key Vault limits for secrets (service-limits.md §1.9–1.11), checked before anything is stored.
 */
import { badParameter } from './errors.js';

/** Maximum secret value size in bytes (UTF-8). Key Vault documents "25k bytes"; the emulator uses 25 × 1024. */
export const MAX_VALUE_BYTES = 25 * 1024;
export const MAX_TAGS = 15;
export const MAX_TAG_NAME_LENGTH = 256;
export const MAX_TAG_VALUE_LENGTH = 256;
export const MAX_CONTENT_TYPE_LENGTH = 255;
export const MAX_PAGE_SIZE = 25;

const NAME_PATTERN = /^[A-Za-z0-9-]{1,127}$/;
const VAULT_NAME_PATTERN = /^[A-Za-z0-9-]{3,24}$/;

export function isValidSecretName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function isValidVaultName(name: string): boolean {
  return VAULT_NAME_PATTERN.test(name);
}

/** Throws 400 BadParameter when the object name breaks the naming rules. */
export function assertSecretName(name: string): void {
  if (!isValidSecretName(name)) {
    throw badParameter(`The request URI contains an invalid name: ${name}`);
  }
}

export function assertValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') {
    throw badParameter('Property value is required and must be a string.');
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
    throw badParameter(`Secret value is too large: the maximum size is ${MAX_VALUE_BYTES} bytes.`);
  }
}

export function assertTags(tags: unknown): asserts tags is Record<string, string> | undefined | null {
  if (tags === undefined || tags === null) return;
  if (typeof tags !== 'object' || Array.isArray(tags)) {
    throw badParameter('Property tags must be an object of string values.');
  }
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > MAX_TAGS) {
    throw badParameter(`Too many tags: ${entries.length}. A secret can have at most ${MAX_TAGS} tags.`);
  }
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      throw badParameter(`Tag ${key} must have a string value.`);
    }
    if (key.length === 0 || key.length > MAX_TAG_NAME_LENGTH) {
      throw badParameter(`Tag name length must be between 1 and ${MAX_TAG_NAME_LENGTH} characters.`);
    }
    if (value.length > MAX_TAG_VALUE_LENGTH) {
      throw badParameter(`Tag ${key} value exceeds the maximum length of ${MAX_TAG_VALUE_LENGTH} characters.`);
    }
  }
}

export function assertContentType(contentType: unknown): asserts contentType is string | undefined | null {
  if (contentType === undefined || contentType === null) return;
  if (typeof contentType !== 'string') {
    throw badParameter('Property contentType must be a string.');
  }
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH) {
    throw badParameter(`Content type exceeds the maximum length of ${MAX_CONTENT_TYPE_LENGTH} characters.`);
  }
}

/** Reads an optional unix-seconds attribute (nbf/exp). */
export function optionalUnixSeconds(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw badParameter(`Attribute ${field} must be a number of seconds since the Unix epoch.`);
  }
  return Math.trunc(value);
}

export function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw badParameter(`Attribute ${field} must be a boolean.`);
  }
  return value;
}

/** Parses `maxresults` (1..25 like Key Vault); undefined → the default page size. */
export function parseMaxResults(raw: string | null): number {
  if (raw === null || raw === '') return MAX_PAGE_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw badParameter(`Invalid maxresults ${raw}: it must be an integer between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return n;
}
