/**
 * Checks a placement and value against the API server's rules before any call: Secret names (DNS-1123 subdomain),
 * data keys (`[-._a-zA-Z0-9]+`, ≤ 253), the 1 MiB data limit, and the typed Secrets (`kubernetes.io/tls` needs a PEM
 * certificate chain and its private key; `kubernetes.io/dockerconfigjson` needs a JSON object with `auths`).
 * Problems never quote the value.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Placement } from '../../domain/references.js';
import type { ValidationProblem } from '../contract.js';

export type KubernetesSecretType = 'Opaque' | 'kubernetes.io/tls' | 'kubernetes.io/dockerconfigjson';

export const KUBERNETES_LIMITS = {
  /** Sum of the decoded sizes of all data values of one Secret. */
  maxSecretDataInBytes: 1024 * 1024,
  maxNameLength: 253,
  maxKeyLength: 253,
  maxVersionsToKeep: 10,
} as const;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** The data keys a typed Secret must use. */
export const TYPED_KEYS = {
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
} as const;

export function secretNameProblems(name: string): ValidationProblem[] {
  if (name.length === 0) return [{ field: 'name', message: 'Secret name is empty' }];
  if (name.length > KUBERNETES_LIMITS.maxNameLength) return [{ field: 'name', message: `Secret name is longer than ${KUBERNETES_LIMITS.maxNameLength} characters` }];
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return [{ field: 'name', message: `Secret name ${JSON.stringify(name)} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', alphanumeric at both ends)` }];
  }
  return [];
}

export function dataKeyProblems(key: string): ValidationProblem[] {
  if (key.length === 0) return [{ field: 'key', message: 'data key is empty' }];
  if (key.length > KUBERNETES_LIMITS.maxKeyLength) return [{ field: 'key', message: `data key is longer than ${KUBERNETES_LIMITS.maxKeyLength} characters` }];
  if (!CONFIG_KEY.test(key)) return [{ field: 'key', message: `data key ${JSON.stringify(key)} must consist of letters, digits, '-', '_' or '.'` }];
  if (key === '.' || key === '..' || key.startsWith('..')) return [{ field: 'key', message: `data key ${JSON.stringify(key)} must not be '.' or '..' or start with '..'` }];
  return [];
}

/** A TLS value split into the two data keys of a `kubernetes.io/tls` Secret. */
export interface TlsPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----/g;

/** Splits a PEM bundle into its certificate chain and its private key; a problem (never quoting the value) otherwise. */
export function splitTlsValue(value: string): TlsPair | ValidationProblem {
  const certificates: string[] = [];
  const keys: string[] = [];
  for (const match of value.matchAll(PEM_BLOCK)) {
    const label = match[1]!;
    if (label === 'CERTIFICATE') certificates.push(match[0]);
    else if (/^(RSA |EC |ENCRYPTED )?PRIVATE KEY$/.test(label)) keys.push(match[0]);
  }
  if (certificates.length === 0) return { field: 'value', message: 'a kubernetes.io/tls value must contain a PEM CERTIFICATE block' };
  if (keys.length !== 1) return { field: 'value', message: `a kubernetes.io/tls value must contain exactly one PEM private key block; found ${keys.length}` };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certificates[0]!);
    for (const other of certificates.slice(1)) new X509Certificate(other);
  } catch {
    return { field: 'value', message: 'a certificate block of the kubernetes.io/tls value does not parse as X.509' };
  }
  let key;
  try {
    key = createPrivateKey(keys[0]!);
  } catch {
    return { field: 'value', message: 'the private key of the kubernetes.io/tls value does not parse (encrypted keys are not supported)' };
  }
  if (!leaf.checkPrivateKey(key)) return { field: 'value', message: 'the private key of the kubernetes.io/tls value does not match the first certificate' };
  return { certificatePem: `${certificates.join('\n')}\n`, privateKeyPem: `${keys[0]!}\n` };
}

function dockerConfigProblem(value: string): ValidationProblem | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // JSON.parse messages quote the input: never pass them on.
    return { field: 'value', message: 'a kubernetes.io/dockerconfigjson value must be valid JSON' };
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    return { field: 'value', message: 'a kubernetes.io/dockerconfigjson value must be a JSON object with an "auths" object' };
  }
  return undefined;
}

export interface KubernetesValidationOptions {
  readonly type?: KubernetesSecretType;
  readonly versionsToKeep?: number;
}

/** The data key names a delivery writes: `key`, `key-1`, … for Opaque; the fixed keys of a typed Secret. */
export function slotKeysFor(placement: Placement, options: KubernetesValidationOptions): readonly string[] {
  const type = options.type ?? 'Opaque';
  if (type !== 'Opaque') return TYPED_KEYS[type];
  const key = placement.key ?? '';
  const n = options.versionsToKeep ?? 1;
  return Array.from({ length: Math.max(1, n) }, (_, i) => (i === 0 ? key : `${key}-${i}`));
}

/** Every problem of a placement and value for this target; an empty list means the delivery may proceed. */
export function validateKubernetesPlacement(placement: Placement, value: string, options: KubernetesValidationOptions = {}): ValidationProblem[] {
  const type = options.type ?? 'Opaque';
  const versionsToKeep = options.versionsToKeep ?? 1;
  const problems: ValidationProblem[] = [...secretNameProblems(placement.name)];
  if (!Number.isInteger(versionsToKeep) || versionsToKeep < 1 || versionsToKeep > KUBERNETES_LIMITS.maxVersionsToKeep) {
    problems.push({ field: 'versionsToKeep', message: `versionsToKeep must be an integer from 1 to ${KUBERNETES_LIMITS.maxVersionsToKeep}` });
  }
  if (type === 'Opaque') {
    if (placement.key === undefined) problems.push({ field: 'key', message: 'an Opaque Secret placement needs a data key' });
    else {
      problems.push(...dataKeyProblems(placement.key));
      const last = slotKeysFor(placement, { type, versionsToKeep: Math.min(Math.max(1, versionsToKeep), KUBERNETES_LIMITS.maxVersionsToKeep) }).at(-1)!;
      if (problems.every((p) => p.field !== 'key')) problems.push(...dataKeyProblems(last));
    }
  } else if (versionsToKeep > 1) {
    problems.push({ field: 'versionsToKeep', message: `${type} Secrets have fixed keys and cannot keep older versions` });
  }
  const size = Buffer.byteLength(value, 'utf8');
  if (size > KUBERNETES_LIMITS.maxSecretDataInBytes) {
    problems.push({ field: 'value', message: `value is ${size} bytes; a Secret's data may not exceed ${KUBERNETES_LIMITS.maxSecretDataInBytes} bytes` });
  } else if (type === 'kubernetes.io/tls') {
    const pair = splitTlsValue(value);
    if ('field' in pair) problems.push(pair);
  } else if (type === 'kubernetes.io/dockerconfigjson') {
    const problem = dockerConfigProblem(value);
    if (problem) problems.push(problem);
  }
  return problems;
}
