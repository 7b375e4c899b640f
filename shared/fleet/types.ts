import type { TargetObservation } from '../domain/decision.js';
import type { DriftKind, SourceState } from '../domain/drift.js';
import type { Placement } from '../domain/references.js';
import type { ListedDeletedSecret, ListedSecret } from '../targets/keyVault/listing.js';
import type { SecretState } from '../targets/kubernetes/marks.js';

/** Options of one listing: abort, per-page time limit, a call counter. */
export interface ListingCallOptions {
  readonly abortSignal?: AbortSignal;
  readonly pageTimeLimitInMs?: number;
  readonly onPage?: () => void;
}

/**
 * The page readers the fleet snapshot lists with, per configured id. `composition.ts` builds them over the same
 * `SecretClient`s and cluster access as the targets; tests build them over the emulators.
 */
export interface FleetListingPort {
  /** `GET /secrets` of a source vault, page by page. Permission: secrets/readMetadata. */
  sourceSecrets(sourceId: string, options?: ListingCallOptions): AsyncIterable<ListedSecret[]>;
  /** `GET /deletedsecrets` of a source vault. Permission: secrets/readMetadata (list deleted). */
  sourceDeletedSecrets(sourceId: string, options?: ListingCallOptions): AsyncIterable<ListedDeletedSecret[]>;
  /** `GET /secrets` of a Key Vault target. Permission: secrets/readMetadata. */
  vaultSecrets(targetId: string, options?: ListingCallOptions): AsyncIterable<ListedSecret[]>;
  /** `GET /deletedsecrets` of a Key Vault target (read only when a placement is missing from the live listing). */
  vaultDeletedSecrets(targetId: string, options?: ListingCallOptions): AsyncIterable<ListedDeletedSecret[]>;
  /** Relay-managed Secrets of a Kubernetes target's namespace (label selector, `limit`/`continue`). Permission: list secrets. */
  clusterSecrets(targetId: string, options?: ListingCallOptions): AsyncIterable<SecretState[]>;
}

/** Why a placement's target could not be read: constant reason, value-free message. */
export interface CheckFailure {
  readonly reason: string;
  readonly message: string;
}

/** One routed placement of a source secret, as the snapshot compared it. */
export interface FleetPlacement {
  readonly routeId: string;
  readonly targetId: string;
  readonly kind: 'keyVault' | 'kubernetes';
  readonly placement: Placement;
  /** `<targetId>:<name>[#key]`, as drift findings and audit records name it. */
  readonly location: string;
  readonly adopt: boolean;
  readonly k8sType?: 'Opaque' | 'kubernetes.io/tls' | 'kubernetes.io/dockerconfigjson';
  /** Undefined when in sync (or, for a disabled or deleted source, when the target holds nothing of it). */
  readonly drift?: DriftKind;
  /** The source version the target holds, when it holds the relay's copy of this source secret. */
  readonly heldVersion?: string;
  /** When the held copy was written (unix seconds): Key Vault the version's creation, Kubernetes `synced-at`. */
  readonly deliveredOn?: number;
  /** Set when the listing alone cannot name the drift exactly; `settle` reads this placement once. */
  readonly uncertain?: boolean;
  readonly failure?: CheckFailure;
}

/** One routed source secret and every placement the routes give it. */
export interface FleetSecret {
  readonly sourceId: string;
  readonly vaultUrl: string;
  readonly name: string;
  readonly sourceState: SourceState;
  /** Creation time of the source's current version (unix seconds; 0 for a deleted secret). */
  readonly createdOn: number;
  /** The current version id, when a mark or a read settled it (Key Vault's list omits it). */
  readonly currentVersion?: string;
  /** True when the current version id must be read (a placement drifted, or the marks cannot settle it). */
  readonly needsVersion?: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly placements: readonly FleetPlacement[];
}

/** A source vault that could not be listed: none of its secrets were compared. */
export interface UnlistedSource extends CheckFailure {
  readonly sourceId: string;
  readonly vaultUrl: string;
}

/** The fleet at one moment, from list pages. */
export interface FleetSnapshot {
  readonly takenAt: string;
  readonly secrets: readonly FleetSecret[];
  readonly unlistedSources: readonly UnlistedSource[];
  /** Targets whose listing failed (their placements are `check-failed`). */
  readonly failedTargets: Readonly<Record<string, CheckFailure>>;
  /** List pages read, by source id and target id. */
  readonly pages: Readonly<Record<string, number>>;
}

/** What a target listing yields, keyed for in-memory comparison. */
export type TargetListing =
  | { readonly kind: 'keyVault'; readonly byName: ReadonlyMap<string, ListedSecret>; deleted?: ReadonlyMap<string, ListedDeletedSecret> }
  | { readonly kind: 'kubernetes'; readonly byName: ReadonlyMap<string, SecretState> }
  | { readonly kind: 'failed'; readonly failure: CheckFailure };

export type { TargetObservation };
