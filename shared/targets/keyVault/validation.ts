import type { Placement } from '../../domain/references.js';
import type { ValidationProblem } from '../contract.js';

/** Key Vault secret limits (service-limits §1.9–1.11). */
export const KEY_VAULT_LIMITS = {
  nameMaxLength: 127,
  /** 25 KB, counted as UTF-8 bytes. */
  valueMaxBytes: 25 * 1024,
  maxTags: 15,
  tagNameMaxLength: 256,
  tagValueMaxLength: 256,
  contentTypeMaxLength: 255,
} as const;

const NAME = /^[A-Za-z0-9-]+$/;

/** Checks a Key Vault secret name: 1–127 of `[A-Za-z0-9-]`. */
export function validateSecretName(name: string): ValidationProblem[] {
  if (name.length === 0 || name.length > KEY_VAULT_LIMITS.nameMaxLength || !NAME.test(name)) {
    return [
      {
        field: 'name',
        message: `Key Vault secret names are 1-${KEY_VAULT_LIMITS.nameMaxLength} of letters, digits and dashes; got ${JSON.stringify(
          name.length > 140 ? `${name.slice(0, 140)}…` : name,
        )} (${name.length} chars)`,
      },
    ];
  }
  return [];
}

/** Checks a placement and value against Key Vault's limits. Messages give sizes, never the value. */
export function validateKeyVaultPlacement(placement: Placement, value: string): ValidationProblem[] {
  const problems = validateSecretName(placement.name);
  if (placement.key !== undefined) {
    problems.push({ field: 'key', message: 'Key Vault targets hold one value per secret; the placement must not name a key' });
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > KEY_VAULT_LIMITS.valueMaxBytes) {
    problems.push({ field: 'value', message: `value is ${bytes} bytes; Key Vault accepts at most ${KEY_VAULT_LIMITS.valueMaxBytes}` });
  }
  return problems;
}

/** Checks the metadata of a write: content type length and the tag set (count, name and value lengths). */
export function validateKeyVaultMetadata(metadata: {
  readonly contentType?: string;
  readonly tags: Readonly<Record<string, string>>;
}): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  if (metadata.contentType !== undefined && metadata.contentType.length > KEY_VAULT_LIMITS.contentTypeMaxLength) {
    problems.push({
      field: 'contentType',
      message: `contentType is ${metadata.contentType.length} chars; Key Vault accepts at most ${KEY_VAULT_LIMITS.contentTypeMaxLength}`,
    });
  }
  const entries = Object.entries(metadata.tags);
  if (entries.length > KEY_VAULT_LIMITS.maxTags) {
    problems.push({ field: 'tags', message: `${entries.length} tags; Key Vault accepts at most ${KEY_VAULT_LIMITS.maxTags}` });
  }
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > KEY_VAULT_LIMITS.tagNameMaxLength || value.length > KEY_VAULT_LIMITS.tagValueMaxLength) {
      problems.push({ field: 'tags', message: `tag ${JSON.stringify(name.slice(0, 64))} breaks the 256-char limit of tag names or values` });
    }
  }
  return problems;
}
