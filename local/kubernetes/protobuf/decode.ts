/**
 * Decodes `application/vnd.kubernetes.protobuf` request bodies (as kubectl ≥ 1.31 sends them for built-in types)
 * into the JSON wire form the store works with: the 4-byte magic `k8s\0`, then a runtime.Unknown envelope whose
 * `raw` field holds the typed message.
 */
import protobuf from 'protobufjs';
import { badRequest, unsupportedMediaType } from '../status.js';
import { K8S_PROTO } from './schema.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const root = protobuf.parse(K8S_PROTO, { keepCase: true }).root;
const unknownType = root.lookupType('emulator.Unknown');

/** Kinds the emulator decodes, by `apiVersion/kind`. */
const MESSAGES: Record<string, string> = {
  'v1/Secret': 'emulator.Secret',
  'v1/ConfigMap': 'emulator.ConfigMap',
  'v1/Event': 'emulator.Event',
  'v1/DeleteOptions': 'emulator.DeleteOptions',
  'meta.k8s.io/v1/DeleteOptions': 'emulator.DeleteOptions',
};

const TIME_FIELDS = new Set(['creationTimestamp', 'deletionTimestamp', 'firstTimestamp', 'lastTimestamp', 'time', 'lastObservedTime']);
const MICRO_TIME_FIELDS = new Set(['eventTime', 'lastObservedTime']);

function toRfc3339(seconds: number, nanos: number, micro: boolean): string {
  const iso = new Date(seconds * 1000).toISOString();
  if (!micro) return iso.replace(/\.\d{3}Z$/, 'Z');
  return iso.replace(/\.\d{3}Z$/, `.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`);
}

/** Converts protobufjs' plain object into the JSON wire form: times as RFC 3339, bytes as base64, FieldsV1 as JSON. */
function toWire(value: unknown, field = ''): unknown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map((v) => toWire(v, field));
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  if (TIME_FIELDS.has(field)) {
    const seconds = Number(record.seconds ?? 0);
    const nanos = Number(record.nanos ?? 0);
    // Go writes a zero metav1.Time as an empty message; in JSON it is null (omitted).
    return seconds === 0 && nanos === 0 ? undefined : toRfc3339(seconds, nanos, MICRO_TIME_FIELDS.has(field));
  }
  if (field === 'fieldsV1') {
    const raw = record.Raw;
    return raw ? JSON.parse(Buffer.from(raw as Uint8Array).toString('utf8')) : {};
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const converted = toWire(v, k);
    // Go's protobuf marshaller writes non-pointer scalars even when empty; their JSON form omits them (omitempty).
    if (converted === undefined || converted === '' || converted === 0) continue;
    out[k] = converted;
  }
  return out;
}

/**
 * Decodes one protobuf body into a JSON object with `apiVersion` and `kind`. Throws 415 for kinds it does not model
 * (client-go then retries nothing: the caller sees the error, as with a server lacking the type) and 400 for bytes
 * that are not a Kubernetes protobuf envelope.
 */
export function decodeProtobufBody(body: Buffer): Record<string, unknown> {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw badRequest('provided object is not a valid Kubernetes protobuf message: missing the k8s envelope prefix');
  }
  let envelope: { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array; contentEncoding?: string };
  try {
    envelope = unknownType.toObject(unknownType.decode(body.subarray(MAGIC.length))) as typeof envelope;
  } catch (error) {
    throw badRequest(`unable to decode the protobuf envelope: ${(error as Error).message}`);
  }
  const apiVersion = envelope.typeMeta?.apiVersion ?? '';
  const kind = envelope.typeMeta?.kind ?? '';
  const messageName = MESSAGES[`${apiVersion}/${kind}`];
  if (!messageName) throw unsupportedMediaType(`${PROTOBUF_CONTENT_TYPE} (${apiVersion}/${kind})`);
  if (envelope.contentEncoding) throw badRequest(`unsupported protobuf content encoding ${envelope.contentEncoding}`);
  const type = root.lookupType(messageName);
  let message: Record<string, unknown>;
  try {
    message = type.toObject(type.decode(envelope.raw ?? new Uint8Array()), { longs: Number, defaults: false }) as Record<string, unknown>;
  } catch (error) {
    throw badRequest(`unable to decode ${kind}: ${(error as Error).message}`);
  }
  return { apiVersion, kind, ...(toWire(message) as Record<string, unknown>) };
}
