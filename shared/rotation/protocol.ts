import { randomUUID } from 'node:crypto';
import type { RetirementConfig, RouteConfig } from '../domain/config.js';
import { planDeliveries } from '../domain/plan.js';
import type { SecretVersionRef } from '../domain/references.js';
import { ownerOf } from '../domain/references.js';
import { matchingRoutes } from '../domain/routes.js';
import type { RelayRuntime } from '../runtime.js';
import { SourceVaultError } from '../sources/index.js';
import { RotatorError, type RotatorFailureStatus } from './contract.js';
import { chooseSlot, PREVIOUS_SLOT_TAG, SLOT_TAG } from './slots.js';

/**
 * The steps of the dual-credential protocol, as activity bodies over the runtime's ports. Inputs and outputs are
 * references, slot names and statuses only (they land in Durable history); values stay inside `rotateAtOwner`.
 */

/** Tag written on a source version created by a rotation (same tag as the generate path: its event is not relayed again). */
export const ROTATION_ID_TAG = 'relay-rotation';

export interface RotationStepFailure {
  readonly ok: false;
  readonly status: RotatorFailureStatus | 'FailedSourceMissing';
  readonly reason: string;
  readonly message: string;
}

/** Which rotator a secret's route uses, and its retirement rule. */
export type RotationPlan =
  | { readonly ok: true; readonly rotator: 'generate' }
  | { readonly ok: true; readonly rotator: 'postgres' | 'webhook'; readonly routeId: string; readonly slots: readonly [string, string]; readonly retirement: RetirementConfig }
  | RotationStepFailure;

export interface RotationStepInput {
  readonly sourceId: string;
  readonly name: string;
  readonly rotationId: string;
}

/** What `rotateAtOwner` did: the slot now active, the one to retire later, and the new source version. */
export type OwnerRotationResult =
  | {
      readonly ok: true;
      readonly ref: SecretVersionRef;
      readonly slot: string;
      /** The slot active before; absent on the first rotation of a new secret (nothing to retire). */
      readonly previousSlot?: string;
      /** True when a retried activity found the version it had already written (the owner was not called again). */
      readonly reused: boolean;
    }
  | (RotationStepFailure & { readonly step: 'precheck' | 'owner' | 'source' });

/** Which routed targets hold a source version. */
export interface ConvergenceResult {
  readonly checked: number;
  readonly converged: boolean;
  /** Targets that do not hold the version (yet), with what they hold. */
  readonly pending: readonly { readonly targetId: string; readonly location: string; readonly held: string }[];
}

export interface RetireInput extends RotationStepInput {
  readonly routeId: string;
  readonly slot: string;
}

export type RetireResult = { readonly ok: true; readonly slot: string } | RotationStepFailure;

/** Finds the rotation route of a secret and says which rotator it uses. Permission: secrets/readMetadata (source). */
export async function planRotation(runtime: RelayRuntime, input: Omit<RotationStepInput, 'rotationId'>): Promise<RotationPlan> {
  const found = await rotationRoute(runtime, input);
  if (!found.ok) return found;
  const { route } = found;
  const rotator = route.rotation!.rotator;
  if (rotator.kind === 'generate') return { ok: true, rotator: 'generate' };
  const slots = rotator.kind === 'postgres' ? rotator.roles : rotator.slots;
  return { ok: true, rotator: rotator.kind, routeId: route.id, slots: [slots[0], slots[1]], retirement: route.rotation!.retirement };
}

/**
 * Steps 1 and 2 of a rotation, in one activity so the value never leaves it: choose the inactive slot from the
 * latest version's `relay-slot` tag, refuse when a routed target still holds an older version (its consumers may
 * still use the inactive slot), give the inactive slot a new credential at the owner (checked to log in), and write
 * it as a new source version tagged with the slot, the previous slot and the rotation id. A retried activity that
 * finds its own version returns it without calling the owner again.
 * Permission: source secrets/readMetadata + secrets/setSecret; the rotator's owner rights.
 */
export async function rotateAtOwner(runtime: RelayRuntime, input: RotationStepInput): Promise<OwnerRotationResult> {
  const source = runtime.config.sources.find((s) => s.id === input.sourceId);
  const found = await rotationRoute(runtime, input);
  if (!found.ok || !source) {
    return { ...(found.ok ? unknownSource(input.sourceId) : found), step: 'precheck' };
  }
  const { route, latest } = found;
  const port = runtime.source(input.sourceId);
  const refOf = (version: string): SecretVersionRef => ({ sourceId: source.id, vaultUrl: source.vaultUrl, name: input.name, version });
  if (latest && latest.tags[ROTATION_ID_TAG] === input.rotationId) {
    const previous = latest.tags[PREVIOUS_SLOT_TAG];
    return { ok: true, reused: true, ref: refOf(latest.version), slot: latest.tags[SLOT_TAG] ?? '', ...(previous ? { previousSlot: previous } : {}) };
  }
  const rotator = runtime.rotator?.(route.id);
  if (!rotator) return { ok: false, step: 'precheck', status: 'FailedValidation', reason: 'rotator-unavailable', message: `route "${route.id}" has no rotator in this runtime` };

  const choice = chooseSlot(rotator.slots, latest?.tags);
  if (!choice.ok) return { ok: false, step: 'precheck', status: 'FailedValidation', reason: choice.reason, message: `${input.sourceId}/${input.name}: ${choice.message}` };
  if (latest) {
    const current = await checkConvergence(runtime, { ref: refOf(latest.version) });
    if (!current.converged) {
      return {
        ok: false,
        step: 'precheck',
        status: 'FailedValidation',
        reason: 'previous-version-not-converged',
        message: `${pendingText(current)} do not hold the current version ${latest.version.slice(0, 8)}; slot "${choice.next}" may still be in use, so it is not changed`,
      };
    }
  }

  const credentialId = `${input.sourceId}/${input.name}`;
  let value: string;
  try {
    ({ value } = await rotator.setCredential(choice.next, { credentialId, nonce: randomUUID(), generate: () => runtime.generateValue(route.rotation!) }));
  } catch (error) {
    if (error instanceof RotatorError && !error.retryable) return { ok: false, step: 'owner', status: error.status, reason: error.reason, message: error.message };
    throw asRetryable(error);
  }
  const policy = route.rotation!;
  const expiresOn = policy.validityDays ? new Date(runtime.now().getTime() + policy.validityDays * 86_400_000) : undefined;
  try {
    const { version } = await port.setNewVersion(input.name, value, {
      contentType: latest?.contentType ?? (rotator.kind === 'postgres' ? 'application/json' : 'text/plain'),
      ...(expiresOn ? { expiresOn } : {}),
      tags: {
        ...(latest?.tags ?? {}),
        [SLOT_TAG]: choice.next,
        [ROTATION_ID_TAG]: input.rotationId,
        ...(choice.previous ? { [PREVIOUS_SLOT_TAG]: choice.previous } : {}),
      },
    });
    runtime.log.info(`rotated ${credentialId} at its owner: slot ${choice.next} active in new version ${version}`, { rotationId: input.rotationId });
    return { ok: true, reused: false, ref: refOf(version), slot: choice.next, ...(choice.previous ? { previousSlot: choice.previous } : {}) };
  } catch (error) {
    // The inactive slot has a credential nobody received: harmless, and the next attempt sets another one.
    if (error instanceof SourceVaultError) return { ok: false, step: 'source', status: error.status, reason: error.reason, message: error.message };
    throw asRetryable(error);
  }
}

/**
 * Observes every target routed to a source version and says which do not hold it. Reads target metadata only.
 * Permission: secrets/readMetadata (source), the targets' read rights.
 */
export async function checkConvergence(runtime: RelayRuntime, input: { readonly ref: SecretVersionRef }): Promise<ConvergenceResult> {
  const { ref } = input;
  const properties = await runtime.source(ref.sourceId).getVersionProperties(ref.name, ref.version);
  const planned = planDeliveries(runtime.config, { sourceId: ref.sourceId, name: ref.name, tags: properties?.tags ?? {} });
  const owner = ownerOf(ref.vaultUrl, ref.name);
  const pending: { targetId: string; location: string; held: string }[] = [];
  for (const delivery of planned) {
    const location = `${delivery.targetId}:${delivery.placement.name}${delivery.placement.key ? `#${delivery.placement.key}` : ''}`;
    let held: string;
    try {
      const observed = await runtime.target(delivery.targetId).observe(delivery.placement, { owner });
      held =
        observed.state !== 'present' ? observed.state
        : !observed.marks || observed.marks.source !== owner ? 'not-owned'
        : observed.marks.sourceVersion;
    } catch (error) {
      held = 'unreadable';
      runtime.log.warn(`convergence check of ${ref.name}@${ref.version.slice(0, 8)} on ${location}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (held !== ref.version) pending.push({ targetId: delivery.targetId, location, held });
  }
  return { checked: planned.length, converged: pending.length === 0, pending };
}

/** Step 4: locks the previously active slot at the owner. Repeating it is harmless. Permission: the rotator's owner rights. */
export async function retireSlot(runtime: RelayRuntime, input: RetireInput): Promise<RetireResult> {
  const rotator = runtime.rotator?.(input.routeId);
  if (!rotator) return { ok: false, status: 'FailedValidation', reason: 'rotator-unavailable', message: `route "${input.routeId}" has no rotator in this runtime` };
  try {
    await rotator.retire(input.slot, { credentialId: `${input.sourceId}/${input.name}`, nonce: randomUUID() });
    runtime.log.info(`retired slot ${input.slot} of ${input.sourceId}/${input.name}`, { rotationId: input.rotationId });
    return { ok: true, slot: input.slot };
  } catch (error) {
    if (error instanceof RotatorError && !error.retryable) return { ok: false, status: error.status, reason: error.reason, message: error.message };
    throw asRetryable(error);
  }
}

/** "2 of 3 targets (contoso:db, edge-1-apps:db#password)". */
export function pendingText(result: ConvergenceResult): string {
  const shown = result.pending.slice(0, 5).map((p) => `${p.location} holds ${p.held.slice(0, 8)}`).join(', ');
  return `${result.pending.length} of ${result.checked} targets (${shown}${result.pending.length > 5 ? ', …' : ''})`;
}

async function rotationRoute(runtime: RelayRuntime, input: { sourceId: string; name: string }) {
  if (!runtime.config.sources.some((s) => s.id === input.sourceId)) return unknownSource(input.sourceId);
  let latest;
  try {
    latest = await runtime.source(input.sourceId).getLatestProperties(input.name);
  } catch (error) {
    if (error instanceof SourceVaultError) return { ok: false as const, status: error.status, reason: error.reason, message: error.message };
    throw asRetryable(error);
  }
  const route: RouteConfig | undefined = matchingRoutes(runtime.config, { sourceId: input.sourceId, name: input.name, tags: latest?.tags ?? {} }).find(
    (candidate) => candidate.rotation !== undefined,
  );
  if (!route) {
    return { ok: false as const, status: 'FailedValidation' as const, reason: 'no-rotation-policy', message: `no route for ${input.sourceId}/${input.name} has a rotation policy` };
  }
  return { ok: true as const, route, latest };
}

function unknownSource(sourceId: string): RotationStepFailure {
  return { ok: false, status: 'FailedValidation', reason: 'unknown-source', message: `source "${sourceId}" is not in the relay config` };
}

/** A transient failure as an Error whose message starts with its status (survives the activity boundary). */
function asRetryable(error: unknown): Error {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(`FailedUnavailable: ${text.length > 500 ? `${text.slice(0, 499)}…` : text}`);
}
