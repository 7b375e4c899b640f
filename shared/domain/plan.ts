import { templateValues, vaultHostOf } from './config.js';
import type { K8S_SECRET_TYPES, RelayConfig, RouteConfig, SourceConfig } from './config.js';
import { nameMatches, routeMatches } from './match.js';
import { renderTemplate } from './templates.js';

/** One delivery the config asks for: a source secret to one target placement, with the route's policy. */
export interface PlannedDelivery {
  readonly routeId: string;
  readonly targetId: string;
  readonly kind: 'keyVault' | 'kubernetes';
  /** Rendered name (Key Vault secret or Kubernetes Secret) and, for Kubernetes, key. Not yet checked by the target. */
  readonly placement: { readonly name: string; readonly key?: string };
  readonly policy: { readonly adopt: boolean; readonly recoverDeleted: boolean; readonly versionsToKeep: number };
  readonly k8s?: { readonly type: (typeof K8S_SECRET_TYPES)[number]; readonly restartDeployments: readonly string[] };
}

/** The source secret to plan for. */
export interface PlanRequest {
  readonly sourceId: string;
  readonly name: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Lists every delivery a source secret needs: each route of that source that matches the name and tags, times each
 * of the route's targets, with names rendered from the templates. Pure and deterministic (config order). When a route
 * lists the name in `match.names`, `{name}` renders with the spelling written in the config (Key Vault names are
 * case-insensitive, so it is the same secret); otherwise with the name as given. Two routes planning the same
 * target placement yield one delivery (the first route's). A target id the config does not define is skipped
 * (validation rejects such configs).
 */
export function planDeliveries(config: RelayConfig, request: PlanRequest): PlannedDelivery[] {
  const out: PlannedDelivery[] = [];
  const seen = new Set<string>();
  const targets = new Map(config.targets.map((t) => [t.id, t] as const));
  for (const route of config.routes) {
    if (route.source !== request.sourceId) continue;
    if (!routeMatches(route.match, { name: request.name, tags: request.tags ?? {} })) continue;
    const name = configuredSpelling(route, request.name);
    for (const rt of route.targets) {
      const target = targets.get(rt.target);
      if (!target) continue;
      const values = templateValues(route.source, target, name);
      const placementName = renderTemplate(rt.name, values);
      const policy = { adopt: rt.adopt, recoverDeleted: rt.recoverDeleted, versionsToKeep: rt.versionsToKeep };
      if (target.kind === 'keyVault') {
        const key = `${target.id}\u0000${placementName.toLowerCase()}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ routeId: route.id, targetId: target.id, kind: 'keyVault', placement: { name: placementName }, policy });
        continue;
      }
      const placementKey = renderTemplate(rt.key ?? '{name}', values);
      const key = `${target.id}\u0000${placementName}\u0000${placementKey}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        routeId: route.id,
        targetId: target.id,
        kind: 'kubernetes',
        placement: { name: placementName, key: placementKey },
        policy,
        k8s: { type: rt.type, restartDeployments: rt.restartDeployments },
      });
    }
  }
  return out;
}

function configuredSpelling(route: RouteConfig, name: string): string {
  const lower = name.toLowerCase();
  return route.match.names.find((n) => n.toLowerCase() === lower) ?? name;
}

/**
 * Finds the configured source for a vault, given its URL (`https://platform.vault.azure.net/…`, compared by host and
 * port), its host, or its bare vault name (compared with the first DNS label of each source host). Case-insensitive.
 * Undefined when no source matches; events from such vaults must be ignored.
 */
export function findSourceByVault(config: Pick<RelayConfig, 'sources'>, vaultNameOrUrl: string): SourceConfig | undefined {
  const text = vaultNameOrUrl.trim().toLowerCase();
  if (!text) return undefined;
  if (text.includes('://')) {
    const host = vaultHostOf(text);
    return host === undefined ? undefined : config.sources.find((s) => vaultHostOf(s.vaultUrl) === host);
  }
  if (text.includes('.') || text.includes(':')) return config.sources.find((s) => vaultHostOf(s.vaultUrl) === text);
  return config.sources.find((s) => vaultHostOf(s.vaultUrl)?.split('.')[0] === text);
}

/** True when a route of the source could ever match the name (ignoring tags): for quick filtering of events. */
export function isRoutedName(config: RelayConfig, sourceId: string, name: string): boolean {
  return config.routes.some((r) => r.source === sourceId && nameMatches(r.match, name));
}
