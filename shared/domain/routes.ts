import type { RelayConfig, RouteConfig } from './config.js';
import { routeMatches } from './match.js';

/** The routes of a source that match a secret (names/globs and tags), in config order. */
export function matchingRoutes(
  config: RelayConfig,
  secret: { readonly sourceId: string; readonly name: string; readonly tags?: Readonly<Record<string, string>> },
): RouteConfig[] {
  return config.routes.filter(
    (route) => route.source === secret.sourceId && routeMatches(route.match, { name: secret.name, tags: secret.tags ?? {} }),
  );
}
