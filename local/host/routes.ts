/** A compiled Functions route template (`users/{id}`, `items/{id?}`, `files/{*path}`, `{n:int}`). */
export interface RouteTemplate {
  readonly template: string;
  match(path: string): Record<string, string> | undefined;
}

interface Segment {
  literal?: string;
  parameter?: { name: string; optional: boolean; catchAll: boolean; constraint: string | undefined };
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  bool: /^(true|false)$/i,
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
  alpha: /^[a-z]+$/i,
  double: /^-?\d+(\.\d+)?$/,
  float: /^-?\d+(\.\d+)?$/,
  decimal: /^-?\d+(\.\d+)?$/,
  datetime: /^\d{4}-\d{2}-\d{2}/,
};

function parseSegment(raw: string): Segment {
  const parameter = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(raw);
  if (!parameter) {
    if (raw.includes('{')) throw new Error(`Unsupported route segment "${raw}"`);
    return { literal: raw.toLowerCase() };
  }
  const [, star, name, constraint, optional] = parameter;
  return {
    parameter: { name: name ?? '', optional: optional === '?' || star === '*', catchAll: star === '*', constraint: constraint?.toLowerCase() },
  };
}

/**
 * Compiles an ASP.NET-style route template as the Functions host interprets it: literal segments match
 * case-insensitively, `{name}` binds one segment, `{name?}` is optional (trailing), `{*name}` binds the rest, and the
 * constraints `int`, `long`, `bool`, `guid`, `alpha`, `double`, `datetime` are checked (others are accepted).
 */
export function compileRoute(template: string): RouteTemplate {
  const segments = template.replace(/^\/+|\/+$/g, '').split('/').filter((s) => s.length > 0).map(parseSegment);
  return {
    template,
    match(path: string): Record<string, string> | undefined {
      const parts = path.replace(/^\/+|\/+$/g, '').split('/').filter((s) => s.length > 0);
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i] as Segment;
        const part = parts[i];
        if (segment.literal !== undefined) {
          if (part === undefined || decodeURIComponent(part).toLowerCase() !== segment.literal) return undefined;
          continue;
        }
        const parameter = segment.parameter;
        if (!parameter) return undefined;
        if (parameter.catchAll) {
          if (parts.length > i) params[parameter.name] = parts.slice(i).map(decodeURIComponent).join('/');
          return params;
        }
        if (part === undefined) {
          if (!parameter.optional) return undefined;
          continue;
        }
        const value = decodeURIComponent(part);
        const check = parameter.constraint ? CONSTRAINTS[parameter.constraint] : undefined;
        if (check && !check.test(value)) return undefined;
        params[parameter.name] = value;
      }
      return parts.length > segments.length ? undefined : params;
    },
  };
}
