import type { TargetObservation } from './decision.js';

/**
 * How one target can differ from its source, as reconciliation and the status API name it. Pure: the same table
 * decides both, and renders the failure section of docs/statuses.md.
 */
export const DRIFT_KINDS = [
  'absent',
  'deleted',
  'version',
  'foreign-overwrite',
  'value',
  'not-owned',
  'target-disabled',
  'immutable',
  'source-disabled',
  'source-deleted',
  'check-failed',
] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** The state of a source secret: a current enabled version, a disabled current version, or soft-deleted. */
export type SourceState = 'enabled' | 'disabled' | 'deleted';

export interface DriftInfo {
  /** Reconciliation relays the source's current version to repair it. */
  readonly repaired: boolean;
  /** The `drift` audit record's status. */
  readonly auditStatus: 'Drifted' | 'Missing' | 'NotOwned' | 'CheckFailed';
  readonly meaning: string;
  readonly hint: string;
}

export const DRIFT_INFO: Readonly<Record<DriftKind, DriftInfo>> = {
  absent: {
    repaired: true,
    auditStatus: 'Missing',
    meaning: 'The target placement does not exist.',
    hint: 'Nothing to do: reconciliation creates it. If it keeps coming back, see the repair relay’s delivery status.',
  },
  deleted: {
    repaired: true,
    auditStatus: 'Missing',
    meaning: 'The target secret is soft-deleted (Key Vault).',
    hint: 'Reconciliation recovers it when the route has `recoverDeleted`; otherwise purge it or enable `recoverDeleted`.',
  },
  version: {
    repaired: true,
    auditStatus: 'Drifted',
    meaning: 'The target holds an older source version.',
    hint: 'Nothing to do: reconciliation relays the current version (a missed or failed event).',
  },
  'foreign-overwrite': {
    repaired: true,
    auditStatus: 'Drifted',
    meaning: 'Someone else wrote a new value over the relay’s copy.',
    hint: 'Nothing to do: reconciliation writes the source value back. Find the other writer: it will do it again.',
  },
  value: {
    repaired: true,
    auditStatus: 'Drifted',
    meaning: 'The stored value was edited in place (Kubernetes): it no longer matches its fingerprint.',
    hint: 'Nothing to do: reconciliation writes the source value back. Find who edits the Secret.',
  },
  'not-owned': {
    repaired: false,
    auditStatus: 'NotOwned',
    meaning: 'The target exists but is not the relay’s (or belongs to another source); the relay never touches it.',
    hint: 'Rename the target in the route, delete the foreign object, or set `adopt: true` on the route to take it over.',
  },
  'target-disabled': {
    repaired: false,
    auditStatus: 'Drifted',
    meaning: 'The relay’s version in the target vault was disabled there: readers get 403.',
    hint: 'Re-enable the version in the target vault (`az keyvault secret set-attributes --enabled true`) or remove the target from the route; the relay does not override a customer’s decision.',
  },
  immutable: {
    repaired: false,
    auditStatus: 'Drifted',
    meaning: 'The target Kubernetes Secret is immutable, so the relay cannot change it in place.',
    hint: 'An immutable Secret can only be replaced: delete it (`kubectl delete secret <name> -n <namespace>`) and the next reconciliation recreates it from the source.',
  },
  'source-disabled': {
    repaired: false,
    auditStatus: 'Drifted',
    meaning: 'The source’s current version is disabled; targets keep the copy they hold (never rolled back or deleted).',
    hint: 'Re-enable the version, or write a new source version (it is relayed as usual); remove the route to stop serving the copies.',
  },
  'source-deleted': {
    repaired: false,
    auditStatus: 'Drifted',
    meaning: 'The source secret is deleted; targets keep the copy they hold (never deleted by the relay).',
    hint: 'Recover the source secret, or delete the target copies yourself if the credential is retired.',
  },
  'check-failed': {
    repaired: false,
    auditStatus: 'CheckFailed',
    meaning: 'The target could not be read (403, unreachable, too slow); the other targets were checked.',
    hint: 'The reason names the cause: grant read access (Key Vault: readMetadata; Kubernetes: get secrets), or fix the endpoint and network path; the next run checks again.',
  },
};

export interface DriftContext {
  /** `<source vault host>/<name>` of the source secret. */
  readonly owner: string;
  readonly sourceState: SourceState;
  /** The source's current version (for an enabled source). */
  readonly version?: string;
  /** The route takes over foreign objects. */
  readonly adopt: boolean;
}

/**
 * The drift of one target, or undefined when it is in sync (or, for a disabled or deleted source, holds nothing of
 * it). Total over observations; never looks at values (only marks and keyed fingerprints).
 */
export function driftOf(observed: TargetObservation, context: DriftContext): DriftKind | undefined {
  const marks = observed.state === 'absent' ? undefined : observed.marks;
  const ours = marks?.source === context.owner;
  if (context.sourceState !== 'enabled') {
    if (!ours) return undefined;
    return context.sourceState === 'disabled' ? 'source-disabled' : 'source-deleted';
  }
  if (observed.state === 'absent') return 'absent';
  if (observed.state === 'deleted') return 'deleted';
  let drift: DriftKind | undefined;
  if (!marks) drift = observed.previouslyOwned || context.adopt ? 'foreign-overwrite' : 'not-owned';
  else if (!ours) drift = context.adopt ? 'foreign-overwrite' : 'not-owned';
  else if (observed.disabled) drift = 'target-disabled';
  else if (marks.sourceVersion !== context.version) drift = 'version';
  else if (observed.actualFingerprint !== undefined && observed.actualFingerprint !== marks.fingerprint) drift = 'value';
  // An immutable Secret cannot be repaired in place: named instead of failing the same repair every run.
  if (drift && drift !== 'not-owned' && observed.immutable) return 'immutable';
  return drift;
}
