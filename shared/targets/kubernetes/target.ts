import type { TokenCredential } from '@azure/identity';
import { decideDelivery, type TargetObservation } from '../../domain/decision.js';
import { fingerprint, sameFingerprint, type FingerprintKey } from '../../domain/fingerprint.js';
import type { Placement } from '../../domain/references.js';
import { withBackoff, type Sleep } from '../backoff.js';
import {
  sourceForDecision,
  TransientTargetError,
  type DeleteOutcome,
  type DeliveryOutcome,
  type DeliveryRequest,
  type TargetCallOptions,
  type TargetClient,
  type ValidationProblem,
} from '../contract.js';
import { sharedWriteBudget, WriteBudget, type WriteBudgetOptions } from '../writeBudget.js';
import { loadKubernetesClient } from './client.js';
import { ClusterAccessError, createClusterAccess, type ClusterAccess, type KubernetesClusterConfig, type ReadSecretValue } from './access.js';
import { classifyKubernetesError, isConflict, KubernetesTargetFailure, kubernetesErrorInfo, kubernetesRetryHint } from './errors.js';
import { createSecretEventRecorder, type EventLog, type InvolvedSecret, type RecordedOutcome, type SecretEventRecorder } from './events.js';
import { sdkSecretsApi, type KubernetesSecretsApi, type SecretWrite } from './kubernetesApi.js';
import {
  ANNOTATION_FINGERPRINT,
  ANNOTATION_KEYS,
  ANNOTATION_RESTART_ON,
  ANNOTATION_RESTARTED_AT,
  ANNOTATION_SOURCE,
  ANNOTATION_SOURCE_CREATED,
  ANNOTATION_SOURCE_VERSION,
  ANNOTATION_SYNCED_AT,
  isRelayManaged,
  keyMarksOf,
  LABEL_MANAGED_BY,
  MANAGED_BY_RELAY,
  ownershipOf,
  serializeKeyMarks,
  type KeyMark,
  type SecretState,
} from './marks.js';
import { KUBERNETES_LIMITS, splitTlsValue, TYPED_KEYS, validateKubernetesPlacement, type KubernetesSecretType } from './validation.js';

/** Options of the target, as the composition root passes them. */
export interface KubernetesTargetOptions {
  /** Target id from the config. */
  readonly targetId: string;
  /** Cluster name, used in locations (`<cluster>/<namespace>/<name>#<key>`) and as the write budget key. */
  readonly clusterName: string;
  readonly namespace: string;
  /** Keyed fingerprints of stored values are computed with this key (the same the relay uses for sources). */
  readonly fingerprintKey: FingerprintKey;
  /**
   * Write pacing. Settings select the process-wide bucket of this cluster (first settings win); a `WriteBudget` is
   * used as is. Default 30 writes per 10 s.
   */
  readonly writeBudget?: WriteBudget | Pick<WriteBudgetOptions, 'writes' | 'perSeconds'>;
  /** Secret type when a request or call does not say (validate, observe). Default Opaque. */
  readonly type?: KubernetesSecretType;
  /** Deployments restarted after every value change, besides those the request names. */
  readonly restartDeployments?: readonly string[];
  /**
   * Also restart Deployments annotated `secret-relay.io/restart-on: <secret>[,<secret>…]` (needs `list deployments`).
   * Default false.
   */
  readonly restartAnnotated?: boolean;
  /** Items per page when listing (Deployments, for `restartAnnotated`); every page is read. Default 500. */
  readonly listPageSize?: number;
  /** Re-read and retry a write that hit 409 this many times in all. Default 5. */
  readonly maxWriteAttempts?: number;
  /** Sleep of the 429 ladder; tests pass a fast one. Default real time. */
  readonly sleep?: Sleep;
  /** Override of the 1, 2, 4, 8, 16 s ladder for 429s without (or with) Retry-After. */
  readonly backoffLadderInMs?: readonly number[];
  /** Clock for `synced-at`, `restartedAt` and Event timestamps. Default `Date.now`. */
  readonly clock?: () => number;
  /** Where a failure to record a Kubernetes Event is logged (once per kind, at warning). Default `console.warn`. */
  readonly log?: EventLog;
  /** `reportingInstance` of the Events the relay records. Default the host name. */
  readonly eventReportingInstance?: string;
}

/** Options of `createKubernetesTarget`: the target options plus how to reach the cluster. */
export interface CreateKubernetesTargetOptions extends Omit<KubernetesTargetOptions, 'clusterName'> {
  readonly cluster: KubernetesClusterConfig;
  /** For `aad` access: the relay identity. */
  readonly credential?: TokenCredential;
  /** For `tokenSecret` / `kubeconfigSecret` access: reads the stored credential from a source vault. */
  readonly readSecretValue?: ReadSecretValue;
  /** How long that stored credential is kept (a 401 drops it sooner). Default 0: read at every connection. */
  readonly storedCredentialTtlInMs?: number;
  /**
   * The cluster's access, shared with the other targets of the same cluster (one credential read and one connection
   * pool for all its namespaces). Default: one of this target's own, from the options above.
   */
  readonly access?: ClusterAccess;
}

/** Per-call options: the Secret type the placement uses (observe, deleteIfOwned). */
export interface KubernetesCallOptions extends TargetCallOptions {
  readonly type?: KubernetesSecretType;
}

/**
 * Opens the API of the target's namespace (a fresh credential when needed). `refresh` drops a kept credential first
 * (the cluster answered 401: a stored token may have been rotated).
 */
export type KubernetesConnector = (abortSignal?: AbortSignal, options?: { refresh?: boolean }) => Promise<KubernetesSecretsApi>;

/**
 * Creates the Kubernetes target: one namespace of one cluster, reached with `@kubernetes/client-node`. The only place
 * its SDK clients are constructed. RBAC in the namespace: secrets get/create/update/delete (list not needed);
 * deployments patch (and list, with `restartAnnotated`); events create/patch (best effort: without them deliveries
 * still work, and the first refusal is logged). Creating it loads nothing: `@kubernetes/client-node` is imported by the
 * first call that reaches the cluster (client.ts); when it cannot load, that call fails `FailedUnavailable` naming the
 * cause.
 */
export function createKubernetesTarget(options: CreateKubernetesTargetOptions): KubernetesTarget {
  const access = options.access ?? createClusterAccess({
    cluster: options.cluster,
    ...(options.credential ? { credential: options.credential } : {}),
    ...(options.readSecretValue ? { readSecretValue: options.readSecretValue } : {}),
    ...(options.storedCredentialTtlInMs !== undefined ? { storedCredentialTtlInMs: options.storedCredentialTtlInMs } : {}),
  });
  const apis = new WeakMap<object, KubernetesSecretsApi>();
  const connect: KubernetesConnector = async (abortSignal, connectOptions) => {
    // First: a library that cannot load is reported on the target's log before any credential is read.
    const { AppsV1Api, CoreV1Api } = await loadKubernetesClient(options.log ? { log: options.log } : {});
    if (connectOptions?.refresh) access.invalidate();
    const kc = await access.kubeConfig(abortSignal ? { abortSignal } : {});
    let api = apis.get(kc);
    if (!api) {
      api = sdkSecretsApi(kc.makeApiClient(CoreV1Api), kc.makeApiClient(AppsV1Api), options.namespace, {
        ...(options.listPageSize !== undefined ? { listPageSize: options.listPageSize } : {}),
      });
      apis.set(kc, api);
    }
    return api;
  };
  return new KubernetesTarget(connect, { ...options, clusterName: options.cluster.name });
}

/** What a delivery has reached so far: the namespace's API once connected, and the Secret as last read or written. */
interface Seen {
  api?: KubernetesSecretsApi;
  secret: InvolvedSecret;
}

/** The data keys of one placement: those holding the current version, and (Opaque) the older versions. */
interface Slots {
  readonly type: KubernetesSecretType;
  /** Keys written for the current version: `[key]`, or the fixed keys of a typed Secret. */
  readonly current: readonly string[];
  /** Opaque with versionsToKeep N: `key-1` … `key-(N-1)`. */
  readonly history: readonly string[];
}

function slotsFor(placement: Placement, type: KubernetesSecretType, versionsToKeep: number): Slots {
  if (type !== 'Opaque') return { type, current: TYPED_KEYS[type], history: [] };
  const key = placement.key ?? '';
  return { type, current: [key], history: Array.from({ length: Math.max(0, versionsToKeep - 1) }, (_, i) => `${key}-${i + 1}`) };
}

/** Keys `key-<n>` of an Opaque placement, whatever N the route uses now. */
function historyKeyIndex(placementKey: string, dataKey: string): number | undefined {
  if (!dataKey.startsWith(`${placementKey}-`)) return undefined;
  const rest = dataKey.slice(placementKey.length + 1);
  return /^[1-9]\d*$/.test(rest) ? Number(rest) : undefined;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const bytesOf = (base64: string): Buffer => Buffer.from(base64, 'base64');

/** `TargetClient` for one namespace of one cluster over the narrow `KubernetesSecretsApi`; see `createKubernetesTarget`. */
export class KubernetesTarget implements TargetClient {
  readonly kind = 'kubernetes' as const;
  readonly targetId: string;
  private readonly budget: WriteBudget;
  private readonly defaultType: KubernetesSecretType;
  private readonly maxWriteAttempts: number;
  private readonly clock: () => number;
  private readonly events: SecretEventRecorder;
  private readonly pendingEvents = new Set<Promise<void>>();

  constructor(
    private readonly connect: KubernetesConnector,
    private readonly options: KubernetesTargetOptions,
  ) {
    this.targetId = options.targetId;
    this.budget = options.writeBudget instanceof WriteBudget ? options.writeBudget : sharedWriteBudget(`kubernetes:${options.clusterName}`, options.writeBudget);
    this.defaultType = options.type ?? 'Opaque';
    this.maxWriteAttempts = Math.max(1, options.maxWriteAttempts ?? 5);
    this.clock = options.clock ?? Date.now;
    this.events = createSecretEventRecorder({
      clusterName: options.clusterName,
      namespace: options.namespace,
      clock: this.clock,
      ...(options.log ? { log: options.log } : {}),
      ...(options.eventReportingInstance ? { reportingInstance: options.eventReportingInstance } : {}),
    });
  }

  /** Secret name (DNS-1123 subdomain), data key, 1 MiB, and the target's default type. No call. */
  validate(placement: Placement, value: string): ValidationProblem[] {
    return validateKubernetesPlacement(placement, value, { type: this.defaultType });
  }

  /**
   * Reads the Secret and reports the placement's ownership marks and the fingerprint of the value actually stored
   * (keyed HMAC; the value itself never leaves this call). Permission: `get secrets`. Throws `KubernetesTargetFailure`
   * (401/403) or `TransientTargetError`.
   */
  async observe(placement: Placement, options: KubernetesCallOptions = {}): Promise<TargetObservation> {
    try {
      return await this.observeOnce(placement, options);
    } catch (error) {
      // A kept credential can be stale (a stored token rotated): once more with a freshly read one.
      if (error instanceof KubernetesTargetFailure && error.reason === 'unauthenticated') return this.observeOnce(placement, options, { refresh: true });
      throw error;
    }
  }

  private async observeOnce(placement: Placement, options: KubernetesCallOptions, connectOptions?: { refresh: true }): Promise<TargetObservation> {
    const slots = slotsFor(placement, options.type ?? this.defaultType, 1);
    try {
      const api = await this.connect(options.abortSignal, connectOptions);
      const secret = await this.call(() => api.readSecret(placement.name), options.abortSignal);
      return this.observationOf(secret, slots);
    } catch (error) {
      throw this.classify(error, 'observe', placement);
    }
  }

  /**
   * Observes, decides with `decideDelivery`, and writes (create, or replace with the read resourceVersion) only when
   * the decision says so; a 409 re-reads and re-decides (bounded). Validates before any call. Keys of the Secret that
   * other routes own are kept. When the stored value changed, restarts the named (and, if enabled, annotated)
   * Deployments once each. Never rolls back. Each write (Normal) and failure (Warning) is then recorded as a Kubernetes
   * Event on the Secret, best effort (`events.ts`): started once the outcome is known and not waited for, so it adds
   * no round trip to the delivery (`settle()` waits for it; a failure to record it is logged at warning either way).
   * Permissions: get/create/update secrets, patch deployments, create/patch events.
   */
  async deliver(request: DeliveryRequest, options: TargetCallOptions = {}): Promise<DeliveryOutcome> {
    const seen: Seen = { secret: { name: request.placement.name } };
    const recorded = { key: request.placement.key, source: { owner: request.source.owner.toLowerCase(), version: request.source.version } };
    let outcome: DeliveryOutcome;
    try {
      outcome = await this.deliverTracked(request, options, seen);
      // A kept credential can be stale (a stored token rotated): once more with a freshly read one.
      if (outcome.reason === 'unauthenticated') outcome = await this.deliverTracked(request, options, seen, { refresh: true });
    } catch (error) {
      if (seen.api && error instanceof TransientTargetError) {
        this.recordEvent(seen.api, seen.secret, { ...recorded, status: error.status, message: error.message });
      }
      throw error;
    }
    if (seen.api) {
      this.recordEvent(seen.api, seen.secret, {
        ...recorded,
        status: outcome.status,
        ...(outcome.message ? { message: outcome.message } : {}),
        ...(outcome.restarted ? { restarted: outcome.restarted } : {}),
        ...(outcome.restartFailed ? { restartFailed: outcome.restartFailed } : {}),
      });
    }
    return outcome;
  }

  /**
   * Resolves once every Event that earlier deliveries started recording is written, refused (logged at warning) or
   * timed out (5 s per call). Never rejects. A caller that must not leave work behind (a batch before it returns, a
   * host shutting down, a test reading Events) awaits it.
   */
  async settle(): Promise<void> {
    while (this.pendingEvents.size > 0) await Promise.all([...this.pendingEvents]);
  }

  /** Starts recording an outcome's Event without waiting for it (the recorder never rejects; it logs its failures). */
  private recordEvent(api: KubernetesSecretsApi, secret: InvolvedSecret, outcome: RecordedOutcome): void {
    const recording = this.events.record(api.events, secret, outcome);
    this.pendingEvents.add(recording);
    const done = (): void => void this.pendingEvents.delete(recording);
    recording.then(done, done);
  }

  /** `deliver` without the Event; fills `seen` with the API and the Secret as last read or written. */
  private async deliverTracked(request: DeliveryRequest, options: TargetCallOptions, seen: Seen, connectOptions?: { refresh: true }): Promise<DeliveryOutcome> {
    const { placement, source, value, policy } = request;
    const type = request.kubernetes?.type ?? this.defaultType;
    const versionsToKeep = policy.versionsToKeep ?? 1;
    const problems = validateKubernetesPlacement(placement, value, { type, versionsToKeep });
    if (problems.length > 0) return this.invalid(placement, problems.map((p) => `${p.field}: ${p.message}`).join('; '));
    const slots = slotsFor(placement, type, versionsToKeep);
    const newData = this.encode(type, value);
    const owner = source.owner.toLowerCase();
    const signal = options.abortSignal;
    try {
      const api = await this.connect(signal, connectOptions);
      seen.api = api;
      for (let attempt = 0; attempt < this.maxWriteAttempts; attempt++) {
        const secret = await this.call(() => api.readSecret(placement.name), signal);
        seen.secret = secret ? { name: secret.name, resourceVersion: secret.resourceVersion, ...(secret.uid ? { uid: secret.uid } : {}) } : { name: placement.name };
        const observation = this.observationOf(secret, slots);
        const decision = decideDelivery({ ...(await sourceForDecision(request, observation, owner)), owner }, observation, policy);
        const held = observation.state === 'present' ? observation.marks : undefined;
        const previous = held?.source === owner ? { previousSourceVersion: held.sourceVersion } : {};
        if (!decision.write) return this.outcome(placement, decision.status, decision.reason, previous);
        if (secret && secret.type !== type) {
          return this.invalid(placement, `the Secret has type ${secret.type}; the route asks for ${type} and a Secret's type cannot change`);
        }
        if (secret?.immutable) {
          return this.outcome(placement, 'FailedImmutable', 'immutable', {
            message: `the Secret ${this.locate(placement)} is immutable; delete it so the relay can recreate it`,
          });
        }
        const write = this.buildWrite(secret, placement, slots, newData, request);
        const size = Object.values(write.data).reduce((sum, v) => sum + bytesOf(v).byteLength, 0);
        if (size > KUBERNETES_LIMITS.maxSecretDataInBytes) {
          return this.invalid(placement, `the Secret's data would be ${size} bytes; the limit is ${KUBERNETES_LIMITS.maxSecretDataInBytes}`);
        }
        const changed = slots.current.some((key) => secret?.data[key] !== write.data[key]);
        await this.budget.take(signal ? { abortSignal: signal } : {});
        let resourceVersion: string;
        try {
          const written = await this.call(() => (secret ? api.replaceSecret(write) : api.createSecret(write)), signal);
          resourceVersion = written.resourceVersion;
          const uid = written.uid ?? secret?.uid;
          seen.secret = { name: placement.name, resourceVersion, ...(uid ? { uid } : {}) };
        } catch (error) {
          // A stale resourceVersion (Conflict) or a create that raced another (AlreadyExists): read again, decide again.
          if (isConflict(error)) continue;
          throw error;
        }
        const restarts = changed ? await this.restart(api, placement, request, signal) : { restarted: [], failures: [], failed: [] };
        return this.outcome(placement, decision.status, decision.reason, {
          ...previous,
          writtenVersion: resourceVersion,
          ...(restarts.restarted.length > 0 ? { restarted: restarts.restarted } : {}),
          ...(restarts.failures.length > 0
            ? { message: `Secret written; rollout restart failed for ${restarts.failures.join('; ')}`, restartFailed: restarts.failed }
            : {}),
        });
      }
      throw new TransientTargetError(
        `deliver on ${this.locate(placement)}: the Secret kept changing between read and write (${this.maxWriteAttempts} attempts)`,
        'FailedUnavailable',
      );
    } catch (error) {
      const classified = this.classify(error, 'deliver', placement);
      if (classified instanceof KubernetesTargetFailure) return this.outcome(placement, classified.status, classified.reason, { message: classified.message });
      throw classified;
    }
  }

  /**
   * Removes the placement's keys (and older-version keys) only when they are marked for `owner`; deletes the Secret
   * when no data keys remain. Missing → NotFound; foreign Secret or key, or another owner → NotOwned, untouched.
   * Permissions: get/update/delete secrets.
   */
  async deleteIfOwned(placement: Placement, owner: string, options: KubernetesCallOptions = {}): Promise<DeleteOutcome> {
    const type = options.type ?? this.defaultType;
    const slots = slotsFor(placement, type, 1);
    const wanted = owner.toLowerCase();
    const signal = options.abortSignal;
    try {
      const api = await this.connect(signal);
      for (let attempt = 0; attempt < this.maxWriteAttempts; attempt++) {
        const secret = await this.call(() => api.readSecret(placement.name), signal);
        if (!secret) return 'NotFound';
        const marks = keyMarksOf(secret);
        const present = slots.current.filter((k) => k in secret.data);
        if (present.length === 0) return 'NotFound';
        if (!isRelayManaged(secret)) return 'NotOwned';
        if (present.some((k) => marks[k]?.source !== wanted)) return 'NotOwned';
        const data = { ...secret.data };
        const remaining = { ...marks };
        const drop = (key: string): void => {
          delete data[key];
          delete remaining[key];
        };
        slots.current.forEach(drop);
        if (type === 'Opaque') {
          for (const key of Object.keys(remaining)) {
            if (historyKeyIndex(placement.key ?? '', key) !== undefined && remaining[key]?.source === wanted) drop(key);
          }
        }
        await this.budget.take(signal ? { abortSignal: signal } : {});
        try {
          if (Object.keys(data).length === 0) {
            const deleted = await this.call(() => api.deleteSecret(placement.name, secret.resourceVersion), signal);
            return deleted ? 'Deleted' : 'NotFound';
          }
          const annotations: Record<string, string> = { ...secret.annotations, [ANNOTATION_KEYS]: serializeKeyMarks(remaining) };
          if (annotations[ANNOTATION_SOURCE] === wanted) {
            for (const a of [ANNOTATION_SOURCE, ANNOTATION_SOURCE_VERSION, ANNOTATION_SOURCE_CREATED, ANNOTATION_FINGERPRINT]) delete annotations[a];
          }
          await this.call(() => api.replaceSecret({ ...this.carry(secret), labels: secret.labels, annotations, data }), signal);
          return 'Deleted';
        } catch (error) {
          if (isConflict(error)) continue;
          throw error;
        }
      }
      throw new TransientTargetError(`deleteIfOwned on ${this.locate(placement)}: the Secret kept changing`, 'FailedUnavailable');
    } catch (error) {
      throw this.classify(error, 'deleteIfOwned', placement);
    }
  }

  /** What the decision sees: absent, foreign (no marks), or the placement's marks with the stored value's fingerprint. */
  private observationOf(secret: SecretState | undefined, slots: Slots): TargetObservation {
    if (!secret) return { state: 'absent' };
    if (!isRelayManaged(secret)) return { state: 'present' };
    const marks = keyMarksOf(secret);
    const present = slots.current.filter((k) => k in secret.data);
    const primary = marks[slots.current[0]!];
    // Older-version keys someone else wrote would be overwritten by the shift: the placement is not wholly ours.
    const foreignHistory = slots.history.some((k) => k in secret.data && marks[k]?.source !== primary?.source);
    if (present.length === 0) return foreignHistory ? { state: 'present' } : { state: 'absent' };
    const immutable = secret.immutable ? { immutable: true as const } : {};
    if (!primary || foreignHistory || present.some((k) => marks[k] === undefined)) return { state: 'present', ...immutable };
    return { state: 'present', marks: ownershipOf(primary), actualFingerprint: this.actualFingerprint(secret, slots, marks, primary), ...immutable };
  }

  /**
   * The keyed fingerprint of the value stored under the placement. Each stored key is checked against the HMAC
   * recorded when the relay wrote it (`dataFingerprint`, or `fingerprint` when they coincide), under the adapter's
   * key: all intact means the stored value is the marked one (its source fingerprint); otherwise the HMAC of what is
   * stored, which differs from any source fingerprint. Recording per-key HMACs keeps drift detection correct for tls
   * (a split of the value) and when the source fingerprint was made under another key id.
   */
  private actualFingerprint(secret: SecretState, slots: Slots, marks: Record<string, KeyMark>, primary: KeyMark): string {
    const key = this.options.fingerprintKey;
    const intact = slots.current.every((k) => {
      const stored = secret.data[k];
      const mark = marks[k];
      return stored !== undefined && mark !== undefined && sameFingerprint(fingerprint(key, bytesOf(stored)), mark.dataFingerprint ?? mark.fingerprint);
    });
    if (intact) return primary.fingerprint;
    return fingerprint(key, Buffer.concat(slots.current.map((k) => bytesOf(secret.data[k] ?? ''))));
  }

  /** The data (base64) a value becomes, per type; with the per-key fingerprint when a key holds a transformation. */
  private encode(type: KubernetesSecretType, value: string): Record<string, { data: string; dataFingerprint?: string }> {
    switch (type) {
      case 'kubernetes.io/tls': {
        const pair = splitTlsValue(value);
        if ('field' in pair) throw new KubernetesTargetFailure(pair.message, 'FailedValidation', 'invalid');
        const key = this.options.fingerprintKey;
        return {
          'tls.crt': { data: b64(pair.certificatePem), dataFingerprint: fingerprint(key, pair.certificatePem) },
          'tls.key': { data: b64(pair.privateKeyPem), dataFingerprint: fingerprint(key, pair.privateKeyPem) },
        };
      }
      case 'kubernetes.io/dockerconfigjson':
        return { '.dockerconfigjson': { data: b64(value), dataFingerprint: fingerprint(this.options.fingerprintKey, value) } };
      case 'Opaque':
        return {};
    }
  }

  /** The Secret to write: other keys kept, older versions shifted, marks updated. */
  private buildWrite(
    secret: SecretState | undefined,
    placement: Placement,
    slots: Slots,
    encoded: Record<string, { data: string; dataFingerprint?: string }>,
    request: DeliveryRequest,
  ): SecretWrite {
    const { source, value } = request;
    const owner = source.owner.toLowerCase();
    const ours = secret !== undefined && isRelayManaged(secret);
    const data: Record<string, string> = { ...(secret?.data ?? {}) };
    const marks: Record<string, KeyMark> = ours ? keyMarksOf(secret) : {};
    const base: KeyMark = { source: owner, version: source.version, createdOn: source.createdOn, fingerprint: source.fingerprint };

    if (slots.type === 'Opaque') {
      const all = [...slots.current, ...slots.history];
      const primary = marks[all[0]!];
      if (primary?.source === owner && primary.version !== source.version && all[0]! in data) {
        for (let i = all.length - 1; i >= 1; i--) {
          const from = all[i - 1]!;
          const to = all[i]!;
          if (from in data && marks[from]?.source === owner) {
            data[to] = data[from]!;
            marks[to] = marks[from]!;
          }
        }
      }
      data[all[0]!] = b64(value);
      marks[all[0]!] = this.markFor(base, value);
      // Older-version keys beyond what the route keeps now (versionsToKeep went down).
      for (const key of Object.keys(marks)) {
        const index = historyKeyIndex(placement.key ?? '', key);
        if (index !== undefined && index >= all.length && marks[key]?.source === owner) {
          delete data[key];
          delete marks[key];
        }
      }
    } else {
      for (const [key, entry] of Object.entries(encoded)) {
        data[key] = entry.data;
        marks[key] = entry.dataFingerprint && entry.dataFingerprint !== base.fingerprint ? { ...base, dataFingerprint: entry.dataFingerprint } : base;
      }
    }

    const annotations: Record<string, string> = {
      ...(secret?.annotations ?? {}),
      [ANNOTATION_KEYS]: serializeKeyMarks(marks),
      [ANNOTATION_SOURCE]: owner,
      [ANNOTATION_SOURCE_VERSION]: source.version,
      [ANNOTATION_SOURCE_CREATED]: new Date(source.createdOn * 1000).toISOString(),
      [ANNOTATION_FINGERPRINT]: source.fingerprint,
      [ANNOTATION_SYNCED_AT]: new Date(this.clock()).toISOString(),
    };
    return {
      ...(secret ? this.carry(secret) : { name: placement.name, type: slots.type }),
      labels: { ...(secret?.labels ?? {}), [LABEL_MANAGED_BY]: MANAGED_BY_RELAY },
      annotations,
      data,
    };
  }

  /** The mark of a key holding `stored` verbatim; `dataFingerprint` only when the adapter's key differs from the source's. */
  private markFor(base: KeyMark, stored: string): KeyMark {
    const data = fingerprint(this.options.fingerprintKey, stored);
    return data === base.fingerprint ? base : { ...base, dataFingerprint: data };
  }

  private carry(secret: SecretState): Pick<SecretWrite, 'name' | 'type' | 'resourceVersion' | 'preserve'> {
    return { name: secret.name, type: secret.type, resourceVersion: secret.resourceVersion, ...(secret.preserve ? { preserve: secret.preserve } : {}) };
  }

  /** Rollout restart of each Deployment once: the request's, the target's, and (if enabled) annotated ones. */
  private async restart(
    api: KubernetesSecretsApi,
    placement: Placement,
    request: DeliveryRequest,
    abortSignal: AbortSignal | undefined,
  ): Promise<{ restarted: string[]; failures: string[]; failed: string[] }> {
    const names = new Set([...(this.options.restartDeployments ?? []), ...(request.kubernetes?.restartDeployments ?? [])]);
    const failures: string[] = [];
    const failed: string[] = [];
    if (this.options.restartAnnotated) {
      try {
        const deployments = await this.call(() => api.listDeployments(), abortSignal);
        for (const d of deployments) {
          const wanted = (d.annotations[ANNOTATION_RESTART_ON] ?? '').split(',').map((s) => s.trim());
          if (wanted.includes(placement.name)) names.add(d.name);
        }
      } catch (error) {
        failures.push(`annotated deployments (${this.describe(error, 'list deployments', placement)})`);
        failed.push('annotated deployments');
      }
    }
    const restarted: string[] = [];
    // Milliseconds, unlike kubectl's RFC 3339 seconds: two rotations within one second must still both restart.
    const at = new Date(this.clock()).toISOString();
    for (const name of [...names].sort()) {
      try {
        await this.budget.take(abortSignal ? { abortSignal } : {});
        await this.call(() => api.patchPodTemplateAnnotations(name, { [ANNOTATION_RESTARTED_AT]: at }), abortSignal);
        restarted.push(name);
      } catch (error) {
        failures.push(`${name} (${this.describe(error, `patch deployment ${name}`, placement)})`);
        failed.push(name);
      }
    }
    return { restarted, failures, failed };
  }

  /** One API call with the 429 ladder (honouring Retry-After); other errors pass through unchanged. */
  private call<T>(fn: () => Promise<T>, abortSignal: AbortSignal | undefined): Promise<T> {
    return withBackoff(fn, kubernetesRetryHint, {
      endpoint: this.options.clusterName,
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
      ...(this.options.backoffLadderInMs ? { ladderInMs: this.options.backoffLadderInMs } : {}),
      ...(abortSignal ? { abortSignal } : {}),
    });
  }

  private classify(error: unknown, operation: string, placement: Placement): KubernetesTargetFailure | TransientTargetError {
    // A create answered 404 names the namespace: the target's namespace does not exist (not a route problem).
    const info = kubernetesErrorInfo(error);
    if (info.statusCode === 404 && /^namespaces? "[^"]*" not found/.test(info.message ?? '')) {
      const ns = this.options.namespace;
      return new KubernetesTargetFailure(
        `${operation} on ${this.locate(placement)}: namespace "${ns}" does not exist on cluster ${this.options.clusterName}; create it (kubectl create namespace ${ns}) or fix the target's namespace in the config`,
        'FailedValidation',
        'namespace-missing',
      );
    }
    if (error instanceof ClusterAccessError) {
      return new KubernetesTargetFailure(`${operation} on ${this.locate(placement)}: ${error.message}`, 'FailedAccessDenied', 'credential-unavailable');
    }
    return classifyKubernetesError(error, { operation, location: this.locate(placement) });
  }

  private describe(error: unknown, operation: string, placement: Placement): string {
    return this.classify(error, operation, placement).message;
  }

  private locate(placement: Placement): string {
    const key = placement.key !== undefined ? `#${placement.key}` : '';
    return `${this.options.clusterName}/${this.options.namespace}/${placement.name}${key}`;
  }

  private invalid(placement: Placement, message: string): DeliveryOutcome {
    return this.outcome(placement, 'FailedValidation', 'invalid', { message });
  }

  private outcome(
    placement: Placement,
    status: DeliveryOutcome['status'],
    reason: string,
    extra: Partial<Pick<DeliveryOutcome, 'message' | 'writtenVersion' | 'previousSourceVersion' | 'restarted' | 'restartFailed'>> = {},
  ): DeliveryOutcome {
    return { status, targetId: this.targetId, location: this.locate(placement), reason, ...extra };
  }
}
