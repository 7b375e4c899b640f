/**
 * Server-side validation with the field paths and messages of the real API server
 * (k8s.io/apimachinery/pkg/util/validation and pkg/apis/core/validation).
 */
import type { FieldError } from './status.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** Kubernetes caps the total size of a Secret's data (sum of decoded value sizes) at 1 MiB. */
export const MAX_SECRET_SIZE_IN_BYTES = 1024 * 1024;
/** Total size of all annotations (keys + values). */
export const MAX_ANNOTATIONS_SIZE_IN_BYTES = 256 * 1024;

const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const KEY_MESSAGE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

function invalidValue(field: string, value: string, detail: string): FieldError {
  return { field, type: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${detail}` };
}

/** Errors of an object name that must be a DNS-1123 subdomain (Secrets, Deployments). */
export function subdomainNameErrors(name: string, field = 'metadata.name'): FieldError[] {
  const errors: FieldError[] = [];
  if (name.length > 253) errors.push(invalidValue(field, name, 'must be no more than 253 characters'));
  if (!DNS1123_SUBDOMAIN.test(name)) errors.push(invalidValue(field, name, SUBDOMAIN_MESSAGE));
  return errors;
}

/** Errors of a name that must be a DNS-1123 label (Namespaces). */
export function labelNameErrors(name: string, field = 'metadata.name'): FieldError[] {
  const errors: FieldError[] = [];
  if (name.length > 63) errors.push(invalidValue(field, name, 'must be no more than 63 characters'));
  if (!DNS1123_LABEL.test(name)) errors.push(invalidValue(field, name, LABEL_MESSAGE));
  return errors;
}

/** Errors of a Secret/ConfigMap data key. */
export function configKeyErrors(key: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (key.length > 253) errors.push(invalidValue(field, key, 'must be no more than 253 characters'));
  if (!CONFIG_KEY.test(key)) errors.push(invalidValue(field, key, KEY_MESSAGE));
  if (key === '.') errors.push(invalidValue(field, key, "must not be '.'"));
  else if (key === '..') errors.push(invalidValue(field, key, "must not be '..'"));
  else if (key.startsWith('..')) errors.push(invalidValue(field, key, "must not start with '..'"));
  return errors;
}

function required(field: string, detail = ''): FieldError {
  return { field, type: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value' };
}

/** Validates a Secret as stored (data already merged from stringData, values base64). */
export function secretErrors(secret: {
  metadata: { name?: string; annotations?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}): FieldError[] {
  const errors: FieldError[] = [];
  const name = secret.metadata.name ?? '';
  if (!name) errors.push(required('metadata.name', 'name or generateName is required'));
  else errors.push(...subdomainNameErrors(name));
  errors.push(...annotationErrors(secret.metadata.annotations));
  const data = secret.data ?? {};
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    errors.push(...configKeyErrors(key, `data[${key}]`));
    total += Buffer.from(value, 'base64').byteLength;
  }
  if (total > MAX_SECRET_SIZE_IN_BYTES) {
    errors.push({ field: 'data', type: 'FieldValueTooLong', message: `Too long: may not be more than ${MAX_SECRET_SIZE_IN_BYTES} bytes` });
  }
  switch (secret.type) {
    case 'kubernetes.io/tls':
      for (const key of ['tls.crt', 'tls.key']) if (!(key in data)) errors.push(required(`data[${key}]`));
      break;
    case 'kubernetes.io/dockerconfigjson': {
      const raw = data['.dockerconfigjson'];
      if (raw === undefined) errors.push(required('data[.dockerconfigjson]'));
      else {
        try {
          JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
        } catch (error) {
          errors.push(invalidValue('data[.dockerconfigjson]', '<secret contents redacted>', (error as Error).message));
        }
      }
      break;
    }
    default:
      break;
  }
  return errors;
}

/** Total annotation size limit. */
export function annotationErrors(annotations: Record<string, string> | undefined): FieldError[] {
  if (!annotations) return [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += k.length + v.length;
  return total > MAX_ANNOTATIONS_SIZE_IN_BYTES
    ? [{ field: 'metadata.annotations', type: 'FieldValueTooLong', message: `Too long: may not be more than ${MAX_ANNOTATIONS_SIZE_IN_BYTES} bytes` }]
    : [];
}

/** `field is immutable` on an update that changes an immutable field. */
export function immutableError(field: string, value: string): FieldError {
  return invalidValue(field, value, 'field is immutable');
}
