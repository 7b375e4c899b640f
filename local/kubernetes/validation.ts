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
    case 'kubernetes.io/basic-auth':
      // Either key may be empty, but one of them must be present.
      if (!('username' in data) && !('password' in data)) errors.push(required('data[username]'), required('data[password]'));
      break;
    case 'kubernetes.io/ssh-auth':
      if (!data['ssh-privatekey']) errors.push(required('data[ssh-privatekey]'));
      break;
    case 'kubernetes.io/service-account-token':
      if (!secret.metadata.annotations?.['kubernetes.io/service-account.name']) {
        errors.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
      }
      break;
    default:
      break;
  }
  return errors;
}

function forbiddenField(field: string, detail: string): FieldError {
  return { field, type: 'FieldValueForbidden', message: `Forbidden: ${detail}` };
}

/** Errors of an update to an immutable Secret or ConfigMap: data cannot change and `immutable` cannot be unset. */
export function immutableDataErrors(
  previous: { immutable?: unknown; [field: string]: unknown },
  next: { immutable?: unknown; [field: string]: unknown },
  dataFields: readonly string[],
): FieldError[] {
  if (previous.immutable !== true) return [];
  const errors: FieldError[] = [];
  const detail = 'field is immutable when `immutable` is set';
  if (next.immutable !== true) errors.push(forbiddenField('immutable', detail));
  for (const field of dataFields) {
    if (JSON.stringify(sorted(previous[field] ?? {})) !== JSON.stringify(sorted(next[field] ?? {}))) errors.push(forbiddenField(field, detail));
  }
  return errors;
}

function sorted(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Validates a ConfigMap: keys of data and binaryData, no key in both, 1 MiB in total. */
export function configMapErrors(configMap: { metadata: { name?: string; annotations?: Record<string, string> }; data?: Record<string, string>; binaryData?: Record<string, string> }): FieldError[] {
  const errors: FieldError[] = [];
  const name = configMap.metadata.name ?? '';
  if (!name) errors.push(required('metadata.name', 'name or generateName is required'));
  else errors.push(...subdomainNameErrors(name));
  errors.push(...annotationErrors(configMap.metadata.annotations));
  let total = 0;
  for (const [key, value] of Object.entries(configMap.data ?? {})) {
    errors.push(...configKeyErrors(key, `data[${key}]`));
    total += Buffer.byteLength(String(value), 'utf8');
  }
  for (const [key, value] of Object.entries(configMap.binaryData ?? {})) {
    errors.push(...configKeyErrors(key, `binaryData[${key}]`));
    if (configMap.data && key in configMap.data) errors.push(invalidValue(`binaryData[${key}]`, key, 'duplicate of key present in data'));
    total += Buffer.from(String(value), 'base64').byteLength;
  }
  if (total > MAX_SECRET_SIZE_IN_BYTES) errors.push({ field: '', type: 'FieldValueTooLong', message: `Too long: may not be more than ${MAX_SECRET_SIZE_IN_BYTES} bytes` });
  return errors;
}

/** Go's `%#v` of a map[string]string, keys sorted, as field errors print label maps. */
function goStringMap(map: Record<string, string> | undefined): string {
  if (!map) return 'map[string]string(nil)';
  return `map[string]string{${Object.keys(map).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(map[k])}`).join(', ')}}`;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Go's `%#v` of a v1.LabelSelector (matchExpressions rendered by count only, which is all an error needs). */
export function goLabelSelector(selector: LabelSelector): string {
  const expressions = selector.matchExpressions?.length
    ? `[]v1.LabelSelectorRequirement{${selector.matchExpressions.map((e) => `v1.LabelSelectorRequirement{Key:${JSON.stringify(e.key)}, Operator:${JSON.stringify(e.operator)}, Values:[]string{${(e.values ?? []).map((v) => JSON.stringify(v)).join(', ')}}}`).join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${goStringMap(selector.matchLabels)}, MatchExpressions:${expressions}}`;
}

function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(value!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(value!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** apps/v1 Deployment validation: selector required, non-empty, matching the template labels; containers required. */
export function deploymentErrors(deployment: { metadata: { name?: string; annotations?: Record<string, string> }; spec?: Record<string, unknown> }): FieldError[] {
  const errors: FieldError[] = [];
  const name = deployment.metadata.name ?? '';
  if (!name) errors.push(required('metadata.name', 'name or generateName is required'));
  else errors.push(...subdomainNameErrors(name));
  errors.push(...annotationErrors(deployment.metadata.annotations));
  const spec = deployment.spec ?? {};
  const selector = spec.selector as LabelSelector | undefined;
  const template = (spec.template ?? {}) as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: unknown[] } };
  const labels = template.metadata?.labels ?? {};
  if (!selector) errors.push(required('spec.selector'));
  else if (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0) {
    errors.push({ field: 'spec.selector', type: 'FieldValueInvalid', message: `Invalid value: ${goLabelSelector(selector)}: empty selector is invalid for deployment` });
  } else if (!selectorMatches(selector, labels)) {
    errors.push({ field: 'spec.template.metadata.labels', type: 'FieldValueInvalid', message: `Invalid value: ${goStringMap(labels)}: \`selector\` does not match template \`labels\`` });
  }
  if (!Array.isArray(template.spec?.containers) || template.spec.containers.length === 0) errors.push(required('spec.template.spec.containers'));
  const replicas = spec.replicas;
  if (typeof replicas === 'number' && replicas < 0) errors.push({ field: 'spec.replicas', type: 'FieldValueInvalid', message: `Invalid value: ${replicas}: must be greater than or equal to 0` });
  return errors;
}

/** Errors of a Deployment update: the selector is immutable in apps/v1. */
export function deploymentUpdateErrors(previous: { spec?: Record<string, unknown> }, next: { spec?: Record<string, unknown> }): FieldError[] {
  const before = previous.spec?.selector as LabelSelector | undefined;
  const after = next.spec?.selector as LabelSelector | undefined;
  if (!before || !after || JSON.stringify(sorted(before.matchLabels)) === JSON.stringify(sorted(after.matchLabels)) && JSON.stringify(before.matchExpressions ?? []) === JSON.stringify(after.matchExpressions ?? [])) return [];
  return [{ field: 'spec.selector', type: 'FieldValueInvalid', message: `Invalid value: ${goLabelSelector(after)}: field is immutable` }];
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
