/**
 * Kubernetes Events about the target Secret: each write (Normal) and each failure (Warning) of a delivery becomes a
 * core/v1 Event whose `involvedObject` is the Secret, so `kubectl events --for secret/<name>` (and
 * `kubectl get events`) show the relay's history. Recording is best effort: a refused or failed Event never changes the
 * delivery's outcome; it is logged once per kind of refusal, at warning, with a hint.
 *
 * Repeated identical Events aggregate as client-go's `record.EventRecorder` does (its `EventLogger` in
 * `events_cache.go`): the same involved object, type, reason and message bump `count` and `lastTimestamp` of the Event
 * already written (a merge patch) instead of creating another. The cache of written Events is per relay instance, like
 * client-go's; after a restart the next occurrence starts a new Event. Messages carry status, hint and the outcome's
 * detail (already value-free by the target contract), never a value.
 */
import { hostname } from 'node:os';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { ROLLOUT_RESTART_HINT, STATUS_INFO, isWrite, type DeliveryStatus } from '../../domain/statuses.js';
import { loadKubernetesClient } from './client.js';
import { kubernetesErrorInfo } from './errors.js';

/** `source.component` and `reportingComponent` of every Event the relay records. */
export const EVENT_REPORTING_COMPONENT = 'secret-relay';

/** The API server's limit on an Event message (the events.k8s.io `note`); longer messages are cut. */
export const MAX_EVENT_MESSAGE_LENGTH = 1024;

/** Entries of the aggregation cache, as client-go's `maxLruCacheEntries`. */
const MAX_CACHED_EVENTS = 4096;

/** An Event to create (wire-free; converted in `sdkEventsApi`). */
export interface EventWrite {
  readonly name: string;
  readonly involvedObject: InvolvedSecret;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly timestamp: Date;
  readonly reportingInstance: string;
}

/** The Secret an Event is about; `uid` and `resourceVersion` when the relay has seen the Secret. */
export interface InvolvedSecret {
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** The calls the recorder makes, in the target's namespace. Errors are the SDK's (`ApiException`). */
export interface KubernetesEventsApi {
  /** `create events`. */
  createEvent(event: EventWrite): Promise<void>;
  /** `patch events`: sets `count`, `lastTimestamp` (merge patch). */
  bumpEvent(name: string, update: { count: number; lastTimestamp: Date }): Promise<void>;
}

/** The `KubernetesEventsApi` of one namespace over the SDK's `CoreV1Api`. */
export function sdkEventsApi(core: CoreV1Api, namespace: string): KubernetesEventsApi {
  return {
    async createEvent(event) {
      const body: CoreV1Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: event.name, namespace },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'Secret',
          name: event.involvedObject.name,
          namespace,
          ...(event.involvedObject.uid ? { uid: event.involvedObject.uid } : {}),
          ...(event.involvedObject.resourceVersion ? { resourceVersion: event.involvedObject.resourceVersion } : {}),
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        count: 1,
        firstTimestamp: event.timestamp,
        lastTimestamp: event.timestamp,
        source: { component: EVENT_REPORTING_COMPONENT },
        reportingComponent: EVENT_REPORTING_COMPONENT,
        reportingInstance: event.reportingInstance,
      };
      await core.createNamespacedEvent({ namespace, body });
    },
    async bumpEvent(name, update) {
      // Loaded already: `core` is one of its clients.
      const { PatchStrategy, setHeaderOptions } = await loadKubernetesClient();
      await core.patchNamespacedEvent(
        { name, namespace, body: { count: update.count, lastTimestamp: update.lastTimestamp.toISOString() } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
  };
}

/** Where the recorder reports that it could not record (structurally a `RelayLog`). */
export interface EventLog {
  warn(message: string, properties?: Record<string, unknown>): void;
}

export interface SecretEventRecorderOptions {
  /** Cluster and namespace, for log lines and hints. */
  readonly clusterName: string;
  readonly namespace: string;
  /** Default: `console.warn`. */
  readonly log?: EventLog;
  /** `reportingInstance` (the relay instance). Default: the host name. */
  readonly reportingInstance?: string;
  /** Give up on one Event call after this long (the delivery is waiting). Default 5000. */
  readonly timeoutInMs?: number;
  /** Milliseconds clock. Default `Date.now`. */
  readonly clock?: () => number;
}

/** What the recorder needs of a delivery's outcome. */
export interface RecordedOutcome {
  readonly status: DeliveryStatus;
  /** The outcome's detail (value-free). */
  readonly message?: string;
  /** Source owner and version delivered, for the message of a write. */
  readonly source?: { readonly owner: string; readonly version: string };
  /** Data key of the placement, when it has one. */
  readonly key?: string;
  /** Deployments restarted because the value changed. */
  readonly restarted?: readonly string[];
  /** Deployments whose rollout restart failed after the value changed (a Warning Event of its own). */
  readonly restartFailed?: readonly string[];
}

/** Reason of the Warning Event that a write's rollout restart failed. */
export const ROLLOUT_RESTART_FAILED_REASON = 'RolloutRestartFailed';

/** Records delivery Events on Secrets of one namespace; see the module comment. */
export interface SecretEventRecorder {
  /**
   * Records the Event of one outcome, if it gets one (writes and failures; not UpToDate or SkippedNewerPresent).
   * Permission: `create events` (and `patch events` for repeats). Never throws; resolves once the call is done or
   * has timed out. Calls for the same Event (a repeat) run one after another, in the order they were made.
   */
  record(api: KubernetesEventsApi, secret: InvolvedSecret, outcome: RecordedOutcome): Promise<void>;
}

/** Normal for a write, Warning for a failure, none for outcomes that changed nothing (a no-op must not churn). */
export function eventTypeOf(status: DeliveryStatus): 'Normal' | 'Warning' | undefined {
  if (isWrite(status)) return 'Normal';
  if (!STATUS_INFO[status].ok) return 'Warning';
  return undefined;
}

/** The Event message of an outcome: what happened, the detail, and (failures) the operator hint. */
export function eventMessageOf(outcome: RecordedOutcome): string {
  const info = STATUS_INFO[outcome.status];
  const key = outcome.key !== undefined ? ` (key ${outcome.key})` : '';
  const detail = (text: string): string => text.replace(/[.\s]+$/, '');
  let text: string;
  if (isWrite(outcome.status)) {
    const what = outcome.source ? `source ${outcome.source.owner} version ${outcome.source.version}` : 'the source value';
    const restarted = outcome.restarted?.length ? ` Restarted deployments: ${outcome.restarted.join(', ')}.` : '';
    // A failed restart's detail can quote the API server: it gets its own Warning Event, by Deployment name only.
    const extra = outcome.message && !outcome.restartFailed?.length ? ` ${detail(outcome.message)}.` : '';
    text = `Wrote ${what}${key}.${restarted}${extra}`;
  } else {
    // Not the outcome's detail: it can quote the API server's answer (an admission webhook may echo object data), and
    // Events are readable by roles that cannot read Secrets. The detail stays in the audit record and the log.
    text = `${detail(info.meaning)}${key}. Hint: ${info.hint}`;
  }
  return truncateMessage(text);
}

function truncateMessage(text: string): string {
  return text.length <= MAX_EVENT_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_EVENT_MESSAGE_LENGTH - 1)}…`;
}

/** A DNS-1123 Event name as client-go makes it: `<object name>.<hex nanoseconds>`, within 253 characters. */
function eventName(secretName: string, nowInMs: number, sequence: number): string {
  const suffix = (BigInt(nowInMs) * 1_000_000n + BigInt(sequence % 1_000_000)).toString(16);
  return `${secretName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
}

/** Creates the recorder of one target (one namespace). Its aggregation cache lives as long as the recorder. */
export function createSecretEventRecorder(options: SecretEventRecorderOptions): SecretEventRecorder {
  const log = options.log ?? { warn: (message: string) => console.warn(`[relay] ${message}`) };
  const clock = options.clock ?? Date.now;
  const instance = (options.reportingInstance ?? hostname()).slice(0, 128);
  const timeoutInMs = options.timeoutInMs ?? 5000;
  const written = new Map<string, CachedEvent>();
  const warned = new Set<string>();
  const queued = new Map<string, Promise<void>>();
  let sequence = 0;

  const remember = (key: string, entry: CachedEvent): void => {
    written.delete(key);
    written.set(key, entry);
    if (written.size > MAX_CACHED_EVENTS) written.delete(written.keys().next().value!);
  };

  const warnOnce = (error: unknown, secret: InvolvedSecret): void => {
    const info = kubernetesErrorInfo(error);
    const code = info.statusCode;
    const kind = code === undefined ? (error instanceof EventTimeout ? 'timeout' : 'network') : code >= 500 ? '5xx' : String(code);
    if (warned.has(kind)) return;
    warned.add(kind);
    const where = `${options.clusterName}/${options.namespace}/${secret.name}`;
    const hint =
      code === 403
        ? `grant the relay identity create and patch on events in namespace ${options.namespace} (docs/kubernetes.md, RBAC)`
        : code === 401
          ? 'the cluster credential was rejected; see the delivery status'
          : 'check the API server; Events are best effort and will be tried again with the next outcome';
    log.warn(
      `Kubernetes Event for ${where} not recorded (${code ?? kind}${info.message ? `: ${info.message.slice(0, 200)}` : ''}); the delivery outcome stands. Hint: ${hint}. Further ${kind} failures to record Events on this target are not logged.`,
      { cluster: options.clusterName, namespace: options.namespace, secret: secret.name, statusCode: code },
    );
  };

  const withTimeout = async (call: Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EventTimeout()), timeoutInMs);
      timer.unref();
    });
    try {
      await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * Records one Event, after the previous recording of the same Event: deliveries do not wait for their Events, so
   * repeats can overlap, and their counts and timestamps must still reach the API server in order.
   */
  const emit = (api: KubernetesEventsApi, secret: InvolvedSecret, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> => {
    const key = JSON.stringify([secret.name, secret.uid ?? '', type, reason, message]);
    const now = new Date(clock());
    const run = (queued.get(key) ?? Promise.resolve()).then(() => emitNow(api, secret, key, type, reason, message, now));
    queued.set(key, run);
    const done = (): void => {
      if (queued.get(key) === run) queued.delete(key);
    };
    run.then(done, done);
    return run;
  };

  /** Creates an Event, or bumps the count of the same Event recorded before (client-go's aggregation). Never throws. */
  const emitNow = async (
    api: KubernetesEventsApi,
    secret: InvolvedSecret,
    key: string,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    now: Date,
  ): Promise<void> => {
    try {
      const previous = written.get(key);
      // A repeat waits for the create of the Event it counts on, so concurrent repeats bump one Event.
      if (previous && (await previous.created)) {
        // Count before the call, so a concurrent repeat counts on from this one.
        previous.count += 1;
        remember(key, previous);
        try {
          await withTimeout(api.bumpEvent(previous.name, { count: previous.count, lastTimestamp: now }));
          return;
        } catch (error) {
          // The Event expired (the API server's event TTL) or was deleted: start a new one.
          if (kubernetesErrorInfo(error).statusCode !== 404) throw error;
          if (written.get(key) === previous) written.delete(key);
        }
      }
      const name = eventName(secret.name, now.getTime(), sequence++);
      const create = withTimeout(api.createEvent({ name, involvedObject: secret, type, reason, message, timestamp: now, reportingInstance: instance }));
      const entry: CachedEvent = { name, count: 1, created: create.then(() => true, () => false) };
      remember(key, entry);
      try {
        await create;
      } catch (error) {
        if (written.get(key) === entry) written.delete(key);
        throw error;
      }
    } catch (error) {
      warnOnce(error, secret);
    }
  };

  return {
    async record(api, secret, outcome) {
      const type = eventTypeOf(outcome.status);
      if (!type) return;
      await emit(api, secret, type, outcome.status, eventMessageOf(outcome));
      if (isWrite(outcome.status) && outcome.restartFailed?.length) {
        // Names only: the failure's detail can quote the API server, and Events are widely readable.
        const names = outcome.restartFailed.join(', ');
        await emit(api, secret, 'Warning', ROLLOUT_RESTART_FAILED_REASON, truncateMessage(`Rollout restart failed for ${names}. Hint: ${ROLLOUT_RESTART_HINT}`));
      }
    },
  };
}

/** An Event the recorder wrote: its name, the count it last set, and whether its create succeeded. */
interface CachedEvent {
  readonly name: string;
  count: number;
  readonly created: Promise<boolean>;
}

class EventTimeout extends Error {
  override readonly name = 'EventTimeout';
}
