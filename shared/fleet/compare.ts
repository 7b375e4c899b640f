import type { RelayConfig } from '../domain/config.js';
import type { TargetObservation } from '../domain/decision.js';
import { driftOf, type SourceState } from '../domain/drift.js';
import type { FingerprintKey } from '../domain/fingerprint.js';
import { planDeliveries, type PlannedDelivery } from '../domain/plan.js';
import { ownerOf } from '../domain/references.js';
import type { ListedSecret } from '../targets/keyVault/listing.js';
import { marksFromTags } from '../targets/keyVault/transformations.js';
import { observeListed } from '../targets/kubernetes/listing.js';
import { ANNOTATION_SYNCED_AT } from '../targets/kubernetes/marks.js';
import type { FleetPlacement, FleetSecret, TargetListing } from './types.js';

/** A source secret as its vault lists it (live or soft-deleted). */
export interface ListedSource {
  readonly sourceId: string;
  readonly vaultUrl: string;
  readonly name: string;
  readonly state: SourceState;
  readonly createdOn: number;
  readonly tags: Readonly<Record<string, string>>;
}

/** The placements the routes give a listed source secret. */
export function plannedFor(config: RelayConfig, source: ListedSource): PlannedDelivery[] {
  return planDeliveries(config, { sourceId: source.sourceId, name: source.name, tags: source.tags });
}

export function locationOf(delivery: Pick<PlannedDelivery, 'targetId' | 'placement'>): string {
  return `${delivery.targetId}:${delivery.placement.name}${delivery.placement.key ? `#${delivery.placement.key}` : ''}`;
}

/**
 * The observation of one placement from its target's listing, and whether the listing alone is enough to name its
 * drift: a Key Vault name whose current version is foreign may have been the relay's before (`foreign-overwrite` vs
 * `not-owned` needs the version history), and a Kubernetes name missing from the labelled listing may be an
 * unlabelled foreign Secret. Both are settled by one read of that placement, only when it is out of sync anyway.
 */
export function observeFromListing(
  listing: Exclude<TargetListing, { kind: 'failed' }>,
  delivery: PlannedDelivery,
  fingerprintKey: FingerprintKey,
): { observation: TargetObservation; uncertain: boolean; deliveredOn?: number } {
  if (listing.kind === 'keyVault') {
    const listed = listing.byName.get(delivery.placement.name.toLowerCase());
    if (!listed) {
      const deleted = listing.deleted?.get(delivery.placement.name.toLowerCase());
      if (deleted) {
        const marks = marksFromTags(deleted.tags);
        return { observation: marks ? { state: 'deleted', marks } : { state: 'deleted' }, uncertain: false };
      }
      // Without the deleted listing a missing name may be soft-deleted: the settling read tells.
      return { observation: { state: 'absent' }, uncertain: listing.deleted === undefined };
    }
    const marks = marksFromTags(listed.tags);
    const disabled = listed.enabled ? {} : { disabled: true as const };
    return {
      observation: marks ? { state: 'present', marks, ...disabled } : { state: 'present', ...disabled },
      uncertain: !marks,
      ...(marks && listed.createdOn ? { deliveredOn: listed.createdOn } : {}),
    };
  }
  const secret = listing.byName.get(delivery.placement.name);
  const observation = observeListed(secret, delivery.placement, delivery.k8s?.type ?? 'Opaque', fingerprintKey);
  const synced = secret?.annotations[ANNOTATION_SYNCED_AT];
  const syncedOn = synced ? Math.floor(Date.parse(synced) / 1_000) : NaN;
  return {
    observation,
    uncertain: observation.state === 'absent',
    ...(observation.state === 'present' && observation.marks && Number.isFinite(syncedOn) ? { deliveredOn: syncedOn } : {}),
  };
}

/**
 * Compares one source secret with its placements' listings, in memory. The current version id is not in Key Vault's
 * list, so it is taken from the marks: a placement whose mark records the same creation time as the source's
 * current version (`relay-source-created`, unix seconds) holds the current version. A mark with an older creation
 * time is `version` drift. When no mark settles the id (nothing in sync, two marks of the same second disagree, or
 * marks without a creation time), `needsVersion` asks for one read of the source.
 */
export function compareSecret(
  source: ListedSource,
  planned: readonly PlannedDelivery[],
  listings: ReadonlyMap<string, TargetListing>,
  fingerprintKey: FingerprintKey,
  options: { currentVersion?: string } = {},
): FleetSecret {
  const owner = ownerOf(source.vaultUrl, source.name);
  const observed = planned.map((delivery) => {
    const listing = listings.get(delivery.targetId);
    if (!listing || listing.kind === 'failed') return { delivery, failure: listing?.kind === 'failed' ? listing.failure : { reason: 'unavailable', message: `target ${delivery.targetId} was not listed` } };
    return { delivery, ...observeFromListing(listing, delivery, fingerprintKey) };
  });
  const ownMarks = (observation: TargetObservation | undefined) =>
    observation && observation.state !== 'absent' && observation.marks?.source === owner ? observation.marks : undefined;

  let currentVersion = options.currentVersion;
  let needsVersion = false;
  if (currentVersion === undefined && source.state === 'enabled') {
    const sameSecond = new Set<string>();
    for (const entry of observed) {
      const marks = 'observation' in entry ? ownMarks(entry.observation) : undefined;
      if (marks?.sourceCreatedOn !== undefined && marks.sourceCreatedOn === source.createdOn) sameSecond.add(marks.sourceVersion);
    }
    if (sameSecond.size === 1) currentVersion = [...sameSecond][0];
    else needsVersion = true;
  }

  const placements = observed.map((entry): FleetPlacement => {
    const { delivery } = entry;
    const base = {
      routeId: delivery.routeId,
      targetId: delivery.targetId,
      kind: delivery.kind,
      placement: delivery.placement,
      location: locationOf(delivery),
      adopt: delivery.policy.adopt,
      ...(delivery.k8s ? { k8sType: delivery.k8s.type } : {}),
    };
    if (!('observation' in entry) || entry.observation === undefined) return { ...base, drift: 'check-failed', failure: entry.failure! };
    const { observation, uncertain, deliveredOn } = entry;
    const marks = ownMarks(observation);
    const held = marks ? { heldVersion: marks.sourceVersion, ...(deliveredOn !== undefined ? { deliveredOn } : {}) } : {};
    const context = { owner, sourceState: source.state, adopt: delivery.policy.adopt };
    if (currentVersion !== undefined || source.state !== 'enabled') {
      const drift = driftOf(observation, { ...context, ...(currentVersion !== undefined ? { version: currentVersion } : {}) });
      return { ...base, ...held, ...(drift ? { drift, ...(uncertain ? { uncertain } : {}) } : {}) };
    }
    // The current version id is unknown: a mark older than the current version is `version` drift for sure; a mark
    // of the same second or without a time cannot be told apart until the version is read.
    if (marks && (marks.sourceCreatedOn === undefined || marks.sourceCreatedOn >= source.createdOn)) return { ...base, ...held, drift: 'version', uncertain: true };
    const drift = driftOf(observation, { ...context, version: marks ? `older-than-${source.createdOn}` : '' });
    return { ...base, ...held, ...(drift ? { drift, ...(uncertain ? { uncertain } : {}) } : {}) };
  });
  return {
    sourceId: source.sourceId,
    vaultUrl: source.vaultUrl,
    name: source.name,
    sourceState: source.state,
    createdOn: source.createdOn,
    ...(currentVersion !== undefined ? { currentVersion } : {}),
    ...(needsVersion && placements.some((p) => p.drift !== undefined) ? { needsVersion: true } : {}),
    tags: source.tags,
    placements,
  };
}

/** The live source secret a list item describes (current version enabled or not). */
export function listedSource(sourceId: string, vaultUrl: string, item: ListedSecret): ListedSource {
  return { sourceId, vaultUrl, name: item.name, state: item.enabled ? 'enabled' : 'disabled', createdOn: item.createdOn, tags: item.tags };
}
