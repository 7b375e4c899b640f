import { planDeliveries } from './domain/plan.js';
import { matchingRoutes } from './domain/routes.js';
import type { RelayConfig, TargetConfig } from './domain/config.js';
import type { TargetObservation } from './domain/decision.js';
import { driftOf, type DriftKind, type SourceState } from './domain/drift.js';
import type { SecretVersionRef } from './domain/references.js';
import { ownerOf } from './domain/references.js';
import { ROLLOUT_RESTART_HINT, STATUS_INFO, type DeliveryStatus } from './domain/statuses.js';
import { TransientTargetError, type SourceVersionFacts } from './targets/contract.js';
import { fingerprint } from './domain/fingerprint.js';
import type { RotateSourceResult } from './orchestrations/rotate.js';
import type {
  AuditEntry,
  Cause,
  DeliverBatchInput,
  DeliverBatchResult,
  DeliveryResult,
  DriftCheck,
  DriftFinding,
  ReconcileItem,
  ReconcileListing,
  ReconcileReport,
  RelayDelivery,
  RelayInput,
  RelayPlan,
} from './orchestrations/types.js';
import type { LockGroup, RelayRuntime } from './runtime.js';
import { SourceVaultError as SourceError } from './sources/index.js';
import { LockAccessDeniedError } from './locks/index.js';
import { withTimeLimit } from './timeLimit.js';
import { BATCH_START_TIME_LIMIT_IN_MS } from './orchestrations/names.js';
import { runInWindow } from './orchestrations/waves.js';
import * as rotation from './rotation/protocol.js';
import { observeDelivery, observeDriftCheck, observeReconcileReport, otelTelemetry } from './telemetry/index.js';
import { settleSecret, takeSnapshot, type FleetPorts, type FleetSecret } from './fleet/index.js';

/** How long one target check of a reconciliation may take (unreachable endpoints, hung connections). */
export const DEFAULT_CHECK_TIME_LIMIT_IN_MS = 30_000;

/** Tag written on a source version created by a rotation: the Event Grid event it causes is not relayed again. */
export const ROTATION_TAG = 'relay-rotation';

export interface DeliverInput {
  readonly ref: SecretVersionRef;
  readonly delivery: RelayDelivery;
  readonly cause: Cause;
  /** The relay (or relay part) instance: the audit record's `cause.instanceId`. */
  readonly instanceId?: string;
  /** The batch's lock group (its deliveries share one lock per endpoint); default a lock of this delivery's own. */
  readonly locks?: LockGroup;
  /** Told when the target call is over and only the audit append is left (a batch then starts its next delivery). */
  readonly onOutcome?: () => void;
}

export interface RotateSourceInput {
  readonly sourceId: string;
  readonly name: string;
  readonly rotationId: string;
}

/**
 * Builds every activity over the given runtime: the only place activities get I/O. Each activity takes and returns
 * references, statuses and fingerprints only. Non-transient failures come back as values; transient ones throw an
 * `Error` whose message starts with the status, so the orchestration's RetryOptions apply.
 */
export function createActivities(runtime: RelayRuntime) {
  const { config } = runtime;
  const telemetry = runtime.telemetry ?? otelTelemetry;

  async function planRelay(input: RelayInput): Promise<RelayPlan> {
    const { ref } = input;
    const source = config.sources.find((s) => s.id === ref.sourceId);
    if (!source) {
      return reject('FailedValidation', 'unknown-source', `source "${ref.sourceId}" is not in the relay config`);
    }
    // Once for the whole fan-out: the version's facts (no value leaves this activity) go into every delivery, and
    // the value stays in this process's source cache for the deliveries that run here.
    let read;
    try {
      read = await runtime.source(ref.sourceId).readVersion(ref.name, ref.version, runtime.fingerprintKey);
    } catch (error) {
      if (error instanceof SourceError) {
        if (error.reason === 'source-missing') {
          return reject('FailedSourceMissing', 'version-not-found', `${ref.name}/${ref.version} does not exist in source "${ref.sourceId}"`);
        }
        if (error.reason === 'source-disabled') {
          return reject('FailedSourceMissing', 'version-disabled', `${ref.name}/${ref.version} is disabled in source "${ref.sourceId}"`);
        }
        return reject(error.status, error.reason, error.message);
      }
      throw asRetryable(error);
    }
    const properties = { tags: read.tags, createdOn: read.facts.createdOn };
    const sourceFacts = read.facts;
    const rotationId = properties.tags[ROTATION_TAG];
    if (rotationId && input.skipRotationWritten === true) {
      // The rotation that wrote this version relays it itself (as its sub-orchestration); its event is not relayed.
      return {
        deliveries: [],
        limits: runtime.limits,
        ignored: { reason: 'written-by-rotation', message: `${ref.name}@${ref.version}: written by rotation ${rotationId}, which relays it` },
      };
    }
    const only = input.targets ? new Set(input.targets) : undefined;
    const deliveries = planDeliveries(config, { sourceId: ref.sourceId, name: ref.name, tags: properties.tags })
      .filter((planned) => !only || only.has(planned.targetId))
      .map((planned): RelayDelivery => {
        const target = targetConfig(config, planned.targetId);
        const placement = planned.placement;
        return {
          deliveryId: `${planned.routeId}/${planned.targetId}/${placement.name}${placement.key ? `#${placement.key}` : ''}`,
          routeId: planned.routeId,
          targetId: planned.targetId,
          kind: planned.kind,
          endpoint: endpointOf(target),
          placement,
          policy: {
            adopt: planned.policy.adopt,
            recoverDeleted: planned.policy.recoverDeleted,
            versionsToKeep: planned.policy.versionsToKeep,
          },
          ...(planned.k8s ? { kubernetes: { type: planned.k8s.type, restartDeployments: [...planned.k8s.restartDeployments] } } : {}),
          source: sourceFacts,
        };
      });
    return { deliveries, limits: runtime.limits, ...createdOnOf(properties.createdOn) };

    function reject(status: NonNullable<RelayPlan['rejected']>['status'], reason: string, message: string): RelayPlan {
      return { deliveries: [], limits: runtime.limits, rejected: { status, reason, message } };
    }
  }

  /**
   * Delivers one source version to one placement and appends the outcome's audit record at once (not behind the
   * other targets). The record is checked before anything is written: a delivery whose record would be refused
   * writes nothing. Key Vault deliveries hold the lock of their source secret on the target vault from observation
   * to write, so two relays of one secret (different versions, different instances, possibly different hosts) never
   * interleave there; Kubernetes writes are conditional on the observed resourceVersion instead.
   */
  async function deliverOne(input: DeliverInput): Promise<DeliveryResult> {
    const { ref, delivery } = input;
    const base = {
      deliveryId: delivery.deliveryId,
      routeId: delivery.routeId,
      targetId: delivery.targetId,
      kind: delivery.kind,
    };
    const fallbackLocation = `${delivery.endpoint}/${delivery.placement.name}${delivery.placement.key ? `#${delivery.placement.key}` : ''}`;
    // Typed by assertion: the union of actions × delivery statuses is more than TypeScript enumerates in a literal.
    const entryOf = (result: DeliveryResult): AuditEntry => ({
      action: result.status === 'Adopted' ? 'adopt' : 'deliver',
      status: result.status,
      cause: input.cause,
      instanceId: input.instanceId ?? 'unknown',
      at: runtime.now().toISOString(),
      ref,
      target: { id: result.targetId, kind: result.kind, location: result.location },
      reason: result.reason,
      ...(result.message !== undefined ? { message: result.message } : {}),
      ...(result.fingerprint !== undefined ? { fingerprint: result.fingerprint } : {}),
    }) as AuditEntry;
    const finish = async (result: DeliveryResult): Promise<DeliveryResult> => {
      const withHint = STATUS_INFO[result.status].ok ? result : { ...result, hint: STATUS_INFO[result.status].hint };
      logDelivery(runtime, ref, withHint);
      input.onOutcome?.();
      try {
        await runtime.audit.append([entryOf(withHint)]);
        return { ...withHint, audited: true };
      } catch (error) {
        // The orchestration appends it (with retries) when this activity could not: the record is never dropped.
        runtime.log.warn(`audit of delivery ${delivery.deliveryId} deferred to the orchestration: ${describe(error)}`);
        return withHint;
      }
    };
    try {
      runtime.audit.validate([entryOf({ ...base, location: fallbackLocation, status: 'Updated', reason: 'older-version' })]);
    } catch (error) {
      const message = `the audit would refuse this delivery's record, so nothing was written: ${error instanceof Error ? error.message : String(error)}`;
      runtime.log.error(`delivery ${delivery.deliveryId}: ${message}`);
      return { ...base, location: fallbackLocation, status: 'FailedValidation', reason: 'audit-record-invalid', message, hint: STATUS_INFO.FailedValidation.hint };
    }
    const port = runtime.source(ref.sourceId);
    let read: { value: string; facts: SourceVersionFacts };
    try {
      if (delivery.source) {
        // The plan resolved the facts: only the value is read (once per process, cached). The fingerprint is taken
        // from the value in hand, under the key in use now.
        const { value } = await port.readValue(ref.name, ref.version);
        read = { value, facts: { ...delivery.source, fingerprint: fingerprint(runtime.fingerprintKey, value) } };
      } else {
        read = await port.readVersion(ref.name, ref.version, runtime.fingerprintKey);
      }
    } catch (error) {
      if (error instanceof SourceError) {
        return finish({ ...base, location: fallbackLocation, status: error.status, reason: error.reason, message: error.message });
      }
      throw asRetryable(error);
    }
    const deliver = () =>
      runtime.target(delivery.targetId).deliver({
        placement: delivery.placement,
        source: read.facts,
        value: read.value,
        policy: delivery.policy,
        ...(delivery.kubernetes ? { kubernetes: delivery.kubernetes } : {}),
        confirmLatest: async () => {
          try {
            return await port.isLatest(ref.name, read.facts.version);
          } catch (error) {
            if (error instanceof TransientTargetError) throw error;
            throw new TransientTargetError(`isLatest on source "${ref.sourceId}"/${ref.name}: ${error instanceof Error ? error.message : 'failed'}`, 'FailedUnavailable');
          }
        },
      });
    let outcome;
    try {
      outcome = delivery.kind === 'keyVault' ? await (input.locks ?? runtime.locks).withLock(deliveryLockKey(ref, delivery), deliver) : await deliver();
    } catch (error) {
      // Nothing was written (the lock comes first); retrying cannot help until the role is granted.
      if (error instanceof LockAccessDeniedError) {
        return finish({ ...base, location: fallbackLocation, status: 'FailedAccessDenied', reason: 'lock-access-denied', message: error.message });
      }
      throw asRetryable(error);
    }
    return finish({
      ...base,
      location: outcome.location,
      status: outcome.status,
      reason: outcome.reason,
      fingerprint: read.facts.fingerprint,
      ...(outcome.message !== undefined ? { message: outcome.message } : {}),
      ...(outcome.writtenVersion !== undefined ? { writtenVersion: outcome.writtenVersion } : {}),
      ...(outcome.restarted !== undefined ? { restarted: outcome.restarted } : {}),
      ...(outcome.restartFailed !== undefined ? { restartFailed: outcome.restartFailed } : {}),
    });
  }

  const deliverSecret = observeDelivery(telemetry, deliverOne);

  /**
   * Delivers a group of deliveries of one relay (the endpoints one lane owns) in this process, with a sliding window:
   * at most `window` at their targets, `maxPerEndpoint` per endpoint, the next one started the moment one's target
   * has answered (its audit append goes on beside it). Each delivery is exactly `deliverSecret` (its audit record
   * checked first, appended as soon as its outcome is known, its own span and metrics); the Key Vault deliveries share
   * one lock per vault; the value is read once per process. Transient failures do not fail the batch: they
   * come back in `retry` for the orchestration's delivery retry policy. No delivery starts after
   * `BATCH_START_TIME_LIMIT_IN_MS`; those come back in `notStarted`. Returns counts and the outcomes the
   * orchestration needs (failures, unaudited ones; every one with `listAll`), never a value, after the side work the
   * deliveries left (Kubernetes Events, `TargetClient.settle`) has settled. Repeated (a retried
   * batch after a host crash), finished deliveries find their target `UpToDate`.
   */
  async function deliverBatch(input: DeliverBatchInput): Promise<DeliverBatchResult> {
    const startedAt = performance.now();
    const counts: Partial<Record<DeliveryStatus, number>> = {};
    const outcomes: DeliveryResult[] = [];
    const retry: { deliveryId: string; message: string }[] = [];
    // One lock per (vault, source secret) for the whole batch, released as soon as its last delivery there is done.
    const locks = runtime.locks.group();
    const lockUsesLeft = new Map<string, number>();
    const auditing: Promise<void>[] = [];
    for (const delivery of input.deliveries) {
      if (delivery.kind !== 'keyVault') continue;
      const key = deliveryLockKey(input.ref, delivery);
      lockUsesLeft.set(key, (lockUsesLeft.get(key) ?? 0) + 1);
    }
    // The group is closed whatever happens, so no lease outlives the batch (a lapsed lease would hold others back).
    let notStarted: readonly RelayDelivery[] = [];
    try {
      ({ notStarted } = await runInWindow(
        input.deliveries,
        { window: input.window, maxPerEndpoint: input.maxPerEndpoint },
        async (delivery) => {
          const withFacts = delivery.source || !input.source ? delivery : { ...delivery, source: input.source };
          // The window slot is free once the target has answered: the audit append (group-committed) goes on beside
          // the next delivery, and the batch waits for every one of them before it answers.
          let slotFree!: () => void;
          const targetDone = new Promise<void>((resolve) => (slotFree = resolve));
          const whole = (async () => {
            try {
              const result = await deliverSecret({ ref: input.ref, delivery: withFacts, cause: input.cause, locks, onOutcome: slotFree, ...(input.instanceId ? { instanceId: input.instanceId } : {}) });
              counts[result.status] = (counts[result.status] ?? 0) + 1;
              if (input.listAll === true || !STATUS_INFO[result.status].ok || result.audited !== true) outcomes.push(result);
            } catch (error) {
              const text = error instanceof Error ? error.message : String(error);
              retry.push({ deliveryId: delivery.deliveryId, message: firstLine(text, 500) });
            } finally {
              if (delivery.kind === 'keyVault') {
                const key = deliveryLockKey(input.ref, delivery);
                const left = (lockUsesLeft.get(key) ?? 1) - 1;
                lockUsesLeft.set(key, left);
                if (left === 0) locks.done(key);
              }
              slotFree();
            }
          })();
          auditing.push(whole);
          await targetDone;
        },
        { shouldStart: () => performance.now() - startedAt < BATCH_START_TIME_LIMIT_IN_MS },
      ));
      await Promise.all(auditing);
    } finally {
      await locks.close();
    }
    // Best-effort side work the deliveries started and did not wait for (Kubernetes Events) ends before the batch
    // does: nothing is left running after the activity answers (a host may freeze or recycle the worker then).
    await Promise.all(
      [...new Set(input.deliveries.map((d) => d.targetId))].map(async (id) => {
        try {
          await runtime.target(id).settle?.();
        } catch {
          // A target gone from the config since the plan has nothing to settle (its delivery said why).
        }
      }),
    );
    const order = new Map(input.deliveries.map((d, index) => [d.deliveryId, index]));
    outcomes.sort((a, b) => (order.get(a.deliveryId) ?? 0) - (order.get(b.deliveryId) ?? 0));
    if (notStarted.length > 0) {
      runtime.log.warn(`batch of ${input.deliveries.length} deliveries for ${input.instanceId ?? 'a relay'}: ${notStarted.length} not started within ${BATCH_START_TIME_LIMIT_IN_MS} ms; they go to the next batch`);
    }
    return { counts, outcomes, retry, notStarted: notStarted.map((d) => d.deliveryId) };
  }

  async function appendAudit(entries: readonly AuditEntry[]): Promise<number> {
    await runtime.audit.append(entries);
    return entries.length;
  }

  async function rotateSourceSecret(input: RotateSourceInput): Promise<RotateSourceResult> {
    const source = config.sources.find((s) => s.id === input.sourceId);
    if (!source) {
      return { ok: false, status: 'FailedValidation', reason: 'unknown-source', message: `source "${input.sourceId}" is not in the relay config` };
    }
    const port = runtime.source(input.sourceId);
    try {
      const latest = await port.getLatestProperties(input.name);
      const route = matchingRoutes(config, { sourceId: input.sourceId, name: input.name, tags: latest?.tags ?? {} }).find(
        (candidate) => candidate.rotation !== undefined,
      );
      if (!route?.rotation) {
        return {
          ok: false,
          status: 'FailedValidation',
          reason: 'no-rotation-policy',
          message: `no route for ${input.sourceId}/${input.name} has a rotation policy`,
        };
      }
      // At-least-once: a retried activity finds the version it already wrote instead of writing another.
      if (latest && latest.tags[ROTATION_TAG] === input.rotationId) {
        return { ok: true, reused: true, ref: refOf(source.id, source.vaultUrl, input.name, latest.version) };
      }
      const value = runtime.generateValue(route.rotation);
      const expiresOn = route.rotation.validityDays
        ? new Date(runtime.now().getTime() + route.rotation.validityDays * 86_400_000)
        : undefined;
      const { version } = await port.setNewVersion(input.name, value, {
        ...(latest?.contentType !== undefined ? { contentType: latest.contentType } : {}),
        ...(expiresOn ? { expiresOn } : {}),
        tags: { ...(latest?.tags ?? {}), [ROTATION_TAG]: input.rotationId },
      });
      runtime.log.info(`rotated ${input.sourceId}/${input.name}: new version ${version}`, { rotationId: input.rotationId });
      return { ok: true, reused: false, ref: refOf(source.id, source.vaultUrl, input.name, version) };
    } catch (error) {
      if (error instanceof SourceError) return { ok: false, status: error.status, reason: error.reason, message: error.message };
      throw asRetryable(error);
    }
  }

  const fleetPorts = (): FleetPorts | undefined =>
    runtime.listing
      ? {
          config,
          fingerprintKey: runtime.fingerprintKey,
          listing: runtime.listing,
          source: (id) => runtime.source(id),
          target: (id) => runtime.target(id),
          log: runtime.log,
          checkTimeLimitInMs: runtime.checkTimeLimitInMs ?? DEFAULT_CHECK_TIME_LIMIT_IN_MS,
          now: () => runtime.now(),
        }
      : undefined;

  /**
   * Lists every source vault, target vault and cluster namespace page by page (shared/fleet) and compares the marks
   * in memory. Returns only the source secrets with a placement out of sync, each with those placements: the output
   * (and the orchestration's history) grows with drift, not with the number of secrets. In-sync placements cost
   * nothing beyond the list pages. Without a listing port (older runtimes) it lists sources and leaves each check to
   * `checkDrift`.
   */
  async function listReconcileItems(): Promise<ReconcileListing> {
    const ports = fleetPorts();
    if (ports) {
      const snapshot = await takeSnapshot(ports);
      const items: ReconcileItem[] = [];
      let inSyncPlacements = 0;
      let inSyncSecrets = 0;
      for (const secret of snapshot.secrets) {
        const drifted = secret.placements.filter((p) => p.drift !== undefined);
        if (drifted.length === 0) {
          inSyncSecrets++;
          inSyncPlacements += secret.placements.length;
          continue;
        }
        items.push({
          sourceId: secret.sourceId,
          vaultUrl: secret.vaultUrl,
          name: secret.name,
          ...(secret.currentVersion ? { version: secret.currentVersion } : {}),
          state: secret.sourceState,
          ...(secret.sourceState === 'deleted' ? { tags: secret.tags } : {}),
          fleet: {
            createdOn: secret.createdOn,
            planned: secret.placements.length,
            ...(secret.needsVersion ? { needsVersion: true } : {}),
            placements: drifted,
          },
        });
      }
      return {
        items,
        unlistedSources: snapshot.unlistedSources,
        inSync: { secrets: inSyncSecrets, placements: inSyncPlacements },
        listPages: Object.values(snapshot.pages).reduce((n, p) => n + p, 0),
      };
    }
    const items: ReconcileItem[] = [];
    const unlistedSources: ReconcileListing['unlistedSources'][number][] = [];
    const routed = (sourceId: string, name: string, tags: Readonly<Record<string, string>>) =>
      planDeliveries(config, { sourceId, name, tags }).length > 0;
    for (const source of config.sources) {
      const port = runtime.source(source.id);
      const base = { sourceId: source.id, vaultUrl: source.vaultUrl };
      try {
        for await (const secret of port.listSecrets()) {
          if (!routed(source.id, secret.name, secret.tags)) continue;
          // A disabled current version is checked too: its targets keep their copies, and the state is reported.
          if (!secret.enabled) {
            items.push({ ...base, name: secret.name, state: 'disabled' });
            continue;
          }
          const latest = await port.getLatestProperties(secret.name);
          items.push(latest ? { ...base, name: secret.name, version: latest.version } : { ...base, name: secret.name, state: 'disabled' });
        }
      } catch (error) {
        // One unreadable source must not stop the others; the run records it and the next run tries again.
        const failure = checkFailure(error);
        runtime.log.error(`reconcile: cannot list source "${source.id}": ${failure.message}`);
        unlistedSources.push({ ...base, ...failure });
        continue;
      }
      try {
        for await (const deleted of port.listDeletedSecrets?.() ?? []) {
          if (routed(source.id, deleted.name, deleted.tags)) items.push({ ...base, name: deleted.name, state: 'deleted', tags: deleted.tags });
        }
      } catch (error) {
        // Without this listing, targets of a deleted source secret keep their copies unreported: say so.
        runtime.log.warn(`reconcile: cannot list deleted secrets of source "${source.id}" (deleted sources go unreported): ${describe(error)}`);
      }
    }
    return { items, unlistedSources };
  }

  /**
   * Checks every target of one source secret on its own: a target that cannot be read (403, unreachable, slower
   * than the check time limit) becomes a `check-failed` finding with its reason, and the others are still checked.
   * Throws only when the source itself cannot be read (the orchestration retries, then records the failure).
   */
  async function checkDrift(item: ReconcileItem): Promise<DriftCheck> {
    const ports = item.fleet ? fleetPorts() : undefined;
    if (item.fleet && ports) return settleDrift(ports, item, item.fleet);
    const port = runtime.source(item.sourceId);
    const current = item.state === 'deleted' ? undefined : await port.getLatestProperties(item.name, { includeDisabled: true });
    const state: SourceState = current ? (current.enabled ? 'enabled' : 'disabled') : 'deleted';
    const ref = { sourceId: item.sourceId, vaultUrl: item.vaultUrl, name: item.name, ...(current ? { version: current.version } : {}) };
    const owner = ownerOf(item.vaultUrl, item.name);
    const planned = planDeliveries(config, { sourceId: item.sourceId, name: item.name, tags: current?.tags ?? item.tags ?? {} });
    const timeLimitInMs = runtime.checkTimeLimitInMs ?? DEFAULT_CHECK_TIME_LIMIT_IN_MS;
    const findings = await Promise.all(
      planned.map(async (delivery): Promise<DriftFinding | undefined> => {
        const location = `${delivery.targetId}:${delivery.placement.name}${delivery.placement.key ? `#${delivery.placement.key}` : ''}`;
        const finding = (drift: DriftKind, extra: { heldVersion?: string | undefined; reason?: string; message?: string } = {}): DriftFinding => ({
          ref,
          targetId: delivery.targetId,
          kind: delivery.kind,
          location,
          drift,
          ...(extra.heldVersion ? { heldVersion: extra.heldVersion } : {}),
          ...(extra.reason ? { reason: extra.reason } : {}),
          ...(extra.message ? { message: extra.message } : {}),
        });
        let observed: TargetObservation;
        try {
          observed = await withTimeLimit(timeLimitInMs, `checking ${location}`, (abortSignal) =>
            runtime.target(delivery.targetId).observe(delivery.placement, {
              owner,
              abortSignal,
              ...(delivery.k8s ? { type: delivery.k8s.type } : {}),
            }),
          );
        } catch (error) {
          const failure = checkFailure(error);
          runtime.log.warn(`reconcile: cannot check ${item.sourceId}/${item.name} on ${location}: ${failure.reason}: ${failure.message}`);
          return finding('check-failed', failure);
        }
        const drift = driftOf(observed, { owner, sourceState: state, ...(current ? { version: current.version } : {}), adopt: delivery.policy.adopt });
        if (!drift) return undefined;
        const held = observed.state !== 'absent' && observed.marks?.source === owner ? observed.marks.sourceVersion : undefined;
        return finding(drift, { heldVersion: held });
      }),
    );
    const found = findings.filter((f): f is DriftFinding => f !== undefined);
    if (state !== 'enabled' && found.length > 0) {
      runtime.log.warn(
        `reconcile: ${item.sourceId}/${item.name} is ${state} in the source; ${found.length} target(s) keep their copies: ${found.map((f) => f.location).join(', ')}`,
      );
    }
    return { checked: planned.length, sourceState: state, findings: found };
  }

  /**
   * The snapshot's drifted placements of one source secret, made exact: the current version read once when no mark
   * settled it, each uncertain placement read once (shared/fleet `settleSecret`). Throws only when the source cannot
   * be read.
   */
  async function settleDrift(ports: FleetPorts, item: ReconcileItem, fleet: NonNullable<ReconcileItem['fleet']>): Promise<DriftCheck> {
    const secret: FleetSecret = {
      sourceId: item.sourceId,
      vaultUrl: item.vaultUrl,
      name: item.name,
      sourceState: item.state ?? 'enabled',
      createdOn: fleet.createdOn,
      ...(item.version ? { currentVersion: item.version } : {}),
      ...(fleet.needsVersion ? { needsVersion: true } : {}),
      tags: item.tags ?? {},
      placements: fleet.placements,
    };
    let settled: FleetSecret;
    try {
      settled = await settleSecret(ports, secret);
    } catch (error) {
      if (error instanceof SourceError) throw new Error(`${error.status}: ${error.message}`);
      throw asRetryable(error);
    }
    const ref = { sourceId: item.sourceId, vaultUrl: item.vaultUrl, name: item.name, ...(settled.currentVersion && settled.sourceState === 'enabled' ? { version: settled.currentVersion } : {}) };
    const findings: DriftFinding[] = settled.placements
      .filter((p) => p.drift !== undefined)
      .map((p) => ({
        ref,
        targetId: p.targetId,
        kind: p.kind,
        location: p.location,
        drift: p.drift!,
        ...(p.heldVersion ? { heldVersion: p.heldVersion } : {}),
        ...(p.failure ? { reason: p.failure.reason, message: p.failure.message } : {}),
      }));
    if (settled.sourceState !== 'enabled' && findings.length > 0) {
      runtime.log.warn(
        `reconcile: ${item.sourceId}/${item.name} is ${settled.sourceState} in the source; ${findings.length} target(s) keep their copies: ${findings.map((f) => f.location).join(', ')}`,
      );
    }
    return { checked: fleet.planned, sourceState: settled.sourceState, findings };
  }

  async function writeDriftReport(report: ReconcileReport): Promise<string> {
    return runtime.reports.writeDriftReport(report);
  }

  // The dual-credential rotation steps (shared/rotation/protocol.ts): references and slot names in, statuses out.
  const planRotation = (input: { sourceId: string; name: string }) => rotation.planRotation(runtime, input);
  const rotateAtOwner = (input: rotation.RotationStepInput) => rotation.rotateAtOwner(runtime, input);
  const checkRotationConvergence = (input: { ref: SecretVersionRef }) => rotation.checkConvergence(runtime, input);
  const retireRotationSlot = (input: rotation.RetireInput) => rotation.retireSlot(runtime, input);

  return {
    planRelay,
    deliverSecret,
    deliverBatch,
    appendAudit,
    rotateSourceSecret,
    listReconcileItems,
    checkDrift: observeDriftCheck(telemetry, checkDrift),
    writeDriftReport: observeReconcileReport(telemetry, writeDriftReport),
    planRotation,
    rotateAtOwner,
    checkRotationConvergence,
    retireRotationSlot,
  };
}

export type Activities = ReturnType<typeof createActivities>;

function refOf(sourceId: string, vaultUrl: string, name: string, version: string): SecretVersionRef {
  return { sourceId, vaultUrl, name, version };
}

/** The source version's creation time for the relay's event-to-converged metric (0: the service did not say). */
function createdOnOf(unixSeconds: number): { sourceCreatedOn?: string } {
  return unixSeconds > 0 ? { sourceCreatedOn: new Date(unixSeconds * 1000).toISOString() } : {};
}

function targetConfig(config: RelayConfig, targetId: string): TargetConfig {
  const target = config.targets.find((t) => t.id === targetId);
  if (!target) throw new Error(`target "${targetId}" is not in the relay config`);
  return target;
}

function endpointOf(target: TargetConfig): string {
  return target.kind === 'keyVault' ? new URL(target.vaultUrl).host.toLowerCase() : new URL(target.cluster.server).host.toLowerCase();
}

/**
 * The lock a Key Vault delivery holds: its source secret on its target vault. Every write to a placement is a
 * delivery of the one source secret that owns it (config validation rejects two source secrets rendering the same
 * name in one vault, and the ownership marks refuse a foreign source), so this orders every writer of the placement,
 * and one batch's deliveries of that secret to the vault share it.
 */
function deliveryLockKey(ref: SecretVersionRef, delivery: RelayDelivery): string {
  return `keyVault:${delivery.endpoint}|${ownerOf(ref.vaultUrl, ref.name)}`;
}

/** Turns a transient failure into an Error whose message starts with its status (survives the activity boundary). */
function asRetryable(error: unknown): Error {
  if (error instanceof TransientTargetError) return new Error(`${error.status}: ${error.message}`);
  if (error instanceof Error && /^Failed[A-Za-z]+: /.test(error.message)) return error;
  return new Error(`FailedUnavailable: ${describe(error)}`);
}

function firstLine(text: string, max: number): string {
  const line = text.split('\n')[0] ?? text;
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 500 ? `${text.slice(0, 499)}…` : text;
}

function logDelivery(runtime: RelayRuntime, ref: SecretVersionRef, result: DeliveryResult): void {
  const line = `delivery ${ref.sourceId}/${ref.name}@${ref.version.slice(0, 8)} → ${result.targetId} ${result.location}: ${result.status} (${result.reason})`;
  if (STATUS_INFO[result.status].ok) {
    if (result.restartFailed?.length) {
      // The copy is right but the workloads did not pick it up: the operator must restart them.
      runtime.log.warn(`${line}: ${result.message ?? 'rollout restart failed'}; hint: ${ROLLOUT_RESTART_HINT}`, { status: result.status, reason: 'restart-failed' });
      return;
    }
    // Routine: one line per delivery at debug; the relay's summary line counts them (readable under a wide fan-out).
    runtime.log.debug?.(line);
    return;
  }
  const detail = `${line}${result.message ? `: ${result.message}` : ''}; hint: ${STATUS_INFO[result.status].hint}`;
  // Retryable failures may clear by themselves (reconciliation retries); the others need the operator.
  if (STATUS_INFO[result.status].retryable) runtime.log.warn(detail, { status: result.status, reason: result.reason });
  else runtime.log.error(detail, { status: result.status, reason: result.reason });
}


/** A constant reason and a value-free message for a check that failed (classified errors carry both). */
function checkFailure(error: unknown): { reason: string; message: string } {
  const e = error as { name?: unknown; reason?: unknown; status?: unknown } | null;
  const message = describe(error);
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { reason: 'timeout', message };
  if (typeof e?.reason === 'string' && /^[a-z][a-z0-9-]{0,63}$/.test(e.reason)) return { reason: e.reason, message };
  if (e?.status === 'FailedThrottled') return { reason: 'throttled', message };
  if (e?.status === 'FailedAccessDenied') return { reason: 'access-denied', message };
  return { reason: 'unavailable', message };
}
