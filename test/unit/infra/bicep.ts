/**
 * A small structural reader for the Bicep files in infra/. No Bicep compiler is reachable here (platform-facts §6),
 * so the infra tests read declarations (resource, module, param, output, var, import) and parse object and array
 * literals into a tree; expressions stay as their source text. It understands the subset infra/ uses: comments,
 * single-, multi-line and interpolated strings, decorators, `[for …: …]` loops and `if (…)` conditions.
 */
import { readFileSync } from 'node:fs';

export type BicepNode =
  | {
      readonly kind: 'object';
      readonly entries: ReadonlyMap<string, BicepNode>;
      /** Offset (in `code`) of each key, for line numbers in messages. */
      readonly offsets?: ReadonlyMap<string, number>;
    }
  | { readonly kind: 'array'; readonly items: readonly BicepNode[] }
  | { readonly kind: 'for'; readonly header: string; readonly condition?: string; readonly body: BicepNode }
  | { readonly kind: 'expr'; readonly text: string };

export interface BicepResource {
  readonly symbol: string;
  /** Resource type without the API version, or the child type segment for nested resources (`'config'`). */
  readonly type: string;
  readonly apiVersion: string | undefined;
  readonly existing: boolean;
  readonly condition: string | undefined;
  readonly loop: boolean;
  /** The resource body (for loops: the body of one iteration). */
  readonly body: BicepNode;
  /** Offset of the declaration and just past its value, in `code` (nested resources lie inside their parent's span). */
  readonly offset: number;
  readonly end: number;
}

export interface BicepModule {
  readonly symbol: string;
  readonly path: string;
  readonly condition: string | undefined;
  readonly loop: boolean;
  readonly body: BicepNode;
}

export interface BicepParam {
  readonly name: string;
  readonly type: string;
  /** Default value, when declared. */
  readonly defaultValue: BicepNode | undefined;
}

export interface BicepFile {
  readonly path: string;
  /** Source with comments blanked out (newlines kept). */
  readonly code: string;
  readonly resources: readonly BicepResource[];
  readonly modules: readonly BicepModule[];
  readonly params: readonly BicepParam[];
  readonly outputs: readonly string[];
  readonly vars: ReadonlyMap<string, BicepNode>;
  readonly exported: readonly string[];
  readonly imports: readonly { readonly symbols: readonly string[]; readonly path: string }[];
  readonly targetScope: string;
}

/** Reads and parses one Bicep file. */
export function readBicep(path: string): BicepFile {
  return parseBicep(readFileSync(path, 'utf8'), path);
}

export function parseBicep(source: string, path = '<inline>'): BicepFile {
  const code = stripComments(source);
  const resources: BicepResource[] = [];
  for (const m of code.matchAll(/\bresource\s+(\w+)\s+'([^']+)'(\s+existing)?\s*=\s*/g)) {
    const [type, apiVersion] = m[2]!.split('@') as [string, string | undefined];
    const value = parseDeclarationValue(code, m.index + m[0].length);
    resources.push({ symbol: m[1]!, type, apiVersion, existing: Boolean(m[3]), offset: m.index, ...value });
  }
  const modules: BicepModule[] = [];
  for (const m of code.matchAll(/\bmodule\s+(\w+)\s+'([^']+)'\s*=\s*/g)) {
    modules.push({ symbol: m[1]!, path: m[2]!, ...parseDeclarationValue(code, m.index + m[0].length) });
  }
  const params: BicepParam[] = [];
  for (const m of code.matchAll(/^param\s+(\w+)\s+([^\s=]+)[ \t]*(=[ \t]*)?/gm)) {
    const defaultValue = m[3] ? parseValue(code, m.index + m[0].length).node : undefined;
    params.push({ name: m[1]!, type: m[2]!, defaultValue });
  }
  const vars = new Map<string, BicepNode>();
  for (const m of code.matchAll(/^var\s+(\w+)\s*=\s*/gm)) {
    vars.set(m[1]!, parseValue(code, m.index + m[0].length).node);
  }
  const outputs = [...code.matchAll(/^output\s+(\w+)\s+/gm)].map((m) => m[1]!);
  const exported = [...code.matchAll(/^@export\(\)\s*(?:@\w+\((?:[^()]|\([^()]*\))*\)\s*)*(?:var|type|func)\s+(\w+)/gm)].map(
    (m) => m[1]!,
  );
  const imports = [...code.matchAll(/^import\s*\{([^}]*)\}\s*from\s*'([^']+)'/gm)].map((m) => ({
    symbols: m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    path: m[2]!,
  }));
  const targetScope = /^targetScope\s*=\s*'(\w+)'/m.exec(code)?.[1] ?? 'resourceGroup';
  return { path, code, resources, modules, params, outputs, vars, exported, imports, targetScope };
}

/** Follows a dotted path of object keys; undefined when a step is missing or not an object. */
export function get(node: BicepNode | undefined, path: string): BicepNode | undefined {
  let current = node;
  for (const key of path.split('.')) {
    if (current?.kind === 'for') current = current.body;
    if (current?.kind !== 'object') return undefined;
    current = current.entries.get(key);
  }
  return current;
}

/** The source text of an expression node (object and array nodes have none). */
export function exprText(node: BicepNode | undefined): string | undefined {
  return node?.kind === 'expr' ? node.text : undefined;
}

/** The content of a plain string literal (`'abc'`), or undefined for any other node. */
export function stringValue(node: BicepNode | undefined): string | undefined {
  const text = exprText(node);
  const m = text === undefined ? null : /^'((?:[^'\\$]|\\.|\$(?!\{))*)'$/.exec(text);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : undefined;
}

/** The items of an array node, as plain string literals where they are. */
export function stringItems(node: BicepNode | undefined): (string | undefined)[] {
  return node?.kind === 'array' ? node.items.map(stringValue) : [];
}

/** 1-based line of an offset in `code`. */
export function lineAt(code: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < code.length; i += 1) if (code.charCodeAt(i) === 10) line += 1;
  return line;
}

export function keys(node: BicepNode | undefined): string[] {
  return node?.kind === 'object' ? [...node.entries.keys()] : [];
}

function parseDeclarationValue(
  code: string,
  start: number,
): { condition: string | undefined; loop: boolean; body: BicepNode; end: number } {
  let pos = skipSpace(code, start);
  let condition: string | undefined;
  if (code.startsWith('if', pos) && /\s|\(/.test(code[pos + 2] ?? '')) {
    const open = skipSpace(code, pos + 2);
    const close = skipBalanced(code, open);
    condition = code.slice(open + 1, close - 1).trim();
    pos = close;
  }
  const { node, end } = parseValue(code, pos);
  if (node.kind === 'for') {
    return { condition: node.condition ?? condition, loop: true, body: node.body, end };
  }
  return { condition, loop: false, body: node, end };
}

function parseValue(code: string, start: number): { node: BicepNode; end: number } {
  const pos = skipSpace(code, start, true);
  if (code[pos] === '{') return parseObject(code, pos);
  if (code[pos] === '[') {
    const inner = skipSpace(code, pos + 1, true);
    if (/^for\b/.test(code.slice(inner, inner + 4))) return parseFor(code, pos, inner + 3);
    return parseArray(code, pos);
  }
  const end = skipExpression(code, pos);
  return { node: { kind: 'expr', text: code.slice(pos, end).trim() }, end };
}

function parseObject(code: string, open: number): { node: BicepNode; end: number } {
  const entries = new Map<string, BicepNode>();
  const offsets = new Map<string, number>();
  let pos = open + 1;
  for (;;) {
    pos = skipSeparators(code, pos);
    const ch = code[pos];
    if (ch === undefined) throw new Error(`unterminated object at ${open}`);
    if (ch === '}') return { node: { kind: 'object', entries, offsets }, end: pos + 1 };
    if (ch === '@') {
      pos = skipDecorator(code, pos);
      continue;
    }
    let key: string;
    const keyAt = pos;
    if (ch === "'") {
      const end = skipString(code, pos);
      key = code.slice(pos + 1, end - 1);
      pos = end;
    } else {
      const m = /^[A-Za-z_$][\w$]*/.exec(code.slice(pos));
      if (!m) throw new Error(`unexpected ${JSON.stringify(code.slice(pos, pos + 20))} in object at ${pos}`);
      key = m[0];
      pos += key.length;
    }
    const after = skipSpace(code, pos);
    if (code[after] === ':') {
      const { node, end } = parseValue(code, after + 1);
      entries.set(key, node);
      offsets.set(key, keyAt);
      pos = end;
    } else {
      // A statement inside a body (a nested `resource …`): skip it; the declaration scan finds it on its own.
      pos = skipExpression(code, after);
    }
  }
}

function parseArray(code: string, open: number): { node: BicepNode; end: number } {
  const items: BicepNode[] = [];
  let pos = open + 1;
  for (;;) {
    pos = skipSeparators(code, pos);
    if (code[pos] === undefined) throw new Error(`unterminated array at ${open}`);
    if (code[pos] === ']') return { node: { kind: 'array', items }, end: pos + 1 };
    const { node, end } = parseValue(code, pos);
    items.push(node);
    pos = end;
  }
}

function parseFor(code: string, open: number, afterFor: number): { node: BicepNode; end: number } {
  let pos = afterFor;
  while (code[pos] !== ':') {
    if (code[pos] === undefined) throw new Error(`unterminated for at ${open}`);
    pos = /[([{']/.test(code[pos]!) ? skipToken(code, pos) : pos + 1;
  }
  const header = code.slice(afterFor, pos).trim();
  pos = skipSpace(code, pos + 1, true);
  let condition: string | undefined;
  if (code.startsWith('if', pos) && /\s|\(/.test(code[pos + 2] ?? '')) {
    const openParen = skipSpace(code, pos + 2);
    const close = skipBalanced(code, openParen);
    condition = code.slice(openParen + 1, close - 1).trim();
    pos = close;
  }
  const { node: body, end } = parseValue(code, pos);
  const close = skipSpace(code, end, true);
  if (code[close] !== ']') throw new Error(`expected ] after for body at ${close}`);
  return { node: { kind: 'for', header, ...(condition === undefined ? {} : { condition }), body }, end: close + 1 };
}

/** Skips one expression: up to a newline, `,`, `}` or `]` outside brackets and strings. */
function skipExpression(code: string, start: number): number {
  let pos = start;
  for (;;) {
    const ch = code[pos];
    if (ch === undefined || ch === '\n' || ch === ',' || ch === '}' || ch === ']') return pos;
    pos = /[([{']/.test(ch) ? skipToken(code, pos) : pos + 1;
  }
}

function skipToken(code: string, pos: number): number {
  return code[pos] === "'" ? skipString(code, pos) : skipBalanced(code, pos);
}

/** From an opening bracket, returns the index just past its matching close bracket. */
function skipBalanced(code: string, open: number): number {
  const closer: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  const want = closer[code[open]!];
  if (!want) throw new Error(`expected a bracket at ${open}, found ${JSON.stringify(code[open])}`);
  let pos = open + 1;
  for (;;) {
    const ch = code[pos];
    if (ch === undefined) throw new Error(`unbalanced ${code[open]} at ${open}`);
    if (ch === want) return pos + 1;
    pos = /[([{']/.test(ch) ? skipToken(code, pos) : pos + 1;
  }
}

/** From an opening quote, returns the index just past the string (multi-line `'''`, escapes, `${…}`). */
function skipString(code: string, open: number): number {
  if (code.startsWith("'''", open)) {
    const end = code.indexOf("'''", open + 3);
    if (end < 0) throw new Error(`unterminated multi-line string at ${open}`);
    return end + 3;
  }
  let pos = open + 1;
  for (;;) {
    const ch = code[pos];
    if (ch === undefined || ch === '\n') throw new Error(`unterminated string at ${open}`);
    if (ch === '\\') pos += 2;
    else if (ch === "'") return pos + 1;
    else if (ch === '$' && code[pos + 1] === '{') pos = skipBalanced(code, pos + 1);
    else pos += 1;
  }
}

function skipDecorator(code: string, at: number): number {
  const m = /^@[\w.]+/.exec(code.slice(at));
  const pos = skipSpace(code, at + (m?.[0].length ?? 1));
  return code[pos] === '(' ? skipBalanced(code, pos) : pos;
}

function skipSpace(code: string, start: number, newlines = false): number {
  let pos = start;
  while (pos < code.length && (code[pos] === ' ' || code[pos] === '\t' || code[pos] === '\r' || (newlines && code[pos] === '\n'))) {
    pos += 1;
  }
  return pos;
}

function skipSeparators(code: string, start: number): number {
  let pos = start;
  while (pos < code.length && /[\s,]/.test(code[pos]!)) pos += 1;
  return pos;
}

/** Replaces `//` and `/* *\/` comments with spaces, keeping strings and newlines intact. */
export function stripComments(source: string): string {
  let out = '';
  let pos = 0;
  while (pos < source.length) {
    const ch = source[pos]!;
    if (ch === "'") {
      const end = skipString(source, pos);
      out += source.slice(pos, end);
      pos = end;
    } else if (source.startsWith('//', pos)) {
      const end = source.indexOf('\n', pos);
      const stop = end < 0 ? source.length : end;
      out += ' '.repeat(stop - pos);
      pos = stop;
    } else if (source.startsWith('/*', pos)) {
      const end = source.indexOf('*/', pos + 2);
      const stop = end < 0 ? source.length : end + 2;
      out += source.slice(pos, stop).replace(/[^\n]/g, ' ');
      pos = stop;
    } else {
      out += ch;
      pos += 1;
    }
  }
  return out;
}
