import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DRIFT_INFO, driftOf, type SourceState } from '../domain/drift.js';
import { planDeliveries } from '../domain/plan.js';
import { ownerOf } from '../domain/references.js';
import { isDeliveryStatus, STATUS_INFO } from '../domain/statuses.js';
import { ORCHESTRATIONS, relayInstanceId, rotateInstanceId } from '../orchestrations/names.js';
import type { Actor, RelayInput, RelaySummary, RotateInput } from '../orchestrations/types.js';
import type { RelayRuntime } from '../runtime.js';
import type { OrchestrationClientPort } from './ports.js';
import { driftReportView, isReconcileReport } from '../fleet/report.js';

/** A framework-free HTTP answer; functions/ turn it into an HttpResponseInit. */
export interface HttpAnswer {
  readonly status: number;
  readonly jsonBody: unknown;
  readonly headers?: Record<string, string>;
}

const rotationRequest = z
  .object({
    source: z.string().min(1),
    name: z.string().regex(/^[A-Za-z0-9-]{1,127}$/, 'must be a Key Vault secret name: 1-127 letters, digits or dashes'),
    mode: z.enum(['relay', 'rotate']),
    targets: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** How the app learns who called: the platform's settings and the key the caller presented. */
export interface ActorSources {
  /** App Service authentication (Easy Auth) is enabled for the app: the platform setting `WEBSITE_AUTH_ENABLED=True`. */
  readonly appServiceAuthEnabled: boolean;
  /** The key the request presented (`code` query parameter or `x-functions-key` header), if any. */
  readonly presentedKey?: string | null;
  /** Labels a key without revealing it (a keyed fingerprint under the relay's fingerprint key). */
  readonly labelKey: (key: string) => string;
}

/** Whether the platform says App Service authentication is on for this app (`WEBSITE_AUTH_ENABLED`, "True"). */
export function isAppServiceAuthEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return env['WEBSITE_AUTH_ENABLED']?.trim().toLowerCase() === 'true';
}

/**
 * The operator behind a request. The App Service authentication principal headers are trusted only when App Service
 * authentication is enabled for the app: then the platform strips them from outside requests and sets them itself;
 * otherwise anyone holding a function key can send them. Without it the actor is the key the caller proved it holds,
 * as `function-key:<label>` (a keyed label of the key, never the key).
 */
export function actorFromRequest(get: (name: string) => string | null, sources: ActorSources): Actor {
  if (sources.appServiceAuthEnabled) {
    const principal = principalFromHeaders(get);
    if (principal) return { kind: 'operator', id: principal };
  }
  const key = sources.presentedKey;
  return { kind: 'operator', id: key ? `function-key:${sources.labelKey(key)}` : 'function key' };
}

function principalFromHeaders(get: (name: string) => string | null): string | undefined {
  const name = get('x-ms-client-principal-name');
  if (name) return name.slice(0, 256);
  const encoded = get('x-ms-client-principal');
  if (encoded) {
    try {
      const principal = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as { userDetails?: string; userId?: string };
      const id = principal.userDetails ?? principal.userId;
      if (id) return String(id).slice(0, 256);
    } catch {
      // an unreadable principal header is treated as absent
    }
  }
  return get('x-ms-client-principal-id')?.slice(0, 256) || undefined;
}

/** `POST /api/rotations`: starts a relay of the current version or a rotation; 202 with status URLs. */
export async function startRotationRequest(
  body: unknown,
  actor: Actor,
  baseUrl: string,
  runtime: RelayRuntime,
  client: OrchestrationClientPort,
): Promise<HttpAnswer> {
  const parsed = rotationRequest.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({ path: `$.${issue.path.join('.')}`, message: issue.message }));
    return { status: 400, jsonBody: { error: 'InvalidRequest', message: describeProblems(problems), problems } };
  }
  const request = parsed.data;
  const source = runtime.config.sources.find((s) => s.id === request.source);
  if (!source) {
    return badRequest(`$.source: unknown source "${request.source}"; configured: ${runtime.config.sources.map((s) => s.id).join(', ')}`);
  }
  const unknownTargets = (request.targets ?? []).filter((id) => !runtime.config.targets.some((t) => t.id === id));
  if (unknownTargets.length > 0) return badRequest(`$.targets: unknown target(s) ${unknownTargets.map((t) => `"${t}"`).join(', ')}`);

  const latest = await runtime.source(source.id).getLatestProperties(request.name);
  if (request.mode === 'relay' && !latest) {
    return { status: 404, jsonBody: { error: 'SecretNotFound', message: `${source.id}/${request.name} does not exist in the source vault` } };
  }
  const routed = planDeliveries(runtime.config, { sourceId: source.id, name: request.name, tags: latest?.tags ?? {} });
  if (routed.length === 0) {
    return badRequest(`$.name: no route sends ${source.id}/${request.name} anywhere`);
  }
  if (request.targets && request.mode === 'rotate') {
    // The rotation's own Key Vault event is not relayed: a restricted rotation would strand every other target.
    return badRequest(
      `$.targets: a rotation writes a new source version that every routed target must receive; omit targets (or use mode "relay" to re-relay the current version to some targets)`,
    );
  }
  const routedIds = new Set(routed.map((delivery) => delivery.targetId));
  const unrouted = (request.targets ?? []).filter((id) => !routedIds.has(id));
  if (unrouted.length > 0) {
    return badRequest(
      `$.targets: no route sends ${source.id}/${request.name} to ${unrouted.map((t) => `"${t}"`).join(', ')}; routed targets: ${[...routedIds].join(', ')}`,
    );
  }
  const cause = { actor, trigger: 'manual' as const };
  let instanceId: string;
  let started: 'started' | 'already-running';
  if (request.mode === 'relay') {
    instanceId = relayInstanceId(source.id, request.name, latest!.version);
    const input: RelayInput = {
      ref: { sourceId: source.id, vaultUrl: source.vaultUrl, name: request.name, version: latest!.version },
      cause,
      ...(request.targets ? { targets: request.targets } : {}),
    };
    started = await client.start(ORCHESTRATIONS.relaySecretVersion, instanceId, input);
  } else {
    instanceId = rotateInstanceId(source.id, request.name, randomUUID());
    const input: RotateInput = { sourceId: source.id, name: request.name, cause };
    started = await client.start(ORCHESTRATIONS.rotateCredential, instanceId, input);
  }
  const statusUrl = `${baseUrl.replace(/\/$/, '')}/api/rotations/${encodeURIComponent(instanceId)}`;
  if (started === 'already-running') {
    return {
      status: 409,
      jsonBody: { error: 'AlreadyRunning', message: `a relay of this version is already running: ${instanceId}`, id: instanceId, statusUrl },
      headers: { Location: statusUrl },
    };
  }
  runtime.log.info(`${request.mode} ${instanceId} started by ${actor.id}`);
  return { status: 202, jsonBody: { id: instanceId, mode: request.mode, statusUrl }, headers: { Location: statusUrl, 'Retry-After': '2' } };
}

/** `GET /api/rotations/{id}`: the orchestration's status with per-target outcomes. */
export async function getRotationStatus(instanceId: string, client: OrchestrationClientPort): Promise<HttpAnswer> {
  const status = await client.status(instanceId);
  if (!status) return { status: 404, jsonBody: { error: 'NotFound', message: `no rotation or relay with id "${instanceId}"` } };
  const output = status.output as
    | (Partial<RelaySummary> & { relay?: RelaySummary; relayInstanceId?: string; ok?: boolean; hint?: string; status?: string; requestReason?: string })
    | null
    | undefined;
  const summary = output?.relay ?? (output?.outcomes ? (output as RelaySummary) : undefined);
  // A reconciliation's output is its report: its repairs' outcomes, and the findings with what became of each.
  const reconcile = isReconcileReport(output) ? driftReportView(output) : undefined;
  const repairOutcomes = isReconcileReport(output) ? output.repairs.flatMap((repair) => repair.summary?.outcomes ?? []) : [];
  const outcomes = (summary?.outcomes ?? repairOutcomes).map((outcome) =>
    isDeliveryStatus(outcome.status) && !STATUS_INFO[outcome.status].ok && outcome.hint === undefined
      ? { ...outcome, hint: STATUS_INFO[outcome.status].hint }
      : outcome,
  );
  const failedDeliveries = outcomes.filter((outcome) => isDeliveryStatus(outcome.status) && !STATUS_INFO[outcome.status].ok).length;
  return {
    status: 200,
    jsonBody: {
      id: status.instanceId,
      kind: status.name,
      runtimeStatus: status.runtimeStatus,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
      progress: status.customStatus ?? null,
      ref: summary?.ref ?? (output as { ref?: unknown } | undefined)?.ref ?? null,
      relayInstanceId: output?.relayInstanceId ?? null,
      ok: output ? (output.ok ?? null) : null,
      // A reconciliation has no `ok`: it succeeded when every target could be checked (repairs count as deliveries).
      result: resultOf(status.runtimeStatus, isReconcileReport(output) ? { ok: output.checkFailed === 0 && output.unchecked.length === 0 } : output, failedDeliveries),
      failed: summary ? failedDeliveries : null,
      counts: summary?.counts ?? null,
      outcomes,
      // A relay split into parts lists its failures only; its successes are in `counts`.
      ...(summary?.omittedOutcomes ? { omittedOutcomes: summary.omittedOutcomes } : {}),
      ...(reconcile ? { reconcile } : {}),
      ...(output && output.ok === false && !summary ? { failure: withStatusHint(output) } : {}),
      ...(summary?.rejected ? { failure: withStatusHint(summary.rejected) } : {}),
      ...(typeof output?.requestReason === 'string' ? { requestReason: output.requestReason } : {}),
      // Two-slot rotations: the slot now active and whether the previous one was retired or kept (and why).
      ...(output && 'retirement' in output ? { slot: (output as { slot?: string }).slot ?? null, retirement: (output as { retirement: unknown }).retirement } : {}),
    },
  };
}

const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;

/**
 * `GET /api/secrets/{source}/{name}`: each target's current state, read live from ownership metadata (never a value).
 * Names the source's state (`enabled`, `disabled`, `deleted`) and, for each target out of sync, its `drift` with the
 * operator hint. A target that cannot be read is `state: "error"` with its reason; the others are still read.
 * 400 for a name outside Key Vault's rules, 404 for an unknown source or a secret neither the source nor any target
 * knows, 502 when the source vault cannot be read.
 */
export async function getSecretStatus(sourceId: string, name: string, runtime: RelayRuntime): Promise<HttpAnswer> {
  if (!SECRET_NAME.test(name)) {
    return badRequest(`name: a Key Vault secret name is 1-127 ASCII letters, digits or dashes; got ${JSON.stringify(name.slice(0, 140))}`);
  }
  const source = runtime.config.sources.find((s) => s.id === sourceId);
  if (!source) return { status: 404, jsonBody: { error: 'NotFound', message: `unknown source "${sourceId.slice(0, 100)}"` } };
  let current;
  try {
    current = await runtime.source(source.id).getLatestProperties(name, { includeDisabled: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.slice(0, 300) : 'unknown error';
    return { status: 502, jsonBody: { error: 'SourceUnavailable', message: `cannot read ${sourceId}/${name} from the source vault: ${message}` } };
  }
  const sourceState: SourceState = current ? (current.enabled ? 'enabled' : 'disabled') : 'deleted';
  const owner = ownerOf(source.vaultUrl, name);
  const planned = planDeliveries(runtime.config, { sourceId, name, tags: current?.tags ?? {} });
  const targets = await Promise.all(
    planned.map(async (delivery) => {
      const base = { targetId: delivery.targetId, kind: delivery.kind, routeId: delivery.routeId, placement: delivery.placement };
      try {
        const observed = await runtime.target(delivery.targetId).observe(delivery.placement, {
          owner,
          ...(delivery.k8s ? { type: delivery.k8s.type } : {}),
        });
        const drift = driftOf(observed, { owner, sourceState, ...(current ? { version: current.version } : {}), adopt: delivery.policy.adopt });
        const named = drift ? { drift, hint: DRIFT_INFO[drift].hint } : {};
        if (observed.state !== 'present') {
          return { ...base, state: observed.state, owned: observed.state === 'deleted' && !!observed.marks, inSync: false, ...named };
        }
        const marks = observed.marks;
        return {
          ...base,
          state: 'present',
          owned: !!marks,
          heldVersion: marks?.sourceVersion ?? null,
          fingerprint: marks?.fingerprint ?? null,
          ...(observed.disabled ? { enabled: false } : {}),
          ...(observed.immutable ? { immutable: true } : {}),
          inSync: sourceState === 'enabled' && drift === undefined,
          ...named,
        };
      } catch (error) {
        const message = error instanceof Error ? error.message.slice(0, 300) : 'unknown error';
        const reason = (error as { reason?: unknown } | null)?.reason;
        return {
          ...base,
          state: 'error',
          owned: null,
          inSync: false,
          drift: 'check-failed',
          ...(typeof reason === 'string' ? { reason } : {}),
          hint: DRIFT_INFO['check-failed'].hint,
          message,
        };
      }
    }),
  );
  if (sourceState === 'deleted' && !targets.some((t) => t.drift === 'source-deleted')) {
    return { status: 404, jsonBody: { error: 'SecretNotFound', message: `${sourceId}/${name} does not exist in the source vault` } };
  }
  if (sourceState !== 'enabled') {
    runtime.log.warn(`status: ${sourceId}/${name} is ${sourceState} in the source; targets keep the copies they hold`);
  }
  return {
    status: 200,
    jsonBody: {
      source: sourceId,
      name,
      sourceState,
      ...(sourceState !== 'enabled' ? { sourceHint: DRIFT_INFO[sourceState === 'disabled' ? 'source-disabled' : 'source-deleted'].hint } : {}),
      currentVersion: current?.version ?? null,
      expiresOn: current?.expiresOn ?? null,
      targets,
    },
  };
}

/**
 * One word for what the instance came to, so a relay with failed deliveries never reads as a plain success:
 * `running`, `succeeded`, `failed-deliveries`, `failed` (nothing delivered: rejected plan, failed rotation, failed
 * or terminated instance).
 */
function resultOf(runtimeStatus: string, output: { ok?: boolean; outcomes?: unknown } | null | undefined, failedDeliveries: number): string {
  if (['Pending', 'Running', 'ContinuedAsNew', 'Suspended'].includes(runtimeStatus)) return 'running';
  if (runtimeStatus !== 'Completed') return 'failed';
  // A completed protocol (a slot rotation that kept its old slot, say) with failed deliveries is not a success.
  if (output?.ok === true && failedDeliveries === 0) return 'succeeded';
  return failedDeliveries > 0 ? 'failed-deliveries' : 'failed';
}

function withStatusHint<T extends { status?: string; hint?: string }>(failure: T): T {
  return failure.hint === undefined && isDeliveryStatus(failure.status) ? { ...failure, hint: STATUS_INFO[failure.status].hint } : failure;
}

function badRequest(message: string): HttpAnswer {
  return { status: 400, jsonBody: { error: 'InvalidRequest', message } };
}

function describeProblems(problems: readonly { path: string; message: string }[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}
