import { decideDelivery, type Decision, type OwnershipMarks, type SourceFacts, type TargetObservation } from '../domain/decision.js';
import { parseFingerprint } from '../domain/fingerprint.js';
import { ownerOf, type Placement } from '../domain/references.js';
import type { RelayConfig } from '../domain/config.js';
import type { SourceVault } from '../sources/index.js';
import type { TargetClient } from '../targets/contract.js';
import { failureOf, listRoutedSecrets, mapLimit, type UnreadSource } from './routed.js';

/** What a relay would do now to one target placement. */
export const PLAN_ACTIONS = ['create', 'update', 'none', 'recover', 'adopt', 'conflict', 'skip-newer', 'blocked'] as const;
export type PlanAction = (typeof PLAN_ACTIONS)[number];

/** One row of a plan: a routed source secret's current version × one target placement. */
export interface PlanItem {
  readonly source: string;
  readonly name: string;
  readonly version: string;
  readonly targetId: string;
  readonly placement: Placement;
  readonly action: PlanAction;
  /**
   * Constant reason: the delivery decision's (`absent`, `same-version`, `older-version`, `foreign`, …) or, for
   * `blocked`, why the target cannot be read or written now (`access-denied`, `unavailable`, `throttled`, `timeout`,
   * `deleted-recovery-disabled`, `invalid-placement`, `cluster-not-live`, `error`).
   */
  readonly reason: string;
  /** `blocked` only: detail for operators (never a value). */
  readonly message?: string;
}

/** `POST /api/plan`'s answer. */
export interface Plan {
  readonly items: readonly PlanItem[];
  /** Items per action; every action is present (0 when none). */
  readonly counts: Readonly<Record<PlanAction, number>>;
  /** Sources that could not be listed, and secrets that could not be read: their rows are missing. */
  readonly unread: readonly UnreadSource[];
}

/** What planning needs: a config and metadata readers of its sources and targets. */
export interface PlanPorts {
  readonly config: RelayConfig;
  /** Key id of the relay's fingerprint key: marks under another key are rewritten (`fingerprint-changed`). */
  readonly fingerprintKeyId: string;
  source(sourceId: string): Pick<SourceVault, 'listSecrets' | 'getLatestProperties'>;
  target(targetId: string): Pick<TargetClient, 'observe' | 'validate'>;
  /** Targets that must not be contacted (a proposed config's new cluster credentials): planned as `blocked`. */
  readonly refuse?: (targetId: string) => { readonly reason: string; readonly message: string } | undefined;
}

export interface PlanOptions {
  readonly sourceId?: string;
  readonly name?: string;
  /** Time limit of one target observation (default 30 s); beyond it the row is `blocked` / `timeout`. */
  readonly observeTimeLimitInMs?: number;
  /** Observations in flight at once (default 8). */
  readonly concurrency?: number;
  readonly abortSignal?: AbortSignal;
}

/**
 * Plans what relaying every routed source secret's current version would do now, target by target, without a
 * write and without reading a value: sources are listed and read by properties (secrets/readMetadata), targets are
 * observed through `TargetClient.observe` (Key Vault: version properties; Kubernetes: the Secret object, whose data
 * the adapter reduces to a keyed fingerprint in process), and each observation goes through the relay's own
 * `decideDelivery`. Repeating it changes nothing.
 *
 * The source fingerprint is not computed (that needs the value). A Key Vault version's value never changes, so when
 * the target holds the source's current version under the relay's current fingerprint key, the fingerprint the relay
 * recorded is the source's; under another key id the row is `update` (`fingerprint-changed`), as a delivery would
 * rewrite it. A Kubernetes Secret edited by hand is seen (`value-drift`) because its stored data no longer matches
 * the recorded fingerprint.
 */
export async function planRelays(ports: PlanPorts, options: PlanOptions = {}): Promise<Plan> {
  const listed = await listRoutedSecrets(
    ports.config,
    (id) => ports.source(id),
    { ...(options.sourceId !== undefined ? { sourceId: options.sourceId } : {}), ...(options.name !== undefined ? { name: options.name } : {}) },
    { ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) },
  );
  const rows = listed.secrets.flatMap((secret) => secret.deliveries.map((delivery) => ({ secret, delivery })));
  const timeLimit = options.observeTimeLimitInMs ?? 30_000;
  const items = await mapLimit(rows, options.concurrency ?? 8, async ({ secret, delivery }): Promise<PlanItem> => {
    const base = { source: secret.sourceId, name: secret.name, version: secret.current.version, targetId: delivery.targetId, placement: delivery.placement };
    const refused = ports.refuse?.(delivery.targetId);
    if (refused) return { ...base, action: 'blocked', ...refused };
    const owner = ownerOf(secret.vaultUrl, secret.name);
    let observation: TargetObservation;
    let client: Pick<TargetClient, 'observe' | 'validate'>;
    try {
      client = ports.target(delivery.targetId);
      // An empty value checks the placement's name and key rules only; the value's size is the relay's to check.
      const problems = client.validate(delivery.placement, '').filter((p) => p.field !== 'value');
      if (problems.length > 0) {
        return { ...base, action: 'blocked', reason: 'invalid-placement', message: problems.map((p) => `${p.field}: ${p.message}`).join('; ') };
      }
      const signal = AbortSignal.any([AbortSignal.timeout(timeLimit), ...(options.abortSignal ? [options.abortSignal] : [])]);
      observation = await client.observe(delivery.placement, { owner, abortSignal: signal, ...(delivery.k8s ? { type: delivery.k8s.type } : {}) });
    } catch (error) {
      const failure = (error as { name?: string })?.name === 'TimeoutError' || (error as { name?: string })?.name === 'AbortError'
        ? { reason: 'timeout', message: `no answer within ${timeLimit / 1000} s` }
        : failureOf(error);
      return { ...base, action: 'blocked', ...failure };
    }
    const facts: SourceFacts = {
      owner,
      version: secret.current.version,
      createdOn: secret.current.createdOn,
      fingerprint: assumedSourceFingerprint(observation, secret.current.version, ports.fingerprintKeyId),
      isLatest: true,
    };
    return { ...base, ...actionOf(decideDelivery(facts, observation, delivery.policy)) };
  });
  return { items, counts: countActions(items), unread: listed.unread };
}

/**
 * The source fingerprint as far as metadata shows it: the recorded one when the target holds this version under the
 * current key (a Key Vault version's value is immutable), otherwise one no mark can equal.
 */
function assumedSourceFingerprint(observation: TargetObservation, version: string, keyId: string): string {
  const marks: OwnershipMarks | undefined = observation.state === 'absent' ? undefined : observation.marks;
  if (marks?.fingerprint && marks.sourceVersion === version && parseFingerprint(marks.fingerprint)?.keyId === keyId) return marks.fingerprint;
  return `hmac-sha256:${keyId}:unknown`;
}

/** The plan action of a delivery decision. */
export function actionOf(decision: Decision): { action: PlanAction; reason: string } {
  switch (decision.status) {
    case 'Created':
      return { action: 'create', reason: decision.reason };
    case 'Updated':
      return { action: 'update', reason: decision.reason };
    case 'Recovered':
      return { action: 'recover', reason: decision.reason };
    case 'Adopted':
      return { action: 'adopt', reason: decision.reason };
    case 'UpToDate':
      return { action: 'none', reason: decision.reason };
    case 'SkippedNewerPresent':
      return { action: 'skip-newer', reason: decision.reason };
    case 'FailedNotOwned':
      return { action: 'conflict', reason: decision.reason };
    case 'FailedValidation':
      // A soft-deleted name the route may not recover: the relay would fail until someone recovers or purges it.
      return { action: 'blocked', reason: decision.reason };
  }
}

/** Items per action, every action present. */
export function countActions(items: readonly Pick<PlanItem, 'action'>[]): Record<PlanAction, number> {
  const counts = Object.fromEntries(PLAN_ACTIONS.map((a) => [a, 0])) as Record<PlanAction, number>;
  for (const item of items) counts[item.action] += 1;
  return counts;
}

