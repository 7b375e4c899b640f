import {
  decodeToken,
  fleetStatus,
  FLEET_STATES,
  placementStatus,
  settleSecret,
  takeSnapshot,
  type FleetPorts,
  type FleetSecret,
  type FleetState,
  type SnapshotOptions,
} from '../fleet/index.js';
import type { RelayRuntime } from '../runtime.js';
import type { HttpAnswer } from './http.js';

/** Secrets settled at once when a snapshot found drift the listing alone cannot name. */
const SETTLE_CONCURRENCY = 8;

/**
 * A snapshot of the fleet from list pages, with every drifted secret settled (its current version read once, each
 * uncertain placement read once): cost list pages + a few calls per drifted secret, never one call per placement.
 */
export async function settledSnapshot(runtime: RelayRuntime, options: SnapshotOptions = {}) {
  const ports = fleetPorts(runtime);
  const snapshot = await takeSnapshot(ports, options);
  const secrets = [...snapshot.secrets];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(SETTLE_CONCURRENCY, secrets.length) }, async () => {
      while (next < secrets.length) {
        const index = next++;
        try {
          secrets[index] = await settleSecret(ports, secrets[index]!);
        } catch (error) {
          // The source could not be read: the listing's answer stands (its drift kinds are right, the version unknown).
          runtime.log.warn(`status: cannot read ${secrets[index]!.sourceId}/${secrets[index]!.name} from the source: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
        }
      }
    }),
  );
  return { ...snapshot, secrets };
}

export function fleetPorts(runtime: RelayRuntime): FleetPorts {
  if (!runtime.listing) throw new Error('this runtime has no listing port (shared/fleet)');
  return {
    config: runtime.config,
    fingerprintKey: runtime.fingerprintKey,
    listing: runtime.listing,
    source: (id) => runtime.source(id),
    target: (id) => runtime.target(id),
    log: runtime.log,
    ...(runtime.checkTimeLimitInMs !== undefined ? { checkTimeLimitInMs: runtime.checkTimeLimitInMs } : {}),
    now: () => runtime.now(),
  };
}

type Query = (name: string) => string | null;

/**
 * `GET /api/secrets[?source=&target=&state=&outOfSync=true&limit=&continuationToken=]`: every routed source secret
 * and, per target placement, in sync or the drift kind, the held version, the latest delivery status and a hint.
 * Cost: list pages of each source and target vault and each cluster namespace, plus a few reads per drifted secret;
 * `status` comes from the latest reconciliation report (one blob), `lastDelivery` from the target's marks.
 * 400 for an unknown filter value or a bad token.
 */
export async function getFleetStatus(query: Query, runtime: RelayRuntime): Promise<HttpAnswer> {
  const source = query('source') ?? undefined;
  const target = query('target') ?? undefined;
  if (source !== undefined && !runtime.config.sources.some((s) => s.id === source)) return badRequest(`source: no source "${source.slice(0, 100)}" in the relay config`);
  if (target !== undefined && !runtime.config.targets.some((t) => t.id === target)) return badRequest(`target: no target "${target.slice(0, 100)}" in the relay config`);
  const stateText = query('state');
  const states = stateText ? stateText.split(',').map((s) => s.trim()) : undefined;
  const unknown = states?.filter((s) => !(FLEET_STATES as readonly string[]).includes(s));
  if (unknown && unknown.length > 0) return badRequest(`state: ${unknown.map((s) => JSON.stringify(s.slice(0, 40))).join(', ')} is not one of ${FLEET_STATES.join(', ')}`);
  const outOfSyncText = query('outOfSync');
  if (outOfSyncText !== null && outOfSyncText !== 'true' && outOfSyncText !== 'false') return badRequest(`outOfSync: true or false, got ${JSON.stringify(outOfSyncText.slice(0, 40))}`);
  const limitText = query('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) return badRequest(`limit: an integer from 1 to 1000, got ${JSON.stringify(String(limitText).slice(0, 40))}`);
  const continuationToken = query('continuationToken') ?? undefined;
  if (continuationToken !== undefined) {
    try {
      decodeToken(continuationToken);
    } catch (error) {
      return badRequest((error as Error).message);
    }
  }
  const snapshot = await settledSnapshot(runtime, { ...(source ? { sources: [source] } : {}), ...(target ? { targets: [target] } : {}) });
  const report = await latestReport(runtime);
  const answer = fleetStatus(snapshot.secrets, {
    ...(source ? { source } : {}),
    ...(target ? { target } : {}),
    ...(states ? { states: states as FleetState[] } : {}),
    ...(outOfSyncText === 'true' ? { outOfSync: true } : {}),
    limit,
    ...(continuationToken ? { continuationToken } : {}),
  }, report);
  return {
    status: 200,
    jsonBody: {
      ...answer,
      ...(snapshot.unlistedSources.length > 0 ? { unlistedSources: snapshot.unlistedSources } : {}),
    },
  };
}

/**
 * `GET /api/targets/{id}`: every placement the routes give one target, with the same fields as `GET /api/secrets`.
 * Cost: the target's list pages, the routed sources' list pages, a few reads per drifted secret. 404 for an unknown id.
 */
export async function getTargetStatus(targetId: string, runtime: RelayRuntime): Promise<HttpAnswer> {
  const configured = runtime.config.targets.find((t) => t.id === targetId);
  if (!configured) return { status: 404, jsonBody: { error: 'NotFound', message: `no target "${targetId.slice(0, 100)}" in the relay config` } };
  const snapshot = await settledSnapshot(runtime, { targets: [targetId] });
  const report = await latestReport(runtime);
  const placements = snapshot.secrets.flatMap((secret: FleetSecret) =>
    secret.placements
      .filter((p) => p.targetId === targetId)
      .map((p) => ({ source: secret.sourceId, name: secret.name, currentVersion: secret.sourceState === 'enabled' ? (secret.currentVersion ?? null) : null, ...placementStatus(secret, p, report) })),
  );
  const failure = snapshot.failedTargets[targetId];
  return {
    status: 200,
    jsonBody: {
      target: { id: configured.id, kind: configured.kind },
      placements,
      counts: { placements: placements.length, inSync: placements.filter((p) => p.inSync).length, outOfSync: placements.filter((p) => !p.inSync).length },
      ...(failure ? { failure } : {}),
      ...(snapshot.unlistedSources.length > 0 ? { unlistedSources: snapshot.unlistedSources } : {}),
    },
  };
}

async function latestReport(runtime: RelayRuntime) {
  try {
    return await runtime.reports.latestDriftReport?.();
  } catch (error) {
    runtime.log.warn(`status: the latest drift report could not be read (statuses left empty): ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
    return undefined;
  }
}

function badRequest(message: string): HttpAnswer {
  return { status: 400, jsonBody: { error: 'InvalidRequest', message } };
}
