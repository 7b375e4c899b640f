import type { FingerprintKey } from './domain/fingerprint.js';
import type { DeliveryStatus } from './domain/statuses.js';
import type { SourceVersionFacts, TargetClient } from './targets/contract.js';
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
  readonly limits: ConcurrencyLimits;
  /** Generates a new credential value per a rotation policy (never logged). */
  generateValue(policy: import('./domain/config.js').RotationPolicy): string;
  readonly log: RelayLog;
  /** Wall clock (activities and triggers only; orchestrations use the durable clock). */
  now(): Date;
}

/** Properties of one source secret version, without its value. */
export interface SourceProperties {
  readonly version: string;
  /** Unix seconds. */
  readonly createdOn: number;
  readonly enabled: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly contentType?: string;
  /** Unix seconds. */
  readonly expiresOn?: number;
}

export interface SourcePort {
  readonly sourceId: string;
  readonly vaultUrl: string;
  /** Metadata of one version; undefined when it does not exist. Needs readMetadata (list) permission. */
  getVersionProperties(name: string, version: string): Promise<SourceProperties | undefined>;
  /** Metadata of the current (latest enabled) version; undefined when the secret does not exist. */
  getLatestProperties(name: string): Promise<SourceProperties | undefined>;
  /** Every secret of the source vault, with its tags (metadata only). */
  listSecrets(): AsyncIterable<{ readonly name: string; readonly tags: Readonly<Record<string, string>>; readonly enabled: boolean }>;
  /** Reads one version's value and facts (fingerprint under `key`). Needs getSecret permission. */
  readVersion(name: string, version: string, key: FingerprintKey): Promise<{ value: string; facts: SourceVersionFacts }>;
  /** Writes a new version (rotation). Needs setSecret permission. */
  setNewVersion(
    name: string,
    value: string,
    options: { contentType?: string; expiresOn?: Date; tags?: Record<string, string> },
  ): Promise<{ version: string }>;
}

/** Thrown by source ports for non-transient failures, with the status the delivery ends in. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    message: string,
    readonly status: Extract<DeliveryStatus, 'FailedSourceMissing' | 'FailedAccessDenied' | 'FailedValidation'>,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface AuditPort {
  /** Appends entries durably (resolves once stored). Repeating the same entries is collapsed on read. */
  append(entries: readonly AuditEntry[]): Promise<void>;
}

export interface ReportPort {
  /** Writes a drift report; returns the blob name. */
  writeDriftReport(report: ReconcileReport): Promise<string>;
}

export interface RelayLog {
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}
