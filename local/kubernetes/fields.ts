/**
 * Field ownership as the API server tracks it in `metadata.managedFields` (FieldsV1), and server-side apply
 * (`application/apply-patch+yaml`) on top of it. Maps are tracked key by key; lists are atomic (the emulator does not
 * model list merge keys, so a list is owned as a whole).
 */
import { ApiError } from './status.js';
import type { K8sObject } from './store.js';

type Path = readonly string[];
type Json = unknown;

/** One `metadata.managedFields` entry. */
export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** Metadata fields the server sets; nobody owns them. */
const SYSTEM_METADATA = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'generateName']);

function isMap(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Leaf paths of an object's user fields (status, apiVersion, kind and system metadata excluded). */
export function leavesOf(object: Json): Path[] {
  const out: Path[] = [];
  const walk = (value: Json, path: string[]): void => {
    if (isMap(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) {
        if (path.length === 0 && (k === 'apiVersion' || k === 'kind' || k === 'status')) continue;
        if (path.length === 1 && path[0] === 'metadata' && SYSTEM_METADATA.has(k)) continue;
        if (v === undefined) continue;
        walk(v, [...path, k]);
      }
    } else if (path.length > 0) out.push(path);
  };
  walk(object, []);
  return out;
}

export function valueAt(object: Json, path: Path): Json {
  let current: Json = object;
  for (const k of path) {
    if (!isMap(current)) return undefined;
    current = current[k];
  }
  return current;
}

function setAt(object: Record<string, Json>, path: Path, value: Json): void {
  let current = object;
  for (const k of path.slice(0, -1)) {
    if (!isMap(current[k])) current[k] = {};
    current = current[k] as Record<string, Json>;
  }
  current[path[path.length - 1]!] = structuredClone(value);
}

function removeAt(object: Record<string, Json>, path: Path): void {
  const parents: Record<string, Json>[] = [object];
  let current: Json = object;
  for (const k of path.slice(0, -1)) {
    if (!isMap(current)) return;
    current = current[k];
    if (!isMap(current)) return;
    parents.push(current);
  }
  delete parents[parents.length - 1]![path[path.length - 1]!];
  // Empty maps left behind disappear, as they do in the apiserver's serialized form.
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]!).length === 0) delete parents[i - 1]![path[i - 1]!];
  }
}

const same = (a: Json, b: Json): boolean => JSON.stringify(a) === JSON.stringify(b);

/** FieldsV1 (`{"f:data":{".":{},"f:key":{}}}`) of a set of leaf paths. */
export function fieldsV1Of(paths: readonly Path[]): Record<string, unknown> {
  const root: Record<string, Record<string, unknown>> = {};
  for (const path of paths) {
    let node: Record<string, unknown> = root;
    path.forEach((k, i) => {
      const child = (node[`f:${k}`] ??= {}) as Record<string, unknown>;
      if (i < path.length - 1) child['.'] = {};
      node = child;
    });
  }
  return root;
}

/** Leaf paths recorded in a FieldsV1 set. */
export function pathsOfFieldsV1(fields: Record<string, unknown>, prefix: string[] = []): Path[] {
  const out: Path[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!k.startsWith('f:')) continue;
    const path = [...prefix, k.slice(2)];
    const children = Object.keys((v as Record<string, unknown>) ?? {}).filter((c) => c.startsWith('f:'));
    if (children.length === 0) out.push(path);
    else out.push(...pathsOfFieldsV1(v as Record<string, unknown>, path));
  }
  return out;
}

const keyOf = (path: Path): string => path.join('\u0000');
const render = (path: Path): string => `.${path.join('.')}`;

/** The manager name as the API server derives it from a User-Agent when `fieldManager` is absent. */
export function managerFromUserAgent(userAgent: string | undefined): string {
  const prefix = (userAgent ?? '').split('/')[0]?.trim() ?? '';
  return prefix.slice(0, 128) || 'unknown';
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function entriesOf(object: K8sObject): ManagedFieldsEntry[] {
  return ((object.metadata.managedFields as ManagedFieldsEntry[] | undefined) ?? []).map((e) => structuredClone(e));
}

function withEntry(entries: ManagedFieldsEntry[], entry: Omit<ManagedFieldsEntry, 'time' | 'fieldsType' | 'fieldsV1'>, paths: readonly Path[]): ManagedFieldsEntry[] {
  const rest = entries.filter((e) => !(e.manager === entry.manager && e.operation === entry.operation));
  if (paths.length === 0) return rest;
  return [...rest, { ...entry, time: nowRfc3339(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1Of(paths) }];
}

function withoutPaths(entries: ManagedFieldsEntry[], drop: ReadonlySet<string>): ManagedFieldsEntry[] {
  return entries.flatMap((e) => {
    const kept = pathsOfFieldsV1(e.fieldsV1).filter((p) => !drop.has(keyOf(p)));
    return kept.length === 0 ? [] : [{ ...e, fieldsV1: fieldsV1Of(kept) }];
  });
}

/**
 * managedFields after a create/update/patch by `manager` (operation Update): the manager owns what it changed (all
 * fields on create); other managers lose the fields that changed; removed fields belong to nobody.
 */
export function recordUpdate(previous: K8sObject | undefined, next: K8sObject, manager: string, apiVersion: string): ManagedFieldsEntry[] {
  const nextLeaves = leavesOf(next);
  const nextKeys = new Set(nextLeaves.map(keyOf));
  let entries = previous ? entriesOf(previous) : [];
  const changed = previous ? nextLeaves.filter((p) => !same(valueAt(previous, p), valueAt(next, p))) : nextLeaves;
  const removed = previous ? leavesOf(previous).filter((p) => !nextKeys.has(keyOf(p))) : [];
  entries = withoutPaths(entries, new Set([...changed, ...removed].map(keyOf)));
  const mine = entries.find((e) => e.manager === manager && e.operation === 'Update');
  const owned = [...(mine ? pathsOfFieldsV1(mine.fieldsV1) : []), ...changed];
  const unique = [...new Map(owned.map((p) => [keyOf(p), p])).values()];
  return withEntry(entries, { manager, operation: 'Update', apiVersion }, unique);
}

/**
 * Server-side apply of `config` by `manager` onto `live` (undefined = create). Returns the merged object with its
 * managedFields. Throws 409 when a field the config sets to a different value is owned by another manager, unless
 * `force`.
 */
export function serverSideApply(
  live: K8sObject | undefined,
  config: K8sObject,
  options: { manager: string; force: boolean; apiVersion: string },
): K8sObject {
  const configLeaves = leavesOf(config);
  const configKeys = new Set(configLeaves.map(keyOf));
  if (!live) {
    const created = structuredClone(config);
    created.metadata.managedFields = withEntry([], { manager: options.manager, operation: 'Apply', apiVersion: options.apiVersion }, configLeaves);
    return created;
  }
  let entries = entriesOf(live);
  const conflicts: { manager: string; path: Path }[] = [];
  for (const path of configLeaves) {
    if (same(valueAt(live, path), valueAt(config, path))) continue;
    for (const e of entries) {
      if (e.manager === options.manager && e.operation === 'Apply') continue;
      if (pathsOfFieldsV1(e.fieldsV1).some((p) => keyOf(p) === keyOf(path))) conflicts.push({ manager: e.manager, path });
    }
  }
  if (conflicts.length > 0 && !options.force) throw applyConflict(conflicts, options.apiVersion);
  const merged = structuredClone(live) as Record<string, Json>;
  const previousApply = entries.find((e) => e.manager === options.manager && e.operation === 'Apply');
  const ownedByOthers = new Set(
    entries.filter((e) => e !== previousApply).flatMap((e) => pathsOfFieldsV1(e.fieldsV1).map(keyOf)),
  );
  // Fields this manager applied before and no longer applies are removed, unless someone else also owns them.
  for (const path of previousApply ? pathsOfFieldsV1(previousApply.fieldsV1) : []) {
    if (!configKeys.has(keyOf(path)) && !ownedByOthers.has(keyOf(path))) removeAt(merged, path);
  }
  for (const path of configLeaves) setAt(merged, path, valueAt(config, path));
  if (options.force) entries = withoutPaths(entries, new Set(conflicts.map((c) => keyOf(c.path))));
  const result = merged as K8sObject;
  result.metadata.managedFields = withEntry(entries, { manager: options.manager, operation: 'Apply', apiVersion: options.apiVersion }, configLeaves);
  return result;
}

function applyConflict(conflicts: readonly { manager: string; path: Path }[], apiVersion: string): ApiError {
  const managers = [...new Set(conflicts.map((c) => c.manager))];
  const count = conflicts.length;
  const head = `Apply failed with ${count} conflict${count === 1 ? '' : 's'}: `;
  let message: string;
  if (count === 1) message = `${head}conflict with "${conflicts[0]!.manager}" using ${apiVersion}: ${render(conflicts[0]!.path)}`;
  else if (managers.length === 1) message = `${head}conflicts with "${managers[0]}" using ${apiVersion}:\n${conflicts.map((c) => `- ${render(c.path)}`).join('\n')}`;
  else message = `${head}${conflicts.map((c) => `conflict with "${c.manager}" using ${apiVersion}: ${render(c.path)}`).join('\n')}`;
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'Conflict',
    details: { causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${apiVersion}`, field: render(c.path) })) },
    code: 409,
  });
}
