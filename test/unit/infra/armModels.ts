/**
 * Reads the request models of the Azure management SDK packages (`@azure/arm-*` devDependencies, or npm aliases of
 * them, pinned to the API versions infra/ uses) into one index: resource type → the PUT/GET operations each package carries, with the
 * operation's `api-version` and the wire shape of its request body.
 *
 * Two generator generations are read:
 * - AutoRest (`models/mappers.js` + `operations/*.js`): the operation specs' `path`, `httpMethod`, `requestBody` and
 *   `api-version` parameter, and the serializer mappers (wire names with `properties.` flattening, enums,
 *   read-only flags, polymorphic discriminators). Extensible enums come from the `Known…` enums of the models'
 *   `index.d.ts`.
 * - TypeSpec (`api/**\/operations.js` + `models/**\/models.js`, e.g. @azure/arm-monitor 8): the operation's URL
 *   template and `api-version`, and the wire keys each `…Serializer` function writes. These carry no enum or
 *   read-only information, so only property names and nesting are checked for them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './files.js';

/** The wire shape of a request body, as far as the package tells. */
export type WireShape =
  | {
      readonly kind: 'object';
      /** Class name (AutoRest) or serializer name (TypeSpec), for messages. */
      readonly name: string;
      readonly properties: () => ReadonlyMap<string, WireProperty>;
      /** Unknown keys are allowed (additionalProperties, or a serializer this reader does not understand). */
      readonly open: boolean;
      /** Polymorphic: the discriminator's wire name and the shape for each of its values. */
      readonly discriminator?: { readonly property: string; readonly variants: () => ReadonlyMap<string, WireShape> };
    }
  | { readonly kind: 'array'; readonly element: WireShape }
  | { readonly kind: 'map'; readonly value: WireShape }
  | {
      readonly kind: 'leaf';
      readonly type: 'string' | 'boolean' | 'number' | 'any';
      /** Allowed values (fixed enum) or known values (extensible enum), when the package lists them. */
      readonly values?: readonly string[];
    };

export interface WireProperty {
  readonly shape: WireShape;
  readonly readOnly: boolean;
}

export interface ArmOperation {
  /** `@azure/arm-storage@18.3.0` */
  readonly pkg: string;
  readonly method: string;
  readonly apiVersion: string;
  /** Full resource type, e.g. `Microsoft.Storage/storageAccounts/blobServices/containers`. */
  readonly type: string;
  /** The resource's last name segment when the path fixes it (`appsettings`, `default`, `ftp`), else undefined. */
  readonly fixedName: string | undefined;
  readonly path: string;
  /** The request body's shape (PUT), if any. */
  readonly body: WireShape | undefined;
}

export interface ArmIndex {
  readonly packages: readonly string[];
  /** Operations by lower-cased resource type. */
  readonly byType: ReadonlyMap<string, readonly ArmOperation[]>;
}

/** The resource type a request path addresses (the part after its last `/providers/`), or undefined. */
export function typeOfPath(path: string): { type: string; fixedName: string | undefined } | undefined {
  const clean = path.replace(/\{\?[^}]*\}$/, '').replace(/\{\+/g, '{');
  const at = clean.toLowerCase().lastIndexOf('/providers/');
  let segments: string[];
  if (at >= 0) {
    segments = clean.slice(at + '/providers/'.length).split('/');
  } else {
    const m = /^\/subscriptions\/\{[^}]+\}\/resourcegroups\/(\{[^}]+\})$/i.exec(clean);
    if (!m) return undefined;
    segments = ['Microsoft.Resources', 'resourceGroups', m[1]!];
  }
  if (segments.length < 3 || segments.length % 2 === 0 || segments[0]!.startsWith('{')) return undefined;
  const types = segments.filter((_, i) => i % 2 === 1);
  if (types.some((t) => t.startsWith('{'))) return undefined;
  const last = segments[segments.length - 1]!;
  return { type: [segments[0], ...types].join('/'), fixedName: last.startsWith('{') ? undefined : last };
}

let cached: Promise<ArmIndex> | undefined;

/** Loads every `@azure/arm-*` devDependency of the project (once per process). */
export function loadArmIndex(): Promise<ArmIndex> {
  cached ??= buildIndex();
  return cached;
}

async function buildIndex(): Promise<ArmIndex> {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  // Also npm aliases (`"arm-monitor-7": "npm:@azure/arm-monitor@7.0.0"`), so two API versions of one provider can be
  // pinned side by side.
  const names = Object.entries(manifest.devDependencies ?? {})
    .filter(([name, spec]) => name.startsWith('@azure/arm-') || spec.startsWith('npm:@azure/arm-'))
    .map(([name]) => name);
  const byType = new Map<string, ArmOperation[]>();
  const packages: string[] = [];
  for (const name of names.sort()) {
    const root = join(repoRoot, 'node_modules', name);
    const installed = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
    const pkg = `${installed.name}@${installed.version}`;
    packages.push(pkg);
    const ops = findFile(root, 'mappers.js') ? await readAutoRest(root, pkg) : readTypeSpec(root, pkg);
    if (ops.length === 0) throw new Error(`${pkg}: no operations found (unknown package layout)`);
    for (const op of ops) {
      const key = op.type.toLowerCase();
      byType.set(key, [...(byType.get(key) ?? []), op]);
    }
  }
  return { packages, byType };
}

/** The first file of that name under the package's ESM output (not browser or react-native builds). */
function findFile(root: string, fileName: string): string | undefined {
  const candidates: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', 'browser', 'react-native', 'commonjs', 'test', 'review'].includes(entry.name)) {
          walk(path);
        }
      } else if (entry.name === fileName) candidates.push(path);
    }
  };
  walk(root);
  return candidates.sort((a, b) => a.length - b.length)[0];
}

function listFiles(dir: string, test: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path, test));
    else if (test(entry.name)) out.push(path);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// AutoRest

interface Mapper {
  serializedName?: string;
  readOnly?: boolean;
  defaultValue?: unknown;
  type: {
    name: string;
    className?: string;
    modelProperties?: Record<string, Mapper>;
    additionalProperties?: unknown;
    allowedValues?: unknown[];
    element?: Mapper;
    value?: Mapper;
    uberParent?: string;
    polymorphicDiscriminator?: { serializedName: string; clientName: string };
  };
}

async function readAutoRest(root: string, pkg: string): Promise<ArmOperation[]> {
  const mappersPath = findFile(root, 'mappers.js')!;
  const modelsDir = dirname(mappersPath);
  const mappers = (await import(pathToFileURL(mappersPath).href)) as Record<string, Mapper> & {
    discriminators?: Record<string, Mapper>;
  };
  const parameters = (await import(pathToFileURL(join(modelsDir, 'parameters.js')).href)) as Record<
    string,
    { parameterPath: unknown; mapper: Mapper }
  >;
  const known = readKnownEnums(join(modelsDir, 'index.d.ts'));
  const shapes = new AutoRestShapes(mappers, mappers.discriminators ?? {}, known);
  const ops: ArmOperation[] = [];
  for (const file of listFiles(join(modelsDir, '..', 'operations'), (n) => n.endsWith('.js'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/const \w+ = \{\s*path: "([^"]+)",\s*httpMethod: "(\w+)",([\s\S]*?)\n\};/g)) {
      const [, path, method, rest] = m as unknown as [string, string, string, string];
      const addressed = typeOfPath(path);
      if (!addressed || (method !== 'PUT' && method !== 'GET')) continue;
      const query = /queryParameters: \[([^\]]*)\]/.exec(rest)?.[1] ?? '';
      const apiParam = [...query.matchAll(/Parameters\.(\w+)/g)]
        .map((q) => parameters[q[1]!])
        .find((p) => p?.parameterPath === 'apiVersion');
      const apiVersion = apiParam?.mapper.defaultValue;
      if (typeof apiVersion !== 'string') continue;
      const bodyParam = /requestBody: Parameters\.(\w+)/.exec(rest)?.[1];
      const body = bodyParam ? shapes.of(parameters[bodyParam]!.mapper) : undefined;
      ops.push({ pkg, method, apiVersion, path, body, ...addressed });
    }
  }
  return ops;
}

class AutoRestShapes {
  constructor(
    private readonly mappers: Record<string, Mapper>,
    private readonly discriminators: Record<string, Mapper>,
    private readonly known: KnownEnums,
  ) {}

  of(mapper: Mapper, owner?: { className: string; clientName: string }): WireShape {
    const t = mapper.type;
    switch (t.name) {
      case 'Composite':
        return this.composite(mapper);
      case 'Sequence':
        return { kind: 'array', element: this.of(t.element!, owner) };
      case 'Dictionary':
        return { kind: 'map', value: this.of(t.value!, owner) };
      case 'Enum':
        return { kind: 'leaf', type: 'string', values: (t.allowedValues ?? []).map(String) };
      case 'Boolean':
        return { kind: 'leaf', type: 'boolean' };
      case 'Number':
        return { kind: 'leaf', type: 'number' };
      case 'String': {
        const values = owner ? this.known.valuesOf(owner.className, owner.clientName) : undefined;
        return { kind: 'leaf', type: 'string', ...(values ? { values } : {}) };
      }
      default:
        return { kind: 'leaf', type: 'any' };
    }
  }

  private composite(mapper: Mapper): WireShape {
    const className = mapper.type.className ?? '?';
    const full = mapper.type.modelProperties ? mapper : (this.mappers[className] ?? mapper);
    const disc = full.type.polymorphicDiscriminator;
    const uberParent = full.type.uberParent ?? className;
    return {
      kind: 'object',
      name: className,
      open: Boolean(full.type.additionalProperties),
      properties: memo(() => this.tree(full, className)),
      ...(disc
        ? {
            discriminator: {
              property: disc.serializedName,
              variants: memo(() => {
                const out = new Map<string, WireShape>();
                for (const [key, variant] of Object.entries(this.discriminators)) {
                  const [parent, value] = splitOnce(key, '.');
                  // A subtype's own className is its key's parent when it is itself polymorphic.
                  if (parent === uberParent && variant.type.className !== className) out.set(value, this.composite(variant));
                }
                return out;
              }),
            },
          }
        : {}),
    };
  }

  /** Builds the wire tree: `properties.x.y` serialized names become nested objects. */
  private tree(mapper: Mapper, className: string): ReadonlyMap<string, WireProperty> {
    interface Branch {
      readonly children: Map<string, Branch | WireProperty>;
    }
    const root: Branch = { children: new Map() };
    for (const [clientName, prop] of Object.entries(mapper.type.modelProperties ?? {})) {
      const segments = splitUnescaped(prop.serializedName ?? clientName);
      let branch = root;
      for (const segment of segments.slice(0, -1)) {
        let next = branch.children.get(segment);
        if (!next || !('children' in next)) {
          next = { children: new Map() };
          branch.children.set(segment, next);
        }
        branch = next;
      }
      branch.children.set(segments[segments.length - 1]!, {
        shape: this.of(prop, { className, clientName }),
        readOnly: Boolean(prop.readOnly),
      });
    }
    const toShape = (branch: Branch, name: string): ReadonlyMap<string, WireProperty> => {
      const out = new Map<string, WireProperty>();
      for (const [key, child] of branch.children) {
        if ('children' in child) {
          const props = toShape(child, `${name}.${key}`);
          out.set(key, {
            readOnly: [...props.values()].every((p) => p.readOnly),
            shape: { kind: 'object', name: `${name}.${key}`, open: false, properties: () => props },
          });
        } else out.set(key, child);
      }
      return out;
    };
    return toShape(root, className);
  }
}

/** `Known…` enums of a models index.d.ts, and the declared type of each interface property. */
class KnownEnums {
  constructor(
    private readonly enums: ReadonlyMap<string, readonly string[]>,
    private readonly interfaces: ReadonlyMap<string, { bases: string[]; props: Map<string, string> }>,
  ) {}

  valuesOf(className: string, clientName: string, seen = new Set<string>()): readonly string[] | undefined {
    if (seen.has(className)) return undefined;
    seen.add(className);
    const decl = this.interfaces.get(className);
    if (!decl) return undefined;
    const type = decl.props.get(clientName);
    if (type !== undefined) return this.enums.get(type);
    for (const base of decl.bases) {
      const found = this.valuesOf(base, clientName, seen);
      if (found) return found;
    }
    return undefined;
  }
}

function readKnownEnums(dtsPath: string): KnownEnums {
  const text = existsSync(dtsPath) ? readFileSync(dtsPath, 'utf8') : '';
  const enums = new Map<string, string[]>();
  for (const m of text.matchAll(/export declare enum Known(\w+) \{([\s\S]*?)\n\}/g)) {
    enums.set(m[1]!, [...m[2]!.matchAll(/= "((?:[^"\\]|\\.)*)"/g)].map((v) => v[1]!));
  }
  const interfaces = new Map<string, { bases: string[]; props: Map<string, string> }>();
  for (const m of text.matchAll(/export (?:interface|type) (\w+)(?: extends ([\w, ]+))? (?:= [\w & ]*)?\{([\s\S]*?)\n\}/g)) {
    const props = new Map<string, string>();
    for (const p of m[3]!.matchAll(/^ {4}(?:readonly )?(\w+)\??: (\w+);$/gm)) props.set(p[1]!, p[2]!);
    const bases = (m[2] ?? '').split(',').map((b) => b.trim()).filter(Boolean);
    interfaces.set(m[1]!, { bases, props });
  }
  return new KnownEnums(enums, interfaces);
}

// ---------------------------------------------------------------------------------------------------------------
// TypeSpec

function readTypeSpec(root: string, pkg: string): ArmOperation[] {
  const esm = findEsmDir(root);
  if (!esm) return [];
  const serializers = new Map<string, string>();
  for (const file of listFiles(join(esm, 'models'), (n) => n === 'models.js')) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/export function (\w+)\((?:item|result)\) \{\n([\s\S]*?)\n\}/g)) {
      serializers.set(m[1]!, m[2]!);
    }
  }
  const shapes = new TypeSpecShapes(serializers);
  const ops: ArmOperation[] = [];
  for (const file of listFiles(join(esm, 'api'), (n) => n === 'operations.js')) {
    const text = readFileSync(file, 'utf8');
    for (const chunk of text.split(/\nexport (?:async )?function /)) {
      const url = /expandUrlTemplate\("([^"]+)"/.exec(chunk)?.[1];
      const apiVersion = /"api%2Dversion": (?:context\.apiVersion \?\? )?"([^"]+)"/.exec(chunk)?.[1];
      const method = /context\s*\.path\(path\)\s*\.(put|get)\(/.exec(chunk)?.[1];
      if (!url || !apiVersion || !method) continue;
      const addressed = typeOfPath(url);
      if (!addressed) continue;
      const bodySerializer = /body: (\w+)\(\w+\)/.exec(chunk)?.[1];
      ops.push({
        pkg,
        method: method.toUpperCase(),
        apiVersion,
        path: url,
        body: bodySerializer ? shapes.of(bodySerializer) : undefined,
        ...addressed,
      });
    }
  }
  return ops;
}

function findEsmDir(root: string): string | undefined {
  const esm = join(root, 'dist', 'esm');
  return existsSync(esm) ? esm : undefined;
}

class TypeSpecShapes {
  private readonly cache = new Map<string, WireShape>();

  constructor(private readonly serializers: ReadonlyMap<string, string>) {}

  of(name: string): WireShape {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const body = this.serializers.get(name);
    let shape: WireShape;
    if (body === undefined) {
      shape = { kind: 'leaf', type: 'any' };
    } else if (/^\s*return result\.map\(/.test(body)) {
      const inner = /return (\w+Serializer\w*)\(item\)/.exec(body)?.[1];
      shape = { kind: 'array', element: inner ? this.of(inner) : { kind: 'leaf', type: 'any' } };
    } else if (/Object\.keys\(item\)/.test(body)) {
      const inner = /(\w+Serializer\w*)\(item\[key\]\)/.exec(body)?.[1];
      shape = { kind: 'map', value: inner ? this.of(inner) : { kind: 'leaf', type: 'any' } };
    } else if (/^\s*return \{\n/.test(body) && !/\bswitch\b/.test(body)) {
      shape = {
        kind: 'object',
        name,
        open: /serializeRecord\(/.test(body),
        properties: memo(() => this.properties(body)),
      };
    } else {
      // Unions and other forms this reader does not model: accept any keys.
      shape = { kind: 'object', name, open: true, properties: () => new Map() };
    }
    this.cache.set(name, shape);
    return shape;
  }

  private properties(body: string): ReadonlyMap<string, WireProperty> {
    const out = new Map<string, WireProperty>();
    const entries = [...body.matchAll(/^ {8}(?:"([^"]+)"|(\w+)): /gm)];
    entries.forEach((m, i) => {
      const key = m[1] ?? m[2]!;
      const expr = body.slice(m.index + m[0].length, entries[i + 1]?.index ?? body.length);
      const calls = [...expr.matchAll(/\b(_?\w+Serializer\w*)\(/g)].map((c) => c[1]!);
      const inner = calls[calls.length - 1];
      out.set(key, { readOnly: false, shape: inner ? this.of(inner) : { kind: 'leaf', type: 'any' } });
    });
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------

function memo<T>(make: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: make() }).v;
}

function splitOnce(text: string, sep: string): [string, string] {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + sep.length)];
}

/** Splits an AutoRest serialized name on dots that are not escaped (`odata\\.type` stays one segment). */
function splitUnescaped(name: string): string[] {
  return name.split(/(?<!\\)\./).map((s) => s.replace(/\\\./g, '.'));
}
