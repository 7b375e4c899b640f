import { createHash, hash } from 'node:crypto';
import { z } from 'zod';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../domain/statuses.js';
import { parseFingerprint } from '../domain/fingerprint.js';

/** Version of the record schema written by this code (field `v`). */
export const AUDIT_SCHEMA_VERSION = 1;

/**
 * The closed set of audited actions and, for each, the closed set of statuses it may carry. Delivery-like actions
 * use the {@link DeliveryStatus} union; the others have their own outcomes (see docs/audit.md).
 */
export const AUDIT_ACTION_STATUSES = {
  /** One source version applied to one target. */
  deliver: DELIVERY_STATUSES,
  /** A delivery that took over a target the relay did not own (route says `adopt`). */
  adopt: DELIVERY_STATUSES,
  /** A new value generated and written to the source vault. */
  rotate: ['Rotated', 'RotationSkipped', 'RotationFailed'],
  /** A reconciliation run (one record when it starts, one when it ends). */
  reconcile: ['ReconcileStarted', 'ReconcileCompleted', 'ReconcileFailed'],
  /** A reconciliation finding for one target. */
  drift: ['InSync', 'Drifted', 'Missing', 'NotOwned', 'CheckFailed'],
  /** An incoming event or request that was refused or ignored. */
  'reject-event': ['Rejected', 'Ignored', 'Duplicate'],
  /** A secret near or past its expiry, as reported by the source. */
  expired: ['NearExpiry', 'Expired'],
  /** A (dry-run or real) plan of deliveries for one source version. */
  plan: ['Planned', 'PlanFailed'],
  /** Removal of a placement the relay owns. */
  delete: ['Deleted', 'NotFound', 'NotOwned'],
  /** An operator's preflight of one target (`secret-relay target check`): every required permission allowed, or not. */
  preflight: ['PreflightPassed', 'PreflightFailed'],
} as const satisfies Record<string, readonly string[]>;

export type AuditAction = keyof typeof AUDIT_ACTION_STATUSES;
export type AuditStatusOf<A extends AuditAction> = (typeof AUDIT_ACTION_STATUSES)[A][number];
export type AuditStatus = AuditStatusOf<AuditAction>;
export const AUDIT_ACTIONS = Object.keys(AUDIT_ACTION_STATUSES) as AuditAction[];

export const ACTOR_KINDS = ['event', 'operator', 'timer', 'system'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];
export const AUDIT_TARGET_KINDS = ['keyVault', 'kubernetes', 'memory'] as const;
export type AuditTargetKind = (typeof AUDIT_TARGET_KINDS)[number];

/** Longest error message kept; longer ones are cut and end in `…`. */
export const MAX_ERROR_MESSAGE_LENGTH = 500;

/** Who or what started the work. */
export interface AuditActor {
  readonly kind: ActorKind;
  /** Event source/subject, operator principal (object id or UPN), or timer name. */
  readonly id: string;
}

/** What the record is a consequence of. */
export interface AuditCause {
  readonly eventId?: string;
  readonly instanceId?: string;
}

export interface AuditSourceRef {
  /** Vault URL; stored as its origin (`https://host[:port]`). */
  readonly vault: string;
  readonly name: string;
  readonly version?: string;
}

export interface AuditTargetRef {
  /** Target id from the config. */
  readonly id: string;
  readonly kind: AuditTargetKind;
  /** Where it landed, e.g. `contoso.vault.azure.net/db-password` or `edge-1/apps/db#password`. */
  readonly location?: string;
}

export interface AuditError {
  /** Error class or classification, e.g. `TransientTargetError`. */
  readonly class: string;
  /** Never a value. Cut to {@link MAX_ERROR_MESSAGE_LENGTH} characters; control characters become spaces. */
  readonly message?: string;
}

interface AuditRecordInputBase {
  readonly actor: AuditActor;
  readonly cause?: AuditCause;
  readonly source?: AuditSourceRef;
  readonly target?: AuditTargetRef;
  /** Constant reason (e.g. from the delivery decision). */
  readonly reason?: string;
  /** Keyed fingerprint (`hmac-sha256:<keyId>:<digest>`), never a plain hash or a value. */
  readonly fingerprint?: string;
  readonly error?: AuditError;
  /** When it happened; defaults to the time of the append. Decides the hour partition. */
  readonly time?: Date | string;
}

/** What a caller gives to `append`: only schema fields; anything else is refused. */
export type AuditRecordInput = {
  [A in AuditAction]: AuditRecordInputBase & { readonly action: A; readonly status: AuditStatusOf<A> };
}[AuditAction];

/** A stored record (one JSON line). Absent optional parts are `null`, so every record has every field. */
export interface AuditRecord {
  readonly v: number;
  /** Deterministic id: the same input (apart from `time`) always gives the same id. */
  readonly id: string;
  /** ISO 8601 UTC with milliseconds. */
  readonly time: string;
  readonly actor: AuditActor;
  readonly cause: { readonly eventId: string | null; readonly instanceId: string | null };
  readonly source: { readonly vault: string; readonly name: string; readonly version: string | null } | null;
  readonly target: { readonly id: string; readonly kind: AuditTargetKind; readonly location: string | null } | null;
  readonly action: AuditAction;
  readonly status: AuditStatus;
  readonly reason: string | null;
  readonly fingerprint: string | null;
  readonly error: { readonly class: string; readonly message: string | null } | null;
  /** Position of the record in its blob (0-based). */
  readonly seq: number;
  /** `sha256` or `hmac-sha256:<keyId>`. */
  readonly chain: string;
  /** Hash of the previous record of the blob (or the blob's genesis value). */
  readonly prev: string;
  /**
   * Index of the Append Block that holds the record in its blob: records appended in one group commit share a block.
   * Absent on records written before group commit (each was its own block).
   */
  readonly blk?: number;
  /** Hash of this record's line without the `hash` member. */
  readonly hash: string;
}

/** The content part of a record: what the writer adds (`seq`, `chain`, `prev`, `blk`, `hash`) is not in it. */
export type AuditRecordContent = Omit<AuditRecord, 'seq' | 'chain' | 'prev' | 'blk' | 'hash'>;

/** Thrown when an input has a field outside the schema or a field breaks its rule. Names fields, never values. */
export class AuditRecordRejectedError extends Error {
  override readonly name = 'AuditRecordRejectedError';
  constructor(readonly problems: readonly string[]) {
    super(`audit record rejected: ${problems.join('; ')}`);
  }
}

const TOKEN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const PRINTABLE = /^[\x21-\x7e]+$/;
const printable = (max: number) => z.string().min(1).max(max).regex(PRINTABLE);
const KV_NAME = /^[0-9A-Za-z-]{1,127}$/;
const VERSION = /^[0-9A-Za-z-]{1,64}$/;
const TARGET_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

const inputSchema = z.strictObject({
  action: z.enum(AUDIT_ACTIONS as [AuditAction, ...AuditAction[]]),
  status: z.string(),
  actor: z.strictObject({
    kind: z.enum(ACTOR_KINDS),
    id: z.string().min(1).max(256).regex(/^[^\x00-\x1f\x7f]+$/),
  }),
  cause: z
    .strictObject({ eventId: printable(256).optional(), instanceId: printable(256).optional() })
    .optional(),
  source: z
    .strictObject({
      vault: z.string().max(256).refine(isHttpUrl, 'must be an http(s) URL'),
      name: z.string().regex(KV_NAME),
      version: z.string().regex(VERSION).optional(),
    })
    .optional(),
  target: z
    .strictObject({
      id: z.string().regex(TARGET_ID),
      kind: z.enum(AUDIT_TARGET_KINDS),
      location: printable(512).optional(),
    })
    .optional(),
  reason: z.string().regex(TOKEN).optional(),
  fingerprint: z
    .string()
    .max(128)
    .refine((text) => parseFingerprint(text) !== undefined, 'must be hmac-sha256:<keyId>:<digest>')
    .optional(),
  error: z.strictObject({ class: z.string().regex(TOKEN), message: z.string().optional() }).optional(),
  time: z.union([z.date(), z.string()]).optional(),
});

function idOfPartial(partial: Omit<AuditRecordContent, 'id' | 'time'>): string {
  return `ar1-${createHash('sha256').update(JSON.stringify(partial)).digest('hex').slice(0, 32)}`;
}

/**
 * The id a stored record's content gives (what `buildRecordContent` computed when it was written); a record whose
 * `id` differs was edited after its id was computed. Members are read in schema order, whatever order the line has.
 */
export function recordIdOf(record: AuditRecordContent): string {
  return idOfPartial({
    v: record.v,
    actor: record.actor ? { kind: record.actor.kind, id: record.actor.id } : record.actor,
    cause: record.cause ? { eventId: record.cause.eventId, instanceId: record.cause.instanceId } : record.cause,
    source: record.source ? { vault: record.source.vault, name: record.source.name, version: record.source.version } : null,
    target: record.target ? { id: record.target.id, kind: record.target.kind, location: record.target.location } : null,
    action: record.action,
    status: record.status,
    reason: record.reason,
    fingerprint: record.fingerprint,
    error: record.error ? { class: record.error.class, message: record.error.message } : null,
  });
}

const LINE_HEAD = /^\{"v":1,"id":"ar1-[0-9a-f]{32}","time":"[^"]{1,40}",/;

/**
 * The id of a stored line's content read from its text, for a line laid out as the writer lays it out (content
 * members in schema order, then `seq`): SHA-256 of the members between `time` and `seq`. Undefined for any other
 * layout (then {@link recordIdOf} of the parsed record decides). Saves verify re-serialising every record.
 */
export function idOfLine(line: string): string | undefined {
  const head = LINE_HEAD.exec(line);
  if (!head) return undefined;
  const end = line.indexOf(',"seq":', head[0].length);
  if (end === -1) return undefined;
  return `ar1-${hash('sha256', `{"v":1,${line.slice(head[0].length, end)}}`, 'hex').slice(0, 32)}`;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** Makes an error message safe for one JSON line: no control characters, at most the cap. */
export function capMessage(message: string): string {
  const flat = message.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length <= MAX_ERROR_MESSAGE_LENGTH ? flat : `${flat.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…`;
}

/**
 * Validates an input and turns it into a record's content: refuses unknown fields and statuses that do not belong
 * to the action, normalises the vault to its origin, caps the error message and computes the deterministic id.
 */
export function buildRecordContent(input: AuditRecordInput, now: () => Date = () => new Date()): AuditRecordContent {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    throw new AuditRecordRejectedError(
      parsed.error.issues.map((issue) => {
        const path = issue.path.join('.') || '(record)';
        return issue.code === 'unrecognized_keys' ? `${path}: fields not in the schema: ${issue.keys.join(', ')}` : `${path}: ${issue.message}`;
      }),
    );
  }
  const value = parsed.data;
  const allowed = AUDIT_ACTION_STATUSES[value.action] as readonly string[];
  if (!allowed.includes(value.status)) {
    throw new AuditRecordRejectedError([`status: not an outcome of action "${value.action}" (allowed: ${allowed.join(', ')})`]);
  }
  const time = value.time === undefined ? now() : new Date(value.time);
  if (Number.isNaN(time.getTime())) throw new AuditRecordRejectedError(['time: not a valid date']);

  const partial = {
    v: AUDIT_SCHEMA_VERSION,
    actor: { kind: value.actor.kind, id: value.actor.id },
    cause: { eventId: value.cause?.eventId ?? null, instanceId: value.cause?.instanceId ?? null },
    source: value.source
      ? { vault: new URL(value.source.vault).origin, name: value.source.name, version: value.source.version ?? null }
      : null,
    target: value.target
      ? { id: value.target.id, kind: value.target.kind, location: value.target.location ?? null }
      : null,
    action: value.action,
    status: value.status as AuditStatus,
    reason: value.reason ?? null,
    fingerprint: value.fingerprint ?? null,
    error: value.error
      ? { class: value.error.class, message: value.error.message === undefined ? null : capMessage(value.error.message) }
      : null,
  };
  const id = idOfPartial(partial);
  return {
    v: partial.v,
    id,
    time: time.toISOString(),
    actor: partial.actor,
    cause: partial.cause,
    source: partial.source,
    target: partial.target,
    action: partial.action,
    status: partial.status,
    reason: partial.reason,
    fingerprint: partial.fingerprint,
    error: partial.error,
  };
}
