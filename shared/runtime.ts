import type { FingerprintKey } from './domain/fingerprint.js';
import type { SourceVault } from './sources/index.js';
import type { TargetClient } from './targets/contract.js';
import type { AuditQueryFilter, AuditQueryResult } from './audit/index.js';
import type { AuditEntry, ConcurrencyLimits, ReconcileReport } from './orchestrations/types.js';

/**
 * The ports through which activities and trigger handlers reach the outside world. `composition.ts` builds the real
 * ones from settings; tests build them over emulators or fakes. Nothing else constructs SDK clients.
 */
export interface RelayRuntime {
  /** The validated relay.config.json. */
  readonly config: import('./domain/config.js').RelayConfig;
  readonly fingerprintKey: FingerprintKey;
  /** The source vault reader/writer for a configured source id; throws for an unknown id. */
  source(sourceId: string): SourcePort;
  /** The target client for a configured target id; throws for an unknown id. */
  target(targetId: string): TargetClient;
  readonly audit: AuditPort;
  readonly reports: ReportPort;
  /** Mutual exclusion per target placement, across every host instance (deliveries to one place never overlap). */
  readonly locks: LockPort;
  readonly limits: ConcurrencyLimits;
  /** Generates a new credential value per a rotation policy (never logged). */
  generateValue(policy: import('./domain/config.js').RotationPolicy): string;
  /** The rotator of a route whose rotation policy names `postgres` or `webhook`; undefined for other routes. */
  rotator?(routeId: string): import('./rotation/contract.js').Rotator | undefined;
  /** The calls `target check` probes a target's permissions with (shared/control/preflight.ts). */
  preflight?(targetId: string): import('./control/preflight.js').PreflightPorts;
  readonly log: RelayLog;
  /** Metrics and spans (default: the global OpenTelemetry API, see shared/telemetry). */
  readonly telemetry?: import('./telemetry/index.js').RelayTelemetry;
  /** Page readers of whole vaults and namespaces (fleet snapshot, reconciliation); see shared/fleet. */
  readonly listing?: import('./fleet/types.js').FleetListingPort;
  /** Time limit of one target check during reconciliation (default 30 s); setting RELAY_CHECK_TIME_LIMIT_MS. */
  readonly checkTimeLimitInMs?: number;
  /** Wall clock (activities and triggers only; orchestrations use the durable clock). */
  now(): Date;
}

/** Source vaults are read and written through the Key Vault source adapter (shared/sources). */
export type SourcePort = SourceVault;
export { SourceVaultError as SourceError } from './sources/index.js';

export interface AuditPort {
  /** Appends entries durably (resolves once stored). Repeating the same entries is collapsed on read. */
  append(entries: readonly AuditEntry[]): Promise<void>;
  /**
   * Throws `AuditRecordRejectedError` (naming the field, never a value) when an entry could not be recorded. No I/O:
   * callers check the record a write will need before the write, so a write without its record cannot happen.
   */
  validate(entries: readonly AuditEntry[]): void;
  /**
   * Reads the records of a time range that match the filter, oldest first (the console's audit timeline). Needs
   * `Storage Blob Data Reader` on the audit container. Optional: runtimes without a readable trail omit it.
   */
  query?(filter: AuditQueryFilter): Promise<AuditQueryResult>;
}

export interface LockPort {
  /**
   * Runs `fn` while holding the lock named `key` (held across processes and hosts; released when `fn` settles, and
   * lost only if the holder stops renewing it, e.g. a crashed host, after the lease period). Waits while another
   * holder has it; throws a retryable error (message starting `FailedUnavailable:`) if it cannot get it in time.
   * Answers with `fn`'s result without waiting for the release to be acknowledged.
   */
  withLock<T>(key: string, fn: () => Promise<T>, options?: { readonly abortSignal?: AbortSignal }): Promise<T>;
  /**
   * A group of holders that trust each other (the deliveries of one batch: one source version, each to its own
   * placement): holders of one key in the group share one lock, taken by the first and kept until the group is
   * `done` with the key (or closed), so a batch pays for one lock per key instead of one per delivery. Holders
   * outside the group are excluded as by `withLock`.
   */
  group(): LockGroup;
}

/** Locks shared by the holders of one group; see `LockPort.group`. */
export interface LockGroup {
  /** Runs `fn` while the group holds `key` (taking it first if the group does not hold it yet). */
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** The group will not use `key` again: its lock is released once its running holders have finished. */
  done(key: string): void;
  /** Releases every lock the group still holds (after their running holders) and waits for the releases. */
  close(): Promise<void>;
}

export interface ReportPort {
  /** Writes a drift report; returns the blob name. */
  writeDriftReport(report: ReconcileReport): Promise<string>;
  /** The latest drift report (today's or yesterday's, UTC) with its blob name; undefined when none. Reads one listing and one blob. */
  latestDriftReport?(): Promise<(ReconcileReport & { reportBlob: string }) | undefined>;
}

export interface RelayLog {
  /** Routine detail (each successful delivery); not written unless RELAY_LOG_LEVEL=debug. Absent: not logged. */
  debug?(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}
