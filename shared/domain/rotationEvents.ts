import { z } from 'zod';

/**
 * Custom CloudEvents 1.0 events that platforms send to the `credentialRotationEvents` function:
 * - `SecretRelay.CredentialRotated`: a platform rotated a credential and wrote it to a source vault; relay it.
 * - `SecretRelay.RotationRequested`: generate a new value per the route's rotation policy, write it, relay it.
 * Events carry references only; a `value` field anywhere in `data` is refused so a credential can never be sent here.
 */
export const ROTATION_EVENT_TYPES = ['SecretRelay.CredentialRotated', 'SecretRelay.RotationRequested'] as const;
export type RotationEventType = (typeof ROTATION_EVENT_TYPES)[number];

const name = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,127}$/, 'a Key Vault secret name: 1-127 letters, digits or dashes');

const credentialRotatedData = z
  .object({
    source: z.string().min(1).describe('Source id from relay.config.json'),
    name: name.describe('Secret name in the source vault'),
    version: z
      .string()
      .regex(/^[0-9a-fA-F]{32}$/, 'a 32-hex Key Vault version id')
      .optional()
      .describe('The version written; omitted means the current version'),
    targets: z.array(z.string().min(1)).min(1).optional().describe('Restrict the relay to these target ids'),
  })
  .strict();

const rotationRequestedData = z
  .object({
    source: z.string().min(1).describe('Source id from relay.config.json'),
    name: name.describe('Secret name in the source vault'),
    targets: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Refused (reject-event/Rejected, targets-not-allowed): a rotation reaches every routed target'),
    reason: z.string().max(500).optional().describe('Why the rotation was requested (shown in the rotation status and log, not audited)'),
  })
  .strict();

const envelope = {
  specversion: z.literal('1.0'),
  // The audit records both (cause.eventId, actor.id): refused here, before anything is written, when it could not.
  id: z.string().regex(/^[\x21-\x7e]{1,256}$/, '1-256 printable ASCII characters without spaces'),
  source: z.string().min(1).max(256).regex(/^[^\x00-\x1f\x7f]+$/, 'no control characters'),
  subject: z.string().max(1024).optional(),
  time: z.string().datetime({ offset: true }).optional(),
  datacontenttype: z.string().optional(),
};

export const rotationEventSchema = z.discriminatedUnion('type', [
  z.object({ ...envelope, type: z.literal('SecretRelay.CredentialRotated'), data: credentialRotatedData }),
  z.object({ ...envelope, type: z.literal('SecretRelay.RotationRequested'), data: rotationRequestedData }),
]);

export type RotationEvent = z.infer<typeof rotationEventSchema>;

export type RotationEventParse =
  | { readonly ok: true; readonly event: RotationEvent }
  | { readonly ok: false; readonly reason: 'not-an-object' | 'unknown-type' | 'value-present' | 'invalid'; readonly detail: string };

/** Parses one credential-rotation CloudEvent; the error names every problem with its path. */
export function parseRotationEvent(raw: unknown): RotationEventParse {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'not-an-object', detail: 'the event is not a JSON object' };
  }
  const record = raw as Record<string, unknown>;
  if (!ROTATION_EVENT_TYPES.includes(record.type as RotationEventType)) {
    return {
      ok: false,
      reason: 'unknown-type',
      detail: `type must be one of ${ROTATION_EVENT_TYPES.join(', ')}; got ${JSON.stringify(String(record.type)).slice(0, 80)}`,
    };
  }
  if (typeof record.data === 'object' && record.data !== null && 'value' in record.data) {
    return { ok: false, reason: 'value-present', detail: 'data.value is not accepted: events carry references, never values' };
  }
  const parsed = rotationEventSchema.safeParse(raw);
  if (!parsed.success) {
    // Messages name the path and the rule, never the offending input.
    const detail = parsed.error.issues.map((issue) => `$.${issue.path.join('.')}: ${issue.message}`).join('; ');
    return { ok: false, reason: 'invalid', detail };
  }
  return { ok: true, event: parsed.data };
}

/** The JSON Schema of the events (for docs/events.md and publishers' validation). */
export function rotationEventJsonSchema(): unknown {
  return z.toJSONSchema(rotationEventSchema, { target: 'draft-2020-12' });
}
