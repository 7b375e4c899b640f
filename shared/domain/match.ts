/**
 * Glob and route matching. Key Vault names are case-insensitive, so every comparison here is too.
 * Globs: `*` matches any run of characters (including none), `?` exactly one; everything else is literal.
 */

/** Characters a glob over Key Vault names may contain: name characters plus `*` and `?`. */
const GLOB = /^[A-Za-z0-9*?-]+$/;

/** True when the glob only uses Key Vault name characters and wildcards. */
export function isValidGlob(glob: string): boolean {
  return GLOB.test(glob);
}

const cache = new Map<string, RegExp>();

/** The anchored, case-insensitive regular expression source of a glob (without delimiters). */
export function globToRegExpSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return out;
}

/** True when `name` matches `glob`, case-insensitively. */
export function matchesGlob(glob: string, name: string): boolean {
  let re = cache.get(glob);
  if (!re) {
    re = new RegExp(`^${globToRegExpSource(glob)}$`, 'is');
    if (cache.size > 1000) cache.clear();
    cache.set(glob, re);
  }
  return re.test(name);
}

/**
 * True when at least one string matches both globs (case-insensitively). Exact: explores both patterns together,
 * letting either `*` absorb what the other produces.
 */
export function globsIntersect(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const width = b.length + 1;
  const go = (i: number, j: number): boolean => {
    const key = i * width + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    memo.set(key, false);
    let result: boolean;
    if (i === a.length && j === b.length) result = true;
    else if (a[i] === '*') result = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (b[j] === '*') result = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else if (i === a.length || j === b.length) result = false;
    else result = (a[i] === '?' || b[j] === '?' || a[i]!.toLowerCase() === b[j]!.toLowerCase()) && go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

/** The matching part of a route, as in relay.config.json. */
export interface RouteMatch {
  readonly names: readonly string[];
  readonly globs: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

/** The facts about a source secret that matching looks at. */
export interface SecretFacts {
  readonly name: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * True when a secret matches a route: (its name is in `names` OR matches one of `globs`; both empty = any name)
 * AND it carries every tag of `tags` with exactly that value. Names and globs compare case-insensitively; tag keys
 * and values compare exactly.
 */
export function routeMatches(match: RouteMatch, secret: SecretFacts): boolean {
  return nameMatches(match, secret.name) && tagsMatch(match.tags, secret.tags ?? {});
}

/** The name half of {@link routeMatches}. */
export function nameMatches(match: Pick<RouteMatch, 'names' | 'globs'>, name: string): boolean {
  if (match.names.length === 0 && match.globs.length === 0) return true;
  const lower = name.toLowerCase();
  return match.names.some((n) => n.toLowerCase() === lower) || match.globs.some((g) => matchesGlob(g, name));
}

function tagsMatch(required: Readonly<Record<string, string>>, actual: Readonly<Record<string, string>>): boolean {
  return Object.entries(required).every(([key, value]) => Object.hasOwn(actual, key) && actual[key] === value);
}

/**
 * The names a route can match, as globs: its exact names (which contain no wildcard) and its globs; `*` when it
 * matches any name.
 */
export function routeNamePatterns(match: Pick<RouteMatch, 'names' | 'globs'>): string[] {
  return match.names.length === 0 && match.globs.length === 0 ? ['*'] : [...match.names, ...match.globs];
}
