import { decideDelivery, type OwnershipMarks, type TargetObservation } from '../../shared/domain/decision.js';
import type { Placement } from '../../shared/domain/references.js';
import {
  TransientTargetError,
  type DeleteOutcome,
  type DeliveryOutcome,
  type DeliveryRequest,
  type ObserveOptions,
  type TargetCallOptions,
  type TargetClient,
  type ValidationProblem,
} from '../../shared/targets/contract.js';
import { marksFromTags, tagsFromMarks } from '../../shared/targets/keyVault/transformations.js';
import { validateKeyVaultMetadata, validateKeyVaultPlacement } from '../../shared/targets/keyVault/validation.js';

/**
 * An in-memory target with Key Vault semantics: versions, ownership tags, soft delete with recovery, the same limits
 * (names, 25 KB values, 15 tags), and counters. For unit tests and the contract suite; it never leaves the process.
 */
export interface MemoryTargetOptions {
  readonly targetId?: string;
  /** Host shown in locations; default `memory.test`. */
  readonly host?: string;
  /** When false, deleting purges immediately (a target without soft delete). Default true. */
  readonly softDelete?: boolean;
  /** Unix-seconds clock for version creation times. Default: wall clock. */
  readonly clock?: () => number;
}

export interface MemoryVersion {
  readonly version: string;
  readonly value: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly createdOn: number;
  readonly contentType?: string;
  readonly expiresOn?: number;
  readonly notBefore?: number;
}

interface MemorySecret {
  readonly name: string;
  readonly versions: MemoryVersion[];
  deleted: boolean;
}

export interface MemoryCounters {
  /** Every write: sets, recoveries and deletions. */
  readonly writes: number;
  readonly sets: number;
  readonly recovers: number;
  readonly deletes: number;
  readonly observes: number;
}

export type MemoryFault = 'accessDenied' | 'throttled' | 'unavailable';

export class MemoryTarget implements TargetClient {
  readonly kind = 'memory' as const;
  readonly targetId: string;
  readonly host: string;
  private readonly softDeleteEnabled: boolean;
  private readonly clock: () => number;
  private readonly secrets = new Map<string, MemorySecret>();
  private readonly faults: MemoryFault[] = [];
  private sequence = 0;
  private counts = { sets: 0, recovers: 0, deletes: 0, observes: 0 };

  constructor(options: MemoryTargetOptions = {}) {
    this.targetId = options.targetId ?? 'memory';
    this.host = options.host ?? 'memory.test';
    this.softDeleteEnabled = options.softDelete ?? true;
    this.clock = options.clock ?? (() => Math.floor(Date.now() / 1_000));
  }

  validate(placement: Placement, value: string): ValidationProblem[] {
    return validateKeyVaultPlacement(placement, value);
  }

  async observe(placement: Placement, options: ObserveOptions = {}): Promise<TargetObservation> {
    this.takeFault();
    this.counts.observes++;
    const secret = this.secrets.get(placement.name.toLowerCase());
    if (!secret || secret.versions.length === 0) return { state: 'absent' };
    const latest = secret.versions[secret.versions.length - 1]!;
    const marks = marksFromTags(latest.tags);
    if (secret.deleted) return marks ? { state: 'deleted', marks } : { state: 'deleted' };
    if (marks) return { state: 'present', marks };
    const wanted = options.owner?.toLowerCase();
    const previouslyOwned = secret.versions.some((v) => {
      const older = marksFromTags(v.tags);
      return older !== undefined && (wanted === undefined || older.source === wanted);
    });
    return previouslyOwned ? { state: 'present', previouslyOwned: true } : { state: 'present' };
  }

  async deliver(request: DeliveryRequest, options: TargetCallOptions = {}): Promise<DeliveryOutcome> {
    const { placement, source, value, policy } = request;
    const marks: OwnershipMarks = {
      source: source.owner.toLowerCase(),
      sourceVersion: source.version,
      sourceCreatedOn: source.createdOn,
      fingerprint: source.fingerprint,
    };
    const tags = tagsFromMarks(marks);
    const problems = [
      ...this.validate(placement, value),
      ...validateKeyVaultMetadata({ tags, ...(source.contentType !== undefined ? { contentType: source.contentType } : {}) }),
    ];
    if (problems.length > 0) {
      return this.outcome(placement, 'FailedValidation', 'invalid', { message: problems.map((p) => `${p.field}: ${p.message}`).join('; ') });
    }
    const fault = this.faults[0];
    if (fault === 'accessDenied') {
      this.faults.shift();
      return this.outcome(placement, 'FailedAccessDenied', 'access-denied', { message: `deliver on ${this.locate(placement.name)}: 403 (injected)` });
    }
    const observation = await this.observe(placement, { ...options, owner: marks.source });
    const decision = decideDelivery(source, observation, policy);
    const held = observation.state !== 'absent' ? observation.marks : undefined;
    const previous = held?.source === marks.source ? { previousSourceVersion: held.sourceVersion } : {};
    if (!decision.write) return this.outcome(placement, decision.status, decision.reason, previous);
    const secret = this.secrets.get(placement.name.toLowerCase());
    if (decision.recover && secret) {
      secret.deleted = false;
      this.counts.recovers++;
    }
    const written = this.append(placement.name, {
      value,
      tags,
      ...(source.contentType !== undefined ? { contentType: source.contentType } : {}),
      ...(source.expiresOn !== undefined ? { expiresOn: source.expiresOn } : {}),
      ...(source.notBefore !== undefined ? { notBefore: source.notBefore } : {}),
    });
    return this.outcome(placement, decision.status, decision.reason, { ...previous, writtenVersion: written.version });
  }

  async deleteIfOwned(placement: Placement, owner: string, options: TargetCallOptions = {}): Promise<DeleteOutcome> {
    const observation = await this.observe(placement, { ...options, owner });
    if (observation.state !== 'present') return 'NotFound';
    if (observation.marks?.source !== owner.toLowerCase()) return 'NotOwned';
    this.removeName(placement.name);
    return 'Deleted';
  }

  // ---- test hooks: arrange and inspect state without going through the relay ----

  /** Writes a version without relay marks (someone else's secret, or an overwrite on top of ours). */
  seedForeign(placement: Placement, value: string, tags: Record<string, string> = { owner: 'someone-else' }): MemoryVersion {
    const secret = this.secrets.get(placement.name.toLowerCase());
    if (secret?.deleted) throw new Error(`seedForeign: ${placement.name} is soft-deleted`);
    return this.append(placement.name, { value, tags });
  }

  /** Soft-deletes a name as a customer would (or purges, when soft delete is off). */
  softDelete(placement: Placement): void {
    if (!this.removeName(placement.name)) throw new Error(`softDelete: ${placement.name} does not exist`);
  }

  /** The current version as stored, or undefined when absent or deleted. */
  readRaw(placement: Placement): (MemoryVersion & { owned: boolean; sourceVersion?: string }) | undefined {
    const secret = this.secrets.get(placement.name.toLowerCase());
    if (!secret || secret.deleted) return undefined;
    const latest = secret.versions[secret.versions.length - 1];
    if (!latest) return undefined;
    const marks = marksFromTags(latest.tags);
    return { ...latest, owned: marks !== undefined, ...(marks ? { sourceVersion: marks.sourceVersion } : {}) };
  }

  /** Every version of a name, oldest first. */
  versions(placement: Placement): readonly MemoryVersion[] {
    return [...(this.secrets.get(placement.name.toLowerCase())?.versions ?? [])];
  }

  counters(): MemoryCounters {
    const { sets, recovers, deletes, observes } = this.counts;
    return { writes: sets + recovers + deletes, sets, recovers, deletes, observes };
  }

  /** Makes the next calls fail: accessDenied → FailedAccessDenied outcome; throttled/unavailable → TransientTargetError. */
  injectFault(fault: MemoryFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  private takeFault(): void {
    const fault = this.faults[0];
    if (fault === 'throttled' || fault === 'unavailable') {
      this.faults.shift();
      throw new TransientTargetError(`memory target ${this.targetId}: injected ${fault}`, fault === 'throttled' ? 'FailedThrottled' : 'FailedUnavailable');
    }
  }

  private append(name: string, version: Omit<MemoryVersion, 'version' | 'createdOn'>): MemoryVersion {
    const key = name.toLowerCase();
    let secret = this.secrets.get(key);
    if (!secret) {
      secret = { name, versions: [], deleted: false };
      this.secrets.set(key, secret);
    }
    this.sequence++;
    const stored: MemoryVersion = { ...version, version: this.sequence.toString(16).padStart(32, '0'), createdOn: this.clock() };
    secret.versions.push(stored);
    this.counts.sets++;
    return stored;
  }

  private removeName(name: string): boolean {
    const key = name.toLowerCase();
    const secret = this.secrets.get(key);
    if (!secret || secret.deleted) return false;
    if (this.softDeleteEnabled) secret.deleted = true;
    else this.secrets.delete(key);
    this.counts.deletes++;
    return true;
  }

  private locate(name: string): string {
    return `${this.host}/${name}`;
  }

  private outcome(
    placement: Placement,
    status: DeliveryOutcome['status'],
    reason: string,
    extra: Partial<Pick<DeliveryOutcome, 'message' | 'writtenVersion' | 'previousSourceVersion'>> = {},
  ): DeliveryOutcome {
    return { status, targetId: this.targetId, location: this.locate(placement.name), reason, ...extra };
  }
}

/** A memory target with defaults plus named tweaks. */
export function createMemoryTarget(options: MemoryTargetOptions = {}): MemoryTarget {
  return new MemoryTarget(options);
}
