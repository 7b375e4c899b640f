/**
 * Patch bodies the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge
 * patch, which the emulator applies as a merge patch (identical for the maps it serves: metadata, data,
 * spec.template.metadata.annotations; list merge keys are not modelled).
 */
import { ApiError, badRequest, generic } from './status.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Applies an RFC 7386 merge patch and returns the new document. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, Json> = isObject(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key] ?? null, value);
  }
  return result;
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON pointer: ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, tokens: string[], pointer: string): { parent: Json; last: string } {
  let current: Json = doc;
  for (const token of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(current) ? current[Number(token)] : isObject(current) ? current[token] : undefined;
    if (next === undefined) throw missingPath(pointer);
    current = next;
  }
  return { parent: current, last: tokens[tokens.length - 1]! };
}

function missingPath(pointer: string): ApiError {
  return generic(422, { reason: 'Invalid', message: `the server rejected our request due to an error in our request: jsonpatch: missing path ${pointer}` });
}

function getAt(doc: Json, pointer: string): Json {
  let current: Json | undefined = doc;
  for (const token of parsePointer(pointer)) {
    current = Array.isArray(current) ? current[Number(token)] : isObject(current) ? current[token] : undefined;
    if (current === undefined) throw missingPath(pointer);
  }
  return current;
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!(index >= 0 && index < parent.length)) throw missingPath(pointer);
    return parent.splice(index, 1)[0]!;
  }
  if (!isObject(parent) || !(last in parent)) throw missingPath(pointer);
  const removed = parent[last]!;
  delete parent[last];
  return removed;
}

function addAt(doc: Json, pointer: string, value: Json, replace: boolean): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!(index >= 0 && index <= parent.length)) throw missingPath(pointer);
    if (replace) {
      if (index >= parent.length) throw missingPath(pointer);
      parent[index] = value;
    } else parent.splice(index, 0, value);
  } else if (isObject(parent)) {
    if (replace && !(last in parent)) throw missingPath(pointer);
    parent[last] = value;
  } else throw missingPath(pointer);
  return doc;
}

/** Applies an RFC 6902 JSON patch and returns the new document. */
export function applyJsonPatch(target: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw badRequest('json patch must be an array of operations');
  let doc: Json = structuredClone(target);
  for (const raw of operations as Operation[]) {
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, structuredClone(raw.value ?? null), false);
        break;
      case 'replace':
        doc = addAt(doc, raw.path, structuredClone(raw.value ?? null), true);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'move': {
        const value = removeAt(doc, raw.from ?? '');
        doc = addAt(doc, raw.path, value, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, raw.path, structuredClone(getAt(doc, raw.from ?? '')), false);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) {
          throw generic(422, { reason: 'Invalid', message: `the server rejected our request due to an error in our request: testing value ${raw.path} failed` });
        }
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(raw.op)}`);
    }
  }
  return doc;
}
