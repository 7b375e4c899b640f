/**
 * Checks the resources of a parsed Bicep file against the management SDK models (armModels.ts): each resource's
 * type and API version must be carried by a pinned `@azure/arm-*` package, and every property path in its body must
 * exist in that operation's request model, nested as the wire format nests it, with a literal value of the right
 * kind and (for enums the package lists) one of the listed values. Expressions are not evaluated: a property whose
 * value is an expression is checked by name only.
 */
import { relative } from 'node:path';
import type { ArmIndex, ArmOperation, WireShape } from './armModels.js';
import { lineAt, stringValue, type BicepFile, type BicepNode, type BicepResource } from './bicep.js';
import { repoRoot } from './files.js';

export interface ModelProblem {
  /** `infra/modules/storage-account.bicep:31` */
  readonly where: string;
  /** `account.properties.allowSharedKeyAcess` */
  readonly property: string;
  readonly message: string;
}

/** Keys of a resource body that Bicep itself consumes; they are not part of the request model. */
const BICEP_KEYS = new Set(['name', 'parent', 'scope', 'dependsOn']);

export function checkFile(file: BicepFile, index: ArmIndex): ModelProblem[] {
  const problems: ModelProblem[] = [];
  const display = relative(repoRoot, file.path);
  const where = (offset: number): string => `${display}:${lineAt(file.code, offset)}`;
  for (const resource of file.resources) {
    const { type, apiVersion } = fullType(file, resource);
    const at = where(resource.offset);
    const report = (property: string, message: string, offset = resource.offset): void => {
      problems.push({ where: offset === resource.offset ? at : where(offset), property, message });
    };
    if (!apiVersion) {
      report(resource.symbol, `resource type ${type} has no API version`);
      continue;
    }
    const all = index.byType.get(type.toLowerCase()) ?? [];
    if (all.length === 0) {
      report(resource.symbol, `no pinned @azure/arm-* package (${index.packages.join(', ')}) carries ${type}; add the package whose API version is ${apiVersion} as a devDependency`);
      continue;
    }
    const atVersion = all.filter((op) => op.apiVersion === apiVersion);
    if (atVersion.length === 0) {
      const carried = [...new Set(all.map((op) => `${op.pkg} at ${op.apiVersion}`))].join(', ');
      report(resource.symbol, `${type}@${apiVersion}: the pinned packages carry ${type} only as ${carried}`);
      continue;
    }
    if (resource.existing) continue;
    const op = choosePut(atVersion, resource.body);
    if (!op?.body) {
      report(resource.symbol, `${type}@${apiVersion}: no PUT operation with a request body in ${atVersion[0]!.pkg}`);
      continue;
    }
    checkNode(resource.body, op.body, resource.symbol, true, { report, op });
  }
  return problems;
}

/** Formats problems as one line each, for a test failure message. */
export function formatProblems(problems: readonly ModelProblem[]): string {
  return problems.map((p) => `${p.where}: ${p.property}: ${p.message}`).join('\n');
}

function fullType(file: BicepFile, resource: BicepResource): { type: string; apiVersion: string | undefined } {
  if (resource.type.includes('/')) return { type: resource.type, apiVersion: resource.apiVersion };
  // A nested child (`resource x 'config' = …` inside its parent's body): the innermost resource whose span holds it.
  const parent = file.resources
    .filter((r) => r !== resource && r.offset < resource.offset && r.end > resource.offset)
    .sort((a, b) => b.offset - a.offset)[0];
  if (!parent) return { type: resource.type, apiVersion: resource.apiVersion };
  const outer = fullType(file, parent);
  return { type: `${outer.type}/${resource.type}`, apiVersion: resource.apiVersion ?? outer.apiVersion };
}

/** The PUT whose fixed last name equals the resource's literal name (`appsettings`), else one with a free name. */
function choosePut(ops: readonly ArmOperation[], body: BicepNode): ArmOperation | undefined {
  const puts = ops.filter((op) => op.method === 'PUT' && op.body);
  const name = stringValue(body.kind === 'object' ? body.entries.get('name') : undefined);
  return (
    puts.find((op) => op.fixedName !== undefined && op.fixedName === name) ??
    puts.find((op) => op.fixedName === undefined) ??
    puts.find((op) => op.fixedName !== undefined && name === undefined)
  );
}

interface Context {
  readonly report: (property: string, message: string, offset?: number) => void;
  readonly op: ArmOperation;
}

function checkNode(node: BicepNode, shape: WireShape, path: string, top: boolean, ctx: Context, offset?: number): void {
  if (node.kind === 'for') {
    // A property loop `[for …: body]` is an array whose items are the body.
    if (shape.kind === 'array') checkNode(node.body, shape.element, `${path}[]`, false, ctx, offset);
    else ctx.report(path, `a loop (array) where ${ctx.op.pkg} expects ${describe(shape)}`, offset);
    return;
  }
  switch (shape.kind) {
    case 'array':
      if (node.kind === 'array') node.items.forEach((item) => checkNode(item, shape.element, `${path}[]`, false, ctx, offset));
      else if (node.kind === 'object') ctx.report(path, `an object where ${ctx.op.pkg} expects an array`, offset);
      return;
    case 'map':
      if (node.kind === 'object') {
        for (const [key, value] of node.entries) {
          checkNode(value, shape.value, `${path}.${key}`, false, ctx, node.offsets?.get(key) ?? offset);
        }
      } else if (node.kind === 'array') ctx.report(path, `an array where ${ctx.op.pkg} expects an object`, offset);
      return;
    case 'leaf':
      checkLeaf(node, shape, path, ctx, offset);
      return;
    case 'object':
      if (node.kind === 'object') checkObject(node, shape, path, top, ctx);
      else if (node.kind === 'array') ctx.report(path, `an array where ${ctx.op.pkg} expects an object (${shape.name})`, offset);
      return;
  }
}

function checkObject(
  node: Extract<BicepNode, { kind: 'object' }>,
  shape: Extract<WireShape, { kind: 'object' }>,
  path: string,
  top: boolean,
  ctx: Context,
): void {
  let effective = shape;
  if (shape.discriminator) {
    const value = stringValue(node.entries.get(shape.discriminator.property));
    if (value !== undefined) {
      const variants = shape.discriminator.variants();
      const variant = [...variants].find(([v]) => v.toLowerCase() === value.toLowerCase())?.[1];
      if (variant?.kind === 'object') effective = variant;
      else {
        const offset = node.offsets?.get(shape.discriminator.property);
        ctx.report(`${path}.${shape.discriminator.property}`, `'${value}' is not one of ${[...variants.keys()].join(', ')} (${ctx.op.pkg})`, offset);
        return;
      }
    }
  }
  const properties = effective.properties();
  for (const [key, value] of node.entries) {
    const offset = node.offsets?.get(key);
    const property = `${path}.${key}`;
    if (top && BICEP_KEYS.has(key)) continue;
    const found = properties.get(key);
    if (!found) {
      if (effective.open) continue;
      const other = [...properties.keys()].find((k) => k.toLowerCase() === key.toLowerCase());
      const hint = other ? `; did you mean '${other}'?` : nearest(key, [...properties.keys()]);
      ctx.report(property, `not a property of ${effective.name} in ${ctx.op.pkg} (${ctx.op.type}@${ctx.op.apiVersion})${hint}`, offset);
      continue;
    }
    if (found.readOnly) {
      ctx.report(property, `read-only in ${ctx.op.pkg}: the service ignores or rejects it`, offset);
      continue;
    }
    checkNode(value, found.shape, property, false, ctx, offset);
  }
}

function checkLeaf(node: BicepNode, shape: Extract<WireShape, { kind: 'leaf' }>, path: string, ctx: Context, offset?: number): void {
  if (node.kind !== 'expr') {
    if (shape.type !== 'any') ctx.report(path, `an ${node.kind} where ${ctx.op.pkg} expects a ${shape.type}`, offset);
    return;
  }
  const text = node.text;
  const literal = stringValue(node);
  const kind = literal !== undefined ? 'string' : /^(true|false)$/.test(text) ? 'boolean' : /^-?\d+(\.\d+)?$/.test(text) ? 'number' : undefined;
  if (kind === undefined || shape.type === 'any') return;
  if (kind !== shape.type) {
    ctx.report(path, `${text} is a ${kind}; ${ctx.op.pkg} expects a ${shape.type}`, offset);
    return;
  }
  if (literal !== undefined && shape.values && shape.values.length > 0) {
    if (!shape.values.some((v) => v.toLowerCase() === literal.toLowerCase())) {
      ctx.report(path, `'${literal}' is not one of ${shape.values.map((v) => `'${v}'`).join(', ')} (${ctx.op.pkg})`, offset);
    }
  }
}

function describe(shape: WireShape): string {
  return shape.kind === 'object' ? `an object (${shape.name})` : shape.kind === 'leaf' ? `a ${shape.type}` : `a ${shape.kind}`;
}

/** A "did you mean" hint: the known key with the smallest edit distance, when close. */
function nearest(key: string, known: readonly string[]): string {
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 4)) ? `; did you mean '${best.k}'?` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
