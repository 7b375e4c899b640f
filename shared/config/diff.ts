import type { RelayConfig } from '../domain/config.js';

/** One changed entry of a config: a source, target or route by id, or the mode. */
export interface ConfigChange {
  readonly kind: 'mode' | 'source' | 'target' | 'route';
  readonly id: string;
  readonly change: 'added' | 'removed' | 'changed';
}

/**
 * What replacing `before` with `after` changes, per source, target and route id (a deep comparison of each entry).
 * `before` undefined: everything is added. Ordered by kind, then id.
 */
export function diffConfigs(before: RelayConfig | undefined, after: RelayConfig): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const kinds = [
    ['source', (c: RelayConfig) => c.sources],
    ['target', (c: RelayConfig) => c.targets],
    ['route', (c: RelayConfig) => c.routes],
  ] as const;
  for (const [kind, list] of kinds) {
    const old = new Map<string, unknown>((before ? list(before) : []).map((e) => [e.id, e]));
    const now = new Map<string, unknown>(list(after).map((e) => [e.id, e]));
    for (const id of [...new Set([...old.keys(), ...now.keys()])].sort()) {
      if (!old.has(id)) changes.push({ kind, id, change: 'added' });
      else if (!now.has(id)) changes.push({ kind, id, change: 'removed' });
      else if (stable(old.get(id)) !== stable(now.get(id))) changes.push({ kind, id, change: 'changed' });
    }
  }
  if (before && before.mode !== after.mode) changes.unshift({ kind: 'mode', id: `${before.mode} → ${after.mode}`, change: 'changed' });
  return changes;
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
