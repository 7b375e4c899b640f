import { withTimeLimit } from '../timeLimit.js';
import type { RelayConfig } from '../domain/config.js';
import { driftOf } from '../domain/drift.js';
import type { FingerprintKey } from '../domain/fingerprint.js';
import type { PlannedDelivery } from '../domain/plan.js';
import { ownerOf } from '../domain/references.js';
import type { RelayLog } from '../runtime.js';
import type { SourceVault } from '../sources/index.js';
import type { TargetClient } from '../targets/contract.js';
import type { ListedDeletedSecret, ListedSecret } from '../targets/keyVault/listing.js';
import type { SecretState } from '../targets/kubernetes/marks.js';
import { compareSecret, listedSource, locationOf, plannedFor, type ListedSource } from './compare.js';
import { fleetOrder } from './status.js';
import type { CheckFailure, FleetListingPort, FleetPlacement, FleetSecret, FleetSnapshot, TargetListing, UnlistedSource } from './types.js';

/** What the snapshot reads through: the config, the listing port, and (to settle drift) the source and target ports. */
export interface FleetPorts {
  readonly config: RelayConfig;
  readonly fingerprintKey: FingerprintKey;
  readonly listing: FleetListingPort;
  source(sourceId: string): Pick<SourceVault, 'getLatestProperties'>;
  target(targetId: string): Pick<TargetClient, 'observe'>;
  readonly log?: RelayLog;
  /** Time limit of one list page or one settling read (RELAY_CHECK_TIME_LIMIT_MS; default 30 s). */
  readonly checkTimeLimitInMs?: number;
  now?(): Date;
}

export interface SnapshotOptions {
  /** Only these source ids (default: every configured source). */
  readonly sources?: readonly string[];
  /** Only placements on these target ids (default: every target a route names). */
  readonly targets?: readonly string[];
  /** Targets listed at once (default 4). */
  readonly concurrency?: number;
}

const DEFAULT_TIME_LIMIT_IN_MS = 30_000;

/**
 * Lists every source vault and every routed target page by page, and compares the ownership marks in memory:
 * for every routed source secret × placement, in sync or its drift kind, the held version, the state. Reads no value
 * and writes nothing. A target that cannot be listed makes its placements `check-failed` with a reason; the others
 * go on. Cost: list pages only (plus one deleted-secrets listing of a Key Vault target when a placement is missing
 * from it). Drift that the listing cannot name exactly is `uncertain`; {@link settleSecret} reads it.
 */
export async function takeSnapshot(ports: FleetPorts, options: SnapshotOptions = {}): Promise<FleetSnapshot> {
  const { config } = ports;
  const pages: Record<string, number> = {};
  const limit = ports.checkTimeLimitInMs ?? DEFAULT_TIME_LIMIT_IN_MS;
  const callOptions = (id: string) => ({ pageTimeLimitInMs: limit, onPage: () => void (pages[id] = (pages[id] ?? 0) + 1) });
  const wantedSources = config.sources.filter((s) => !options.sources || options.sources.includes(s.id));
  const wantedTargets = options.targets ? new Set(options.targets) : undefined;

  const unlistedSources: UnlistedSource[] = [];
  const listedSources: { source: ListedSource; planned: PlannedDelivery[] }[] = [];
  await Promise.all(
    wantedSources.map(async (source) => {
      const found: ListedSource[] = [];
      try {
        for await (const page of ports.listing.sourceSecrets(source.id, callOptions(source.id))) {
          for (const item of page) found.push(listedSource(source.id, source.vaultUrl, item));
        }
      } catch (error) {
        const failure = checkFailure(error);
        ports.log?.error(`fleet: cannot list source "${source.id}": ${failure.reason}: ${failure.message}`);
        unlistedSources.push({ sourceId: source.id, vaultUrl: source.vaultUrl, ...failure });
        return;
      }
      // Only routes with a pattern that can match a deleted name need the deleted listing; one page in general.
      try {
        for await (const page of ports.listing.sourceDeletedSecrets(source.id, callOptions(source.id))) {
          for (const deleted of page) found.push({ sourceId: source.id, vaultUrl: source.vaultUrl, name: deleted.name, state: 'deleted', createdOn: 0, tags: deleted.tags });
        }
      } catch (error) {
        ports.log?.warn(`fleet: cannot list deleted secrets of source "${source.id}" (deleted sources go unreported): ${checkFailure(error).message}`);
      }
      for (const listed of found) {
        const planned = plannedFor(config, listed).filter((d) => !wantedTargets || wantedTargets.has(d.targetId));
        if (planned.length > 0) listedSources.push({ source: listed, planned });
      }
    }),
  );

  const routedTargets = new Set(listedSources.flatMap((s) => s.planned.map((d) => d.targetId)));
  const listings = new Map<string, TargetListing>();
  const failedTargets: Record<string, CheckFailure> = {};
  await forEachLimited([...routedTargets], options.concurrency ?? 4, async (targetId) => {
    const configured = config.targets.find((t) => t.id === targetId);
    if (!configured) return;
    try {
      if (configured.kind === 'keyVault') {
        const byName = new Map<string, ListedSecret>();
        for await (const page of ports.listing.vaultSecrets(targetId, callOptions(targetId))) for (const item of page) byName.set(item.name.toLowerCase(), item);
        let deleted: Map<string, ListedDeletedSecret> | undefined;
        const missing = listedSources.some((s) => s.source.state === 'enabled' && s.planned.some((d) => d.targetId === targetId && !byName.has(d.placement.name.toLowerCase())));
        if (missing) {
          deleted = new Map();
          try {
            for await (const page of ports.listing.vaultDeletedSecrets(targetId, callOptions(targetId))) for (const item of page) deleted.set(item.name.toLowerCase(), item);
          } catch {
            deleted = undefined; // settled per placement instead
          }
        }
        listings.set(targetId, { kind: 'keyVault', byName, ...(deleted ? { deleted } : {}) });
      } else {
        const byName = new Map<string, SecretState>();
        for await (const page of ports.listing.clusterSecrets(targetId, callOptions(targetId))) for (const secret of page) byName.set(secret.name, secret);
        listings.set(targetId, { kind: 'kubernetes', byName });
      }
    } catch (error) {
      const failure = checkFailure(error);
      ports.log?.warn(`fleet: cannot list target "${targetId}": ${failure.reason}: ${failure.message}`);
      failedTargets[targetId] = failure;
      listings.set(targetId, { kind: 'failed', failure });
    }
  });

  const secrets = listedSources
    .map(({ source, planned }) => compareSecret(source, planned, listings, ports.fingerprintKey))
    .sort(fleetOrder);
  return { takenAt: (ports.now?.() ?? new Date()).toISOString(), secrets, unlistedSources, failedTargets, pages };
}

/**
 * Makes one secret's drift exact where the listing could not: reads the source's current version once when no mark
 * settled it (`getLatestProperties`: one version listing), and observes each `uncertain` placement once (Key Vault:
 * version listing, Kubernetes: `get`). In-sync secrets are returned unchanged without a call. Placements that cannot
 * be read become `check-failed` with a reason; throws only when the source cannot be read.
 */
export async function settleSecret(ports: FleetPorts, secret: FleetSecret): Promise<FleetSecret> {
  if (!secret.needsVersion && !secret.placements.some((p) => p.uncertain)) return secret;
  let { currentVersion } = secret;
  let sourceState = secret.sourceState;
  if (secret.needsVersion) {
    const latest = await ports.source(secret.sourceId).getLatestProperties(secret.name, { includeDisabled: true });
    if (!latest) sourceState = 'deleted';
    else if (!latest.enabled) sourceState = 'disabled';
    else currentVersion = latest.version;
  }
  const owner = ownerOf(secret.vaultUrl, secret.name);
  const limit = ports.checkTimeLimitInMs ?? DEFAULT_TIME_LIMIT_IN_MS;
  const placements = await Promise.all(
    secret.placements.map(async (placement): Promise<FleetPlacement> => {
      if (placement.drift === 'check-failed') return placement;
      const context = { owner, sourceState, ...(currentVersion !== undefined ? { version: currentVersion } : {}), adopt: placement.adopt };
      // Drift kinds other than an undecided `version` do not depend on the version id.
      if (!placement.uncertain) return placement;
      const { uncertain: _uncertain, drift: _drift, ...rest } = placement;
      // A Key Vault mark of another version than the one just read is `version` drift without another call.
      if (placement.kind === 'keyVault' && placement.drift === 'version' && placement.heldVersion && currentVersion && placement.heldVersion !== currentVersion) {
        return { ...rest, drift: 'version' };
      }
      try {
        const observed = await withTimeLimit(limit, `checking ${placement.location}`, (abortSignal) =>
          ports.target(placement.targetId).observe(placement.placement, { owner, abortSignal, ...(placement.k8sType ? { type: placement.k8sType } : {}) }),
        );
        const drift = driftOf(observed, context);
        const held = observed.state !== 'absent' && observed.marks?.source === owner ? { heldVersion: observed.marks.sourceVersion } : {};
        return { ...rest, ...held, ...(drift ? { drift } : {}) };
      } catch (error) {
        const failure = checkFailure(error);
        ports.log?.warn(`fleet: cannot check ${secret.sourceId}/${secret.name} on ${placement.location}: ${failure.reason}: ${failure.message}`);
        return { ...rest, drift: 'check-failed', failure };
      }
    }),
  );
  const { needsVersion: _needs, ...restSecret } = secret;
  return { ...restSecret, sourceState, ...(currentVersion !== undefined ? { currentVersion } : {}), placements };
}

/** Every placement's location in one list (for logs). */
export function driftedPlacements(secret: FleetSecret): FleetPlacement[] {
  return secret.placements.filter((p) => p.drift !== undefined);
}

export { locationOf };

/** A constant reason and a value-free message for a check that failed (classified errors carry both). */
export function checkFailure(error: unknown): CheckFailure {
  const e = error as { name?: unknown; reason?: unknown; status?: unknown } | null;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const message = text.length > 500 ? `${text.slice(0, 499)}…` : text;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { reason: 'timeout', message };
  if (typeof e?.reason === 'string' && /^[a-z][a-z0-9-]{0,63}$/.test(e.reason)) return { reason: e.reason, message };
  if (e?.status === 'FailedThrottled') return { reason: 'throttled', message };
  if (e?.status === 'FailedAccessDenied') return { reason: 'access-denied', message };
  return { reason: 'unavailable', message };
}

async function forEachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

