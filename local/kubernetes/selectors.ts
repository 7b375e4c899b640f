/**
 * Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`) and simple field selectors
 * (`metadata.name=x`, `type!=Opaque`), as the API server's list endpoints accept them.
 */
import { badRequest } from './status.js';

type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseRequirement(text: string): Requirement {
  const setMatch = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (setMatch) {
    const values = setMatch[3]!.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
    return { op: setMatch[2] as 'in' | 'notin', key: setMatch[1]!, values };
  }
  const neq = /^([^\s!=(),]+)\s*!=\s*([^\s!=(),]*)$/.exec(text);
  if (neq) return { op: 'neq', key: neq[1]!, value: neq[2]! };
  const eq = /^([^\s!=(),]+)\s*==?\s*([^\s!=(),]*)$/.exec(text);
  if (eq) return { op: 'eq', key: eq[1]!, value: eq[2]! };
  const notExists = /^!\s*([^\s!=(),]+)$/.exec(text);
  if (notExists) return { op: 'notexists', key: notExists[1]! };
  const exists = /^([^\s!=(),]+)$/.exec(text);
  if (exists) return { op: 'exists', key: exists[1]! };
  throw badRequest(`unable to parse requirement: ${JSON.stringify(text)}`);
}

function matches(requirement: Requirement, lookup: (key: string) => string | undefined): boolean {
  const actual = lookup(requirement.key);
  switch (requirement.op) {
    case 'eq':
      return actual === requirement.value;
    case 'neq':
      return actual !== requirement.value;
    case 'in':
      return actual !== undefined && requirement.values.includes(actual);
    case 'notin':
      return actual === undefined || !requirement.values.includes(actual);
    case 'exists':
      return actual !== undefined;
    case 'notexists':
      return actual === undefined;
  }
}

/** Compiles a label selector; an empty or absent selector matches everything. Throws 400 on syntax errors. */
export function compileLabelSelector(selector: string | null | undefined): (labels: Record<string, string> | undefined) => boolean {
  const requirements = selector ? splitTopLevel(selector).map(parseRequirement) : [];
  return (labels) => requirements.every((r) => matches(r, (key) => labels?.[key]));
}

/** Compiles a field selector over dotted paths (`metadata.name`, `type`, `involvedObject.uid`). Only `=`, `==`, `!=`. */
export function compileFieldSelector(selector: string | null | undefined, supported?: readonly string[]): (object: unknown) => boolean {
  const requirements = selector ? splitTopLevel(selector).map(parseRequirement) : [];
  for (const r of requirements) {
    if (r.op !== 'eq' && r.op !== 'neq') throw badRequest(`invalid field selector: ${JSON.stringify(selector)}`);
    // The API server converts each field label with the type's conversion function, which refuses unknown labels.
    if (supported && !supported.includes(r.key)) throw badRequest(`field label not supported: ${r.key}`);
  }
  return (object) =>
    requirements.every((r) =>
      matches(r, (path) => {
        let current: unknown = object;
        for (const segment of path.split('.')) {
          if (current === null || typeof current !== 'object') return '';
          current = (current as Record<string, unknown>)[segment];
        }
        return current === undefined || current === null ? '' : String(current);
      }),
    );
}
