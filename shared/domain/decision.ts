import { sameFingerprint } from './fingerprint.js';
import type { DeliveryStatus } from './statuses.js';

/**
 * The ownership marks the relay writes on everything it delivers (Key Vault tags, Kubernetes annotations), as read
 * back from a target. Adapters convert their wire form into this shape; the decision never sees a value.
 */
export interface OwnershipMarks {
  /** Which source secret owns the target: `<source vault host>/<name>`. */
  readonly source: string;
  /** The source version the target holds. */
  readonly sourceVersion: string;
  /** When that source version was created (unix seconds), if recorded. */
  readonly sourceCreatedOn?: number;
  /** Keyed fingerprint of the value the relay wrote. */
  readonly fingerprint?: string;
}

/** What a target looks like before a delivery, from its metadata only. */
export type TargetObservation =
  | { readonly state: 'absent' }
  /** Soft-deleted (Key Vault): the name is blocked until recovered or purged. */
  | { readonly state: 'deleted'; readonly marks?: OwnershipMarks }
  | {
      readonly state: 'present';
      /** Undefined when the current object carries no relay ownership marks. */
      readonly marks?: OwnershipMarks;
      /** True when the current object is foreign but an earlier one (older version) was the relay's, for this source. */
      readonly previouslyOwned?: boolean;
      /** Fingerprint of the value actually stored, when the adapter can compute it without extra reads. */
      readonly actualFingerprint?: string;
      /** True when the target's current version is disabled (Key Vault): readers get 403 until it is re-enabled. */
      readonly disabled?: boolean;
      /** True when the stored object cannot be changed in place (Kubernetes `immutable: true`). */
      readonly immutable?: boolean;
    };

/** The source version being delivered, by reference. */
export interface SourceFacts {
  /** `<source vault host>/<name>`, compared with `OwnershipMarks.source`. */
  readonly owner: string;
  readonly version: string;
  /** Creation time of this version (unix seconds). */
  readonly createdOn: number;
  /** Keyed fingerprint of this version's value. */
  readonly fingerprint: string;
  /** True when this version is the source's current (latest enabled) version. */
  readonly isLatest: boolean;
}

export interface DeliveryPolicy {
  /** Take over a target that exists without relay ownership (audited as Adopted). */
  readonly adopt: boolean;
  /** Recover a soft-deleted target name, then write (Recovered). */
  readonly recoverDeleted: boolean;
}

export const DECISION_REASONS = [
  'absent',
  'same-version',
  'value-drift',
  'fingerprint-changed',
  'older-version',
  'newer-present',
  'foreign',
  'foreign-adopt',
  'other-source',
  'other-source-adopt',
  'overwritten-by-foreign-writer',
  'deleted-owned',
  'deleted-foreign',
  'deleted-foreign-adopt',
  'deleted-recovery-disabled',
] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];

export type Decision =
  | {
      readonly write: true;
      readonly status: Extract<DeliveryStatus, 'Created' | 'Updated' | 'Recovered' | 'Adopted'>;
      /** Recover the soft-deleted name before writing. */
      readonly recover: boolean;
      readonly reason: DecisionReason;
    }
  | {
      readonly write: false;
      readonly status: Extract<DeliveryStatus, 'UpToDate' | 'SkippedNewerPresent' | 'FailedNotOwned' | 'FailedValidation'>;
      readonly reason: DecisionReason;
    };

const write = (status: 'Created' | 'Updated' | 'Recovered' | 'Adopted', reason: DecisionReason, recover = false): Decision => ({
  write: true,
  status,
  recover,
  reason,
});
const noWrite = (
  status: 'UpToDate' | 'SkippedNewerPresent' | 'FailedNotOwned' | 'FailedValidation',
  reason: DecisionReason,
): Decision => ({ write: false, status, reason });

/**
 * Decides what delivering one source version to one target must do. Pure and total: every observation yields one
 * decision. Guarantees: never writes over a newer source version, never writes to something the relay does not own
 * unless the policy says `adopt`, and never writes when the target already holds this version and value.
 */
export function decideDelivery(source: SourceFacts, target: TargetObservation, policy: DeliveryPolicy): Decision {
  switch (target.state) {
    case 'absent':
      return write('Created', 'absent');
    case 'deleted': {
      const ours = target.marks?.source === source.owner;
      if (ours) {
        // Recovering would bring back a newer version only to overwrite it with an older one: never roll back.
        if (target.marks && target.marks.sourceVersion !== source.version && targetIsNewer(target.marks, source)) {
          return noWrite('SkippedNewerPresent', 'newer-present');
        }
        return policy.recoverDeleted ? write('Recovered', 'deleted-owned', true) : noWrite('FailedValidation', 'deleted-recovery-disabled');
      }
      if (policy.adopt && policy.recoverDeleted) return write('Recovered', 'deleted-foreign-adopt', true);
      return noWrite('FailedNotOwned', 'deleted-foreign');
    }
    case 'present': {
      const marks = target.marks;
      if (!marks) {
        if (target.previouslyOwned) return write('Updated', 'overwritten-by-foreign-writer');
        return policy.adopt ? write('Adopted', 'foreign-adopt') : noWrite('FailedNotOwned', 'foreign');
      }
      if (marks.source !== source.owner) {
        return policy.adopt ? write('Adopted', 'other-source-adopt') : noWrite('FailedNotOwned', 'other-source');
      }
      if (marks.sourceVersion === source.version) {
        if (!sameFingerprint(marks.fingerprint, source.fingerprint)) return write('Updated', 'fingerprint-changed');
        if (target.actualFingerprint !== undefined && !sameFingerprint(target.actualFingerprint, source.fingerprint)) {
          return write('Updated', 'value-drift');
        }
        return noWrite('UpToDate', 'same-version');
      }
      return targetIsNewer(marks, source) ? noWrite('SkippedNewerPresent', 'newer-present') : write('Updated', 'older-version');
    }
  }
}

/**
 * True when `decideDelivery` consults `source.isLatest` for this observation: the target holds another version of
 * the same source whose creation second is the same (or unrecorded). Deliveries carry `isLatest` as the plan saw it;
 * only in this case must it be asked again before deciding (a version created since in the same second).
 */
export function dependsOnLatest(source: SourceFacts, target: TargetObservation): boolean {
  if (target.state === 'absent') return false;
  const marks = target.marks;
  if (!marks || marks.source !== source.owner || marks.sourceVersion === source.version) return false;
  return marks.sourceCreatedOn === undefined || marks.sourceCreatedOn === source.createdOn;
}

/**
 * True when the target holds a source version newer than the one being delivered. Creation times have 1-second
 * resolution, so a tie (or an unrecorded time) is settled by which version the source currently serves.
 */
function targetIsNewer(marks: OwnershipMarks, source: SourceFacts): boolean {
  if (marks.sourceCreatedOn !== undefined && marks.sourceCreatedOn !== source.createdOn) {
    return marks.sourceCreatedOn > source.createdOn;
  }
  return !source.isLatest;
}
