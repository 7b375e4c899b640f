/**
 * The closed set of delivery outcomes. Every delivery of one source version to one target ends in exactly one of
 * these; messages add detail but never replace the status.
 */
export const DELIVERY_STATUSES = [
  'Created',
  'Updated',
  'UpToDate',
  'Recovered',
  'Adopted',
  'SkippedNewerPresent',
  'FailedNotOwned',
  'FailedAccessDenied',
  'FailedThrottled',
  'FailedUnavailable',
  'FailedValidation',
  'FailedImmutable',
  'FailedSourceMissing',
] as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface StatusInfo {
  /** True when the write landed or nothing needed writing. */
  readonly ok: boolean;
  /** True when trying again later may succeed without anyone changing anything. */
  readonly retryable: boolean;
  /** What the status means, in one line. */
  readonly meaning: string;
  /** What an operator should do about it, in one line. */
  readonly hint: string;
}

export const STATUS_INFO: Readonly<Record<DeliveryStatus, StatusInfo>> = {
  Created: {
    ok: true,
    retryable: false,
    meaning: 'The target did not exist; the relay created it.',
    hint: 'Nothing to do.',
  },
  Updated: {
    ok: true,
    retryable: false,
    meaning: 'The target held an older version (or drifted); the relay wrote the new one.',
    hint: 'Nothing to do.',
  },
  UpToDate: {
    ok: true,
    retryable: false,
    meaning: 'The target already holds this source version with the same fingerprint; nothing was written.',
    hint: 'Nothing to do.',
  },
  Recovered: {
    ok: true,
    retryable: false,
    meaning: 'The target name was soft-deleted; the relay recovered it, then wrote the new version.',
    hint: 'If the deletion was intentional, remove the target from the route and purge the secret.',
  },
  Adopted: {
    ok: true,
    retryable: false,
    meaning: 'The target existed without relay ownership; the route allows adoption, so the relay took it over.',
    hint: 'Check the audit record of the adoption; remove `adopt` from the route once adoption is done.',
  },
  SkippedNewerPresent: {
    ok: true,
    retryable: false,
    meaning: 'The target already holds a newer source version; the relay never rolls back.',
    hint: 'Nothing to do: this was a late or duplicate event.',
  },
  FailedNotOwned: {
    ok: false,
    retryable: false,
    meaning: 'The target exists but is not owned by the relay (or by this route); it was left untouched.',
    hint: 'Rename the target in the route, delete the foreign secret, or set `adopt: true` on the route to take it over.',
  },
  FailedAccessDenied: {
    ok: false,
    retryable: false,
    meaning: 'The target refused the relay identity (403/401).',
    hint: "Grant the relay identity write access on the target (Key Vault: a writer role; Kubernetes: RBAC on secrets); new role assignments can take minutes to apply.",
  },
  FailedThrottled: {
    ok: false,
    retryable: true,
    meaning: 'The target kept throttling (429) after the backoff ladder.',
    hint: 'The target is over its request budget; lower the write budget for it or wait for reconciliation to retry.',
  },
  FailedUnavailable: {
    ok: false,
    retryable: true,
    meaning: 'The target was unreachable or answered 5xx after retries.',
    hint: 'Check the target endpoint, DNS and network path; reconciliation will retry.',
  },
  FailedValidation: {
    ok: false,
    retryable: false,
    meaning: 'The value, name or metadata breaks a limit of the target (size, name rules, tags) or the route forbids the step.',
    hint: 'Fix the route (name template, type, key) or the source value; the message names the limit.',
  },
  FailedImmutable: {
    ok: false,
    retryable: false,
    meaning: 'The target Kubernetes Secret is immutable (`immutable: true`): its data cannot change in place.',
    hint: 'An immutable Secret can only be replaced: delete it (`kubectl delete secret <name> -n <namespace>`) and the next reconciliation recreates it from the source.',
  },
  FailedSourceMissing: {
    ok: false,
    retryable: false,
    meaning: 'The source secret or version does not exist, is disabled, or could not be read.',
    hint: 'Check the source vault: the version may have been deleted or disabled, or the relay lacks read access.',
  },
};

/** True for statuses that mean the target now holds (or already held) what the source says. */
/** What to do when a Kubernetes copy was written but restarting its Deployments failed (a write with a warning). */
export const ROLLOUT_RESTART_HINT =
  'the Secret holds the new value but these Deployments still run the old one: run `kubectl rollout restart deployment/<name>`, and grant the relay patch on deployments (docs/kubernetes.md, RBAC)';

export function isSuccess(status: DeliveryStatus): boolean {
  return STATUS_INFO[status].ok;
}

/** True for statuses that mean a write happened. */
export function isWrite(status: DeliveryStatus): boolean {
  return status === 'Created' || status === 'Updated' || status === 'Recovered' || status === 'Adopted';
}

export function isDeliveryStatus(value: unknown): value is DeliveryStatus {
  return typeof value === 'string' && (DELIVERY_STATUSES as readonly string[]).includes(value);
}
