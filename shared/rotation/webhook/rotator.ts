import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { NewCredential, RetireOptions, Rotator, SetCredentialOptions, SlotPair } from '../contract.js';
import { RotatorError } from '../contract.js';

/** Version of the webhook contract (docs/rotation.md), sent as `X-Relay-Contract`. */
export const WEBHOOK_CONTRACT_VERSION = '1';
export const SIGNATURE_HEADER = 'x-relay-signature';
export const TIMESTAMP_HEADER = 'x-relay-timestamp';

/** One HTTPS POST (built in the composition root over `node:https` with the configured TLS trust). */
export type HttpsPost = (
  url: string,
  body: string,
  options: { headers: Record<string, string>; timeoutInMs: number; abortSignal?: AbortSignal },
) => Promise<{ status: number; body: string; headers: Record<string, string | undefined> }>;

export type WebhookAuth =
  | { readonly type: 'bearer'; readonly token: () => Promise<string> }
  | { readonly type: 'hmac'; readonly key: () => Promise<string> };

export interface WebhookRotatorOptions {
  readonly url: string;
  readonly slots: SlotPair;
  readonly auth: WebhookAuth;
  readonly post: HttpsPost;
  /** Reads a secret the owner answered with a reference to; absent when the route names no owner vault. */
  readonly readOwnerSecret?: (reference: { vaultUrl: string; name: string; version?: string }) => Promise<string>;
  readonly timeoutInMs: number;
  readonly maxAttempts: number;
  /** Sleep between attempts (tests pass a fast one); default real time. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Unix clock for the signature timestamp; default `Date.now`. */
  readonly nowInMs?: () => number;
}

/** The owner's answer to `rotate`: the new value itself, or where in the owner's vault it is. */
const rotateAnswer = z.union([
  z.strictObject({ nonce: z.string(), value: z.string().min(1).max(25_000) }),
  z.strictObject({
    nonce: z.string(),
    reference: z.strictObject({ vaultUrl: z.url({ protocol: /^https$/ }), name: z.string().min(1), version: z.string().min(1).optional() }),
  }),
]);

/**
 * The HMAC signature of a request body: `v1=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`. Owners recompute it and
 * refuse stale timestamps (5 minutes) and repeated nonces.
 */
export function signWebhookBody(key: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Rotates a platform-owned credential by calling its owner over HTTPS (contract in docs/rotation.md): `rotate`
 * asks the owner to give the inactive slot a new credential and answer with it (or with a reference into the owner's
 * vault), `retire` asks it to lock a slot. Each request carries a fresh nonce the answer must echo, and a bearer
 * token or an HMAC signature. Timeouts, network errors, 408, 429 and 5xx are retried up to `maxAttempts` with the same
 * nonce (the owner's idempotency key), waiting 1 s, 2 s, 4 s … or the answer's Retry-After.
 */
export function createWebhookRotator(options: WebhookRotatorOptions): Rotator {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.nowInMs ?? Date.now;
  const host = new URL(options.url).host;

  async function send(action: 'rotate' | 'retire', payload: Record<string, string>, abortSignal?: AbortSignal): Promise<string> {
    const body = JSON.stringify({ action, ...payload });
    let last: RotatorError | undefined;
    for (let attempt = 1; attempt <= options.maxAttempts; attempt++) {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-relay-contract': WEBHOOK_CONTRACT_VERSION };
      const timestamp = String(Math.floor(now() / 1000));
      try {
        if (options.auth.type === 'bearer') headers['authorization'] = `Bearer ${await options.auth.token()}`;
        else {
          headers[TIMESTAMP_HEADER] = timestamp;
          headers[SIGNATURE_HEADER] = signWebhookBody(await options.auth.key(), timestamp, body);
        }
      } catch (error) {
        throw new RotatorError(`${action} at ${host}: cannot get the credential to sign the request: ${describe(error)}`, 'FailedAccessDenied', 'owner-auth-unavailable', true, { cause: error });
      }
      let answer;
      try {
        answer = await options.post(options.url, body, { headers, timeoutInMs: options.timeoutInMs, ...(abortSignal ? { abortSignal } : {}) });
      } catch (error) {
        last = new RotatorError(`${action} at ${host}: ${describe(error)} (attempt ${attempt}/${options.maxAttempts})`, 'FailedUnavailable', 'owner-unavailable', true, { cause: error });
        if (attempt < options.maxAttempts) await sleep(1000 * 2 ** (attempt - 1));
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return answer.body;
      const what = `${action} at ${host}: HTTP ${answer.status}`;
      if (answer.status === 408 || answer.status === 429 || answer.status >= 500) {
        last = new RotatorError(`${what} (attempt ${attempt}/${options.maxAttempts})`, 'FailedUnavailable', 'owner-unavailable', true);
        const retryAfter = Number(answer.headers['retry-after']);
        if (attempt < options.maxAttempts) await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 60) * 1000 : 1000 * 2 ** (attempt - 1));
        continue;
      }
      if (answer.status === 401 || answer.status === 403) throw new RotatorError(`${what}: the owner refused the relay's credentials`, 'FailedAccessDenied', 'owner-refused-auth', false);
      throw new RotatorError(`${what}: the owner refused the request`, 'FailedValidation', 'owner-rejected', false);
    }
    throw last ?? new RotatorError(`${action} at ${host}: no attempt made`, 'FailedUnavailable', 'owner-unavailable', true);
  }

  return {
    kind: 'webhook',
    slots: options.slots,
    async setCredential(slot: string, call: SetCredentialOptions): Promise<NewCredential> {
      assertSlot(options.slots, slot);
      const text = await send('rotate', { credentialId: call.credentialId, slot, nonce: call.nonce }, call.abortSignal);
      let parsed;
      try {
        parsed = rotateAnswer.safeParse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      if (!parsed?.success) {
        throw new RotatorError(`rotate at ${host}: the answer is not {nonce, value} or {nonce, reference} JSON`, 'FailedValidation', 'owner-answer-invalid', false);
      }
      if (parsed.data.nonce !== call.nonce) {
        throw new RotatorError(`rotate at ${host}: the answer echoes another nonce (a replayed or misrouted answer)`, 'FailedValidation', 'owner-answer-nonce', false);
      }
      if ('value' in parsed.data) return { value: parsed.data.value };
      const reference = parsed.data.reference;
      if (!options.readOwnerSecret) {
        throw new RotatorError(`rotate at ${host}: the owner answered with a reference, but the route names no ownerVaultUrl`, 'FailedValidation', 'owner-vault-not-configured', false);
      }
      try {
        return { value: await options.readOwnerSecret(reference) };
      } catch (error) {
        if (error instanceof RotatorError) throw error;
        throw new RotatorError(`rotate at ${host}: cannot read the answered reference ${reference.name}: ${describe(error)}`, 'FailedUnavailable', 'owner-vault-unreadable', true, { cause: error });
      }
    },
    async retire(slot: string, call: RetireOptions): Promise<void> {
      assertSlot(options.slots, slot);
      await send('retire', { credentialId: call.credentialId, slot, nonce: call.nonce }, call.abortSignal);
    },
  };
}

function assertSlot(slots: SlotPair, slot: string): void {
  if (!slots.includes(slot)) throw new RotatorError(`"${slot}" is not one of the slots ${slots.join(', ')}`, 'FailedValidation', 'slot-unknown', false);
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}
