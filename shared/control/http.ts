import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { validateConfigText, type ConfigProblem, type RelayConfig } from '../domain/config.js';
import { ORCHESTRATIONS, RECONCILE_INSTANCE_ID, relayInstanceId } from '../orchestrations/names.js';
import type { Actor, RelayInput } from '../orchestrations/types.js';
import type { RelayRuntime } from '../runtime.js';
import { startReconcile } from '../triggers/reconcile.js';
import { actorFromRequest, isAppServiceAuthEnabled, type HttpAnswer } from '../triggers/http.js';
import type { OrchestrationClientPort } from '../triggers/ports.js';
import { planRelays } from './plan.js';
import { checkTarget, type PreflightPorts } from './preflight.js';
import { listRoutedSecrets, mapLimit } from './routed.js';

/** Relays `target sync` starts at once. */
const START_CONCURRENCY = 8;

const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;

const planBody = z
  .object({
    config: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    source: z.string().min(1).optional(),
    name: z.string().regex(SECRET_NAME, 'must be a Key Vault secret name: 1-127 letters, digits or dashes').optional(),
  })
  .strict();

/** Builds a runtime over a proposed config (composition root), to read its vaults and clusters. */
export type ProposedRuntime = (config: RelayConfig) => Pick<RelayRuntime, 'config' | 'source' | 'target'>;

/**
 * `POST /api/plan` `{ config?, source?, name? }`: what a relay of every routed secret's current version would do now
 * (see {@link planRelays}); reads metadata only and writes nothing. With `config` (the text of a relay.config.json,
 * or its JSON object) it plans that proposed config against the live vaults and clusters: 400 listing every problem
 * when it is invalid. A proposed Kubernetes target whose cluster settings differ from every live one is not
 * contacted (its credential reference could send a stored token anywhere): its rows are `blocked` / `cluster-not-live`.
 */
export async function planRequest(body: unknown, runtime: RelayRuntime, proposed: ProposedRuntime): Promise<HttpAnswer> {
  const parsed = planBody.safeParse(body ?? {});
  if (!parsed.success) return invalid(parsed.error.issues.map((i) => ({ path: `$.${i.path.join('.')}`, message: i.message })));
  const request = parsed.data;
  let ports: Pick<RelayRuntime, 'config' | 'source' | 'target'> = runtime;
  let refuse: ((targetId: string) => { reason: string; message: string } | undefined) | undefined;
  if (request.config !== undefined) {
    const text = typeof request.config === 'string' ? request.config : JSON.stringify(request.config, null, 2);
    const result = validateConfigText(text);
    if (!result.ok) {
      return {
        status: 400,
        jsonBody: {
          error: 'InvalidConfig',
          message: `the proposed config has ${result.problems.length} problem(s): ${describe(result.problems)}`,
          problems: result.problems.map((p) => ({ path: `$.config${p.path.slice(1)}`, code: p.code, message: p.message })),
          warnings: result.warnings,
        },
      };
    }
    ports = proposed(result.config);
    const liveClusters = new Set(runtime.config.targets.flatMap((t) => (t.kind === 'kubernetes' ? [JSON.stringify(t.cluster)] : [])));
    const newClusters = new Map(
      result.config.targets.flatMap((t) => (t.kind === 'kubernetes' && !liveClusters.has(JSON.stringify(t.cluster)) ? [[t.id, t.cluster.name] as const] : [])),
    );
    refuse = (targetId) => {
      const cluster = newClusters.get(targetId);
      return cluster === undefined
        ? undefined
        : { reason: 'cluster-not-live', message: `cluster ${cluster} is new or has other settings than the live config's; the plan contacts live clusters only (deploy the config, then plan)` };
    };
  }
  const config = ports.config;
  if (request.source !== undefined && !config.sources.some((s) => s.id === request.source)) {
    return invalid([{ path: '$.source', message: `unknown source "${request.source}"; configured: ${config.sources.map((s) => s.id).join(', ')}` }]);
  }
  const plan = await planRelays(
    {
      config,
      fingerprintKeyId: runtime.fingerprintKey.id,
      source: (id) => ports.source(id),
      target: (id) => ports.target(id),
      ...(refuse ? { refuse } : {}),
    },
    {
      ...(request.source !== undefined ? { sourceId: request.source } : {}),
      ...(request.name !== undefined ? { name: request.name } : {}),
      ...(runtime.checkTimeLimitInMs !== undefined ? { observeTimeLimitInMs: runtime.checkTimeLimitInMs } : {}),
    },
  );
  runtime.log.info(`plan: ${plan.items.length} item(s)${request.config !== undefined ? ' of a proposed config' : ''}: ${Object.entries(plan.counts).filter(([, n]) => n > 0).map(([a, n]) => `${a} ${n}`).join(', ') || 'nothing routed'}`);
  return { status: 200, jsonBody: { ...(request.config !== undefined ? { proposed: true } : {}), ...plan } };
}

/**
 * `POST /api/targets/{id}/check`: preflight of one configured target (see {@link checkTarget}), audited with the
 * operator as actor. 200 with `{ targetId, kind, ok, checks }` whether or not every permission is there; 404 for an
 * unknown target.
 */
export async function targetCheckRequest(targetId: string, actor: Actor, runtime: RelayRuntime, preflight: (targetId: string) => PreflightPorts): Promise<HttpAnswer> {
  const target = runtime.config.targets.find((t) => t.id === targetId);
  if (!target) return unknownTarget(targetId, runtime);
  const result = await checkTarget(target, preflight(targetId), { needsRestarts: runtime.config.routes.some((r) => r.targets.some((rt) => rt.target === targetId && rt.restartDeployments.length > 0)) });
  const failed = result.checks.filter((c) => c.required && c.result !== 'allowed');
  const log = result.ok ? runtime.log.info : runtime.log.warn;
  log.call(runtime.log, `target check ${targetId} by ${actor.id}: ${result.ok ? 'ok' : `missing ${failed.map((c) => `${c.permission} (${c.result})`).join(', ')}`}`);
  const record = [
    {
      action: 'preflight',
      status: result.ok ? 'PreflightPassed' : 'PreflightFailed',
      at: runtime.now().toISOString(),
      cause: { actor, trigger: 'manual' },
      instanceId: `preflight:${targetId}:${runtime.now().getTime()}`,
      target: { id: targetId, kind: target.kind, location: result.location },
      reason: result.ok ? 'all-allowed' : 'missing-permission',
      ...(result.ok ? {} : { message: failed.map((c) => `${c.permission}: ${c.result}${c.detail ? ` (${c.detail})` : ''}`).join('; ') }),
    } as const,
  ];
  try {
    await runtime.audit.append(record);
  } catch (error) {
    // The check itself changed nothing worth keeping; answer it, and say the record is missing.
    runtime.log.warn(`target check ${targetId}: the audit record was not written: ${error instanceof Error ? error.message.slice(0, 300) : 'unknown error'}`);
    return { status: 200, jsonBody: { ...result, audited: false } };
  }
  return { status: 200, jsonBody: result };
}

/**
 * `POST /api/targets/{id}/sync`: re-pushes every source secret routed to one target: one relay of each secret's
 * current version restricted to that target, started with the operator as actor (the deliveries are audited as
 * usual). What the target already holds stays (`UpToDate`, no write); what is missing is created, soft-deleted copies
 * are recovered. 202 with every relay started, 404 for an unknown target.
 */
export async function targetSyncRequest(
  targetId: string,
  actor: Actor,
  baseUrl: string,
  runtime: RelayRuntime,
  client: OrchestrationClientPort,
): Promise<HttpAnswer> {
  if (!runtime.config.targets.some((t) => t.id === targetId)) return unknownTarget(targetId, runtime);
  const routed = await listRoutedSecrets(runtime.config, (id) => runtime.source(id), { targetId });
  // Starts in parallel (a few at a time): a target with a thousand routed secrets answers in seconds, in order.
  const relays = await mapLimit(routed.secrets, START_CONCURRENCY, async (secret) => {
    const id = relayInstanceId(secret.sourceId, secret.name, secret.current.version);
    const input: RelayInput = {
      ref: { sourceId: secret.sourceId, vaultUrl: secret.vaultUrl, name: secret.name, version: secret.current.version },
      cause: { actor, trigger: 'manual' },
      targets: [targetId],
    };
    const base = { source: secret.sourceId, name: secret.name, version: secret.current.version, id, statusUrl: statusUrlOf(baseUrl, id) };
    try {
      return { ...base, started: await client.start(ORCHESTRATIONS.relaySecretVersion, id, input) };
    } catch (error) {
      const message = error instanceof Error ? error.message.slice(0, 300) : 'unknown error';
      runtime.log.warn(`target sync ${targetId}: cannot start ${id}: ${message}`);
      return { ...base, started: 'failed' as const, message };
    }
  });
  runtime.log.info(`target sync ${targetId} by ${actor.id}: ${relays.length} relay(s) started`);
  if (routed.unread.length > 0) runtime.log.warn(`target sync ${targetId}: ${routed.unread.length} source(s) or secret(s) could not be read; their copies were not re-pushed`);
  return {
    status: 202,
    jsonBody: {
      targetId,
      relays,
      counts: {
        started: relays.filter((r) => r.started === 'started').length,
        alreadyRunning: relays.filter((r) => r.started === 'already-running').length,
        failed: relays.filter((r) => r.started === 'failed').length,
      },
      unread: routed.unread,
    },
  };
}

/** `POST /api/reconcile`: starts the reconciliation now, with the operator as actor; 202, or 409 when one is running. */
export async function reconcileNowRequest(actor: Actor, baseUrl: string, runtime: RelayRuntime, client: OrchestrationClientPort): Promise<HttpAnswer> {
  const handled = await startReconcile(actor, runtime, client);
  const statusUrl = `${baseUrl.replace(/\/$/, '')}/api/reconcile`;
  if (handled.result !== 'started') {
    return { status: 409, jsonBody: { error: 'AlreadyRunning', message: handled.detail, id: RECONCILE_INSTANCE_ID, statusUrl }, headers: { Location: statusUrl } };
  }
  return { status: 202, jsonBody: { id: RECONCILE_INSTANCE_ID, statusUrl }, headers: { Location: statusUrl, 'Retry-After': '2' } };
}

/**
 * `GET /api/reconcile`: the last (or running) reconciliation: its runtime status and, once done, what it found and
 * repaired: `{ runtimeStatus, done, createdTime, lastUpdatedTime, report? }`. 404 when none ever ran.
 */
export async function reconcileStatusRequest(client: OrchestrationClientPort): Promise<HttpAnswer> {
  const status = await client.status(RECONCILE_INSTANCE_ID);
  if (!status) return { status: 404, jsonBody: { error: 'NotFound', message: 'no reconciliation has run yet' } };
  const done = !['Pending', 'Running', 'ContinuedAsNew', 'Suspended'].includes(status.runtimeStatus);
  const cause = (status.input as { cause?: { actor?: unknown } } | undefined)?.cause;
  return {
    status: 200,
    jsonBody: {
      id: status.instanceId,
      runtimeStatus: status.runtimeStatus,
      done,
      createdTime: status.createdTime ?? null,
      lastUpdatedTime: status.lastUpdatedTime ?? null,
      startedBy: cause?.actor ?? null,
      progress: status.customStatus ?? null,
      report: done ? reportSummary(status.output) : null,
    },
  };
}

/** The parts of a reconcile report an operator reads: counts, drift found, repairs made, what was left alone. */
function reportSummary(output: unknown): unknown {
  if (!output || typeof output !== 'object') return null;
  const report = output as Record<string, unknown>;
  const list = (key: string): unknown[] => (Array.isArray(report[key]) ? (report[key] as unknown[]) : []);
  const repairs = list('repairs').map((r) => {
    const repair = r as { ref?: unknown; instanceId?: unknown; summary?: { counts?: unknown; outcomes?: { targetId?: string; status?: string }[] } };
    return {
      ref: repair.ref ?? null,
      instanceId: repair.instanceId ?? null,
      counts: repair.summary?.counts ?? null,
      outcomes: (repair.summary?.outcomes ?? []).map((o) => ({ targetId: o.targetId, status: o.status })),
    };
  });
  return {
    checkedSecrets: report['checkedSecrets'] ?? null,
    checkedTargets: report['checkedTargets'] ?? null,
    checkFailed: report['checkFailed'] ?? null,
    drift: list('drift'),
    repairs,
    unrepaired: list('unrepaired'),
    unchecked: list('unchecked'),
    reportBlob: report['reportBlob'] ?? null,
  };
}

function statusUrlOf(baseUrl: string, instanceId: string): string {
  return `${baseUrl.replace(/\/$/, '')}/api/rotations/${encodeURIComponent(instanceId)}`;
}

function unknownTarget(targetId: string, runtime: RelayRuntime): HttpAnswer {
  return {
    status: 404,
    jsonBody: { error: 'NotFound', message: `unknown target "${targetId.slice(0, 100)}"; configured: ${runtime.config.targets.map((t) => t.id).join(', ')}` },
  };
}

function invalid(problems: readonly { path: string; message: string }[]): HttpAnswer {
  return { status: 400, jsonBody: { error: 'InvalidRequest', message: problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems } };
}

function describe(problems: readonly ConfigProblem[]): string {
  const shown = problems.slice(0, 5).map((p) => `${p.path} ${p.code}`);
  return problems.length > 5 ? `${shown.join('; ')}; …` : shown.join('; ');
}

/**
 * The operator behind a control request, as `POST /api/rotations` names it: the App Service authentication
 * principal when that is on, else `function-key:<label>` (a keyed label of the key, never the key).
 */
export function operatorOf(get: (header: string) => string | null, presentedKey: string | null, runtime: Pick<RelayRuntime, 'fingerprintKey'>): Actor {
  return actorFromRequest(get, {
    appServiceAuthEnabled: isAppServiceAuthEnabled(process.env),
    presentedKey,
    labelKey: (key) => createHmac('sha256', runtime.fingerprintKey.secret).update(`function-key:${key}`).digest('hex').slice(0, 12),
  });
}
