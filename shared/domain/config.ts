import { getLocation, parse as parseJsonText, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import { z } from 'zod';
import { globsIntersect, isValidGlob, routeNamePatterns } from './match.js';
import {
  ANY_KEY_VAULT_NAME,
  isValidK8sNamespace,
  isValidKeyVaultName,
  KEY_VAULT_NAME_MAX_LENGTH,
  parseTemplate,
  renderTemplate,
  TEMPLATE_PROBLEM_CODES,
  templateVariables,
  validateTemplate,
} from './templates.js';
import type { OpenVariable, TemplateKind, TemplateProblem } from './templates.js';

/**
 * The schema of relay.config.json (zod 4). `RelayConfigSchema.parse` applies every default; use
 * {@link validateConfig} to get all problems, including the cross-reference checks the schema
 * cannot express. Pure: no I/O.
 */

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const id = (what: string) =>
  z.string().regex(ID, 'ids are 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit').describe(`Unique id of the ${what}.`);

const IdentitySchema = z
  .strictObject({
    clientId: z.string().min(1).describe('Client id of a user-assigned managed identity.'),
  })
  .describe('Which managed identity to use; the system-assigned identity when absent.');

export const DEFAULT_WRITE_BUDGET = { writes: 30, perSeconds: 10 } as const;

const WriteBudgetSchema = z
  .strictObject({
    writes: z.number().int().min(1).max(10_000).describe('Writes allowed per window (token bucket size).'),
    perSeconds: z.number().min(1).max(3600).describe('Window length in seconds.'),
  })
  .default({ ...DEFAULT_WRITE_BUDGET })
  .describe('Write budget per target endpoint (token bucket); default 30 writes per 10 seconds.');

const VarsSchema = z
  .record(z.string().regex(VAR_NAME, 'variable names are letters, digits and "_", not starting with a digit'), z.string())
  .default({})
  .describe('Extra template variables for routes that write to this target, e.g. {"customer": "contoso"}.');

const vaultUrl = (what: string) =>
  z.string().min(1).describe(`Vault URL of the ${what}, e.g. https://contoso.vault.azure.net (https and an Azure vault host unless mode is "local").`);

export const SourceConfigSchema = z
  .strictObject({
    id: id('source'),
    vaultUrl: vaultUrl('source'),
    identity: IdentitySchema.optional(),
  })
  .describe('A Key Vault the relay reads from, and writes new versions to when it rotates.');

export const KeyVaultTargetConfigSchema = z
  .strictObject({
    id: id('target'),
    kind: z.literal('keyVault'),
    vaultUrl: vaultUrl('target'),
    identity: IdentitySchema.optional(),
    writeBudget: WriteBudgetSchema,
    vars: VarsSchema,
  })
  .describe('A customer Key Vault: one secret per relayed secret.');

const secretRef = {
  source: z.string().min(1).describe('Id of the source vault that holds the credential.'),
  secret: z
    .string()
    .refine(isValidKeyVaultName, 'Key Vault secret names are 1-127 letters, digits and dashes')
    .describe('Name of the secret in that source vault.'),
};

const ClusterAuthSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('aad'),
        serverAppId: z.string().min(1).describe('Application id of the cluster API server (AKS: 6dae42f8-4368-4678-94ff-3960e28e3630).'),
        identity: IdentitySchema.optional(),
      })
      .describe('Microsoft Entra token for the API server, from the relay managed identity.'),
    z.strictObject({ type: z.literal('tokenSecret'), ...secretRef }).describe('A bearer token stored in a source vault.'),
    z.strictObject({ type: z.literal('kubeconfigSecret'), ...secretRef }).describe('A kubeconfig stored in a source vault.'),
  ])
  .describe('How the relay authenticates to the cluster.');

const ClusterSchema = z.strictObject({
  name: z.string().min(1).describe('Cluster name, used in locations and audit records.'),
  server: z.string().min(1).describe('API server URL, e.g. https://edge-1.example:6443.'),
  caCert: z.string().min(1).optional().describe('PEM CA certificate of the API server.'),
  caCertPath: z.string().min(1).optional().describe('Path of a PEM CA certificate file (alternative to caCert).'),
  auth: ClusterAuthSchema,
});

export const KubernetesTargetConfigSchema = z
  .strictObject({
    id: id('target'),
    kind: z.literal('kubernetes'),
    cluster: ClusterSchema,
    namespace: z.string().refine(isValidK8sNamespace, 'namespaces are DNS-1123 labels (lowercase, at most 63)').describe('Namespace of the Secrets.'),
    writeBudget: WriteBudgetSchema,
    vars: VarsSchema,
  })
  .describe('A namespace of a Kubernetes cluster: one Secret object per placement.');

export const TargetConfigSchema = z.discriminatedUnion('kind', [KeyVaultTargetConfigSchema, KubernetesTargetConfigSchema]);

export const K8S_SECRET_TYPES = ['Opaque', 'kubernetes.io/tls', 'kubernetes.io/dockerconfigjson'] as const;

export const RouteTargetConfigSchema = z
  .strictObject({
    target: z.string().min(1).describe('Id of a target.'),
    name: z
      .string()
      .default('{name}')
      .describe('Name template of the Key Vault secret or Kubernetes Secret, e.g. "{customer}--{name}"; default "{name}".'),
    key: z.string().optional().describe('Kubernetes only: key template inside the Secret; default "{name}".'),
    adopt: z.boolean().default(false).describe('Take over a target that exists without relay ownership (audited).'),
    recoverDeleted: z.boolean().default(true).describe('Recover a soft-deleted target name before writing (Key Vault).'),
    versionsToKeep: z.number().int().min(1).max(10).default(1).describe('Kubernetes: keep the latest N versions as keys key, key-1, ….'),
    type: z.enum(K8S_SECRET_TYPES).default('Opaque').describe('Kubernetes: type of the Secret.'),
    restartDeployments: z.array(z.string().min(1)).default([]).describe('Kubernetes: Deployments to restart when the value changes.'),
  })
  .describe('One target of a route and how the secret is named there.');

const SecretReferenceSchema = z
  .strictObject(secretRef)
  .describe('A secret in a configured source vault (never the value itself): e.g. the admin password of a database.');

const PG_ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
const pgRole = z.string().regex(PG_ROLE, 'PostgreSQL role names here are 1-63 lowercase letters, digits and "_", not starting with a digit');

export const PostgresRotatorSchema = z
  .strictObject({
    kind: z.literal('postgres'),
    host: z.string().min(1).describe('Host name of the PostgreSQL server.'),
    port: z.number().int().min(1).max(65535).default(5432).describe('TCP port; default 5432.'),
    database: z.string().min(1).describe('Database the connection checks log in to.'),
    adminUser: z.string().min(1).describe('Role that runs ALTER ROLE (CREATEROLE, or superuser).'),
    adminPassword: SecretReferenceSchema.describe("The admin role's password, as a secret in a source vault."),
    roles: z
      .tuple([pgRole, pgRole])
      .refine(([a, b]) => a !== b, 'the two slot roles must differ')
      .describe('The two login roles (slots) of this credential, e.g. ["app_blue", "app_green"]; both must exist.'),
    tls: z
      .enum(['disable', 'require', 'verify-full'])
      .default('verify-full')
      .describe('TLS to the server: "verify-full" (default) checks the certificate and host; "disable" only for local servers.'),
  })
  .describe('Rotates a PostgreSQL password with two login roles: ALTER ROLE … PASSWORD on the inactive one, NOLOGIN on retirement.');

const WebhookAuthSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('managedIdentity'),
        scope: z.string().min(1).describe('Token scope of the owner API, e.g. api://bmc-rotator/.default.'),
        identity: IdentitySchema.optional(),
      })
      .describe('Bearer token of the relay managed identity.'),
    z.strictObject({ type: z.literal('hmac'), key: SecretReferenceSchema }).describe('HMAC-SHA256 signature with a shared key kept in a source vault.'),
  ])
  .describe('How the relay authenticates to the owner endpoint.');

export const WebhookRotatorSchema = z
  .strictObject({
    kind: z.literal('webhook'),
    url: z.string().min(1).describe('HTTPS endpoint of the credential owner (contract in docs/rotation.md).'),
    auth: WebhookAuthSchema,
    slots: z
      .tuple([z.string().regex(ID), z.string().regex(ID)])
      .refine(([a, b]) => a !== b, 'the two slots must differ')
      .default(['primary', 'secondary'])
      .describe('Names of the two credentials the owner keeps; default ["primary", "secondary"].'),
    ownerVaultUrl: z.string().min(1).optional().describe('Vault the owner may answer with a reference into (read with the source identity).'),
    timeoutInMs: z.number().int().min(100).max(120_000).default(10_000).describe('Timeout of one request; default 10000.'),
    maxAttempts: z.number().int().min(1).max(10).default(3).describe('Attempts per request on timeouts, 408, 429 and 5xx; default 3.'),
  })
  .describe('Asks the credential owner (BMC, appliance, SaaS) over HTTPS for a new value of the inactive slot.');

export const RotatorSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('generate') }).describe('Generate a value and write it to the source (no owner to change).'),
    PostgresRotatorSchema,
    WebhookRotatorSchema,
  ])
  .default({ kind: 'generate' })
  .describe('Who changes the credential: "generate" (default; the relay targets are the only consumers), "postgres", "webhook".');

export const RetirementSchema = z
  .strictObject({
    rule: z
      .enum(['converged', 'grace'])
      .default('converged')
      .describe('"converged": lock the previous slot once every routed target holds the new version; "grace": wait graceMinutes first.'),
    graceMinutes: z.number().int().min(0).max(10_080).default(0).describe('Minutes to wait after the relay before the convergence check ("grace").'),
  })
  .default({ rule: 'converged', graceMinutes: 0 })
  .describe('When the previously active slot is retired. Never while a target still holds the older version.');

const rotationCommon = {
  validityDays: z.number().int().min(1).max(3650).optional().describe('Expiry set on new versions, in days from creation.'),
  rotateOnNearExpiry: z.boolean().default(true).describe('Rotate when Key Vault reports SecretNearExpiry.'),
  rotator: RotatorSchema,
  retirement: RetirementSchema,
};

export const RotationPolicySchema = z
  .discriminatedUnion('generator', [
    z.strictObject({
      generator: z.literal('password'),
      length: z.number().int().min(8).max(1024).describe('Number of characters.'),
      alphabet: z.string().min(10).optional().describe('Characters to draw from; default letters, digits and symbols.'),
      ...rotationCommon,
    }),
    z.strictObject({
      generator: z.literal('bytes'),
      length: z.number().int().min(16).max(8192).describe('Number of random bytes.'),
      encoding: z.enum(['base64', 'hex']).describe('How the bytes are stored as the secret value.'),
      ...rotationCommon,
    }),
  ])
  .describe('How the relay generates a new value when it rotates secrets of this route.');

export const RouteMatchSchema = z
  .strictObject({
    names: z.array(z.string().refine(isValidKeyVaultName, 'source names are Key Vault names')).default([]).describe('Exact source secret names.'),
    globs: z.array(z.string().min(1)).default([]).describe('Source name patterns: "*" any run, "?" one character, case-insensitive.'),
    tags: z.record(z.string(), z.string()).default({}).describe('Tags the source secret must carry, with these exact values.'),
  })
  .default({ names: [], globs: [], tags: {} })
  .describe('A secret matches when (it is in names OR matches a glob; both empty = any name) AND it has every tag.');

export const RouteConfigSchema = z
  .strictObject({
    id: id('route'),
    source: z.string().min(1).describe('Id of the source.'),
    match: RouteMatchSchema,
    targets: z.array(RouteTargetConfigSchema).min(1),
    rotation: RotationPolicySchema.optional(),
  })
  .describe('Which source secrets go to which targets, and how they are named there.');

const rootShape = {
  $schema: z.string().optional().describe('Path or URL of this JSON schema.'),
  mode: z
    .enum(['azure', 'local'])
    .default('azure')
    .describe('"local" allows http:// and non-Azure hosts for vault URLs (emulators); default "azure".'),
};

export const RelayConfigSchema = z
  .strictObject({
    ...rootShape,
    sources: z.array(SourceConfigSchema).min(1),
    targets: z.array(TargetConfigSchema),
    routes: z.array(RouteConfigSchema),
  })
  .describe('Secret Relay configuration (relay.config.json).');

/** The root with its arrays unchecked: lets validation parse (and report on) each element on its own. */
export const RelayConfigRootSchema = z.strictObject({
  ...rootShape,
  sources: z.array(z.unknown()).min(1),
  targets: z.array(z.unknown()),
  routes: z.array(z.unknown()),
});

export type RelayConfig = z.output<typeof RelayConfigSchema>;
export type SourceConfig = z.output<typeof SourceConfigSchema>;
export type TargetConfig = z.output<typeof TargetConfigSchema>;
export type KeyVaultTargetConfig = z.output<typeof KeyVaultTargetConfigSchema>;
export type KubernetesTargetConfig = z.output<typeof KubernetesTargetConfigSchema>;
export type RouteConfig = z.output<typeof RouteConfigSchema>;
export type RouteTargetConfig = z.output<typeof RouteTargetConfigSchema>;
export type RouteMatchConfig = z.output<typeof RouteMatchSchema>;
export type RotationPolicy = z.output<typeof RotationPolicySchema>;
export type RotatorConfig = z.output<typeof RotatorSchema>;
export type PostgresRotatorConfig = z.output<typeof PostgresRotatorSchema>;
export type WebhookRotatorConfig = z.output<typeof WebhookRotatorSchema>;
export type RetirementConfig = z.output<typeof RetirementSchema>;
/** What a config file may say (defaults not yet applied). */
export type RelayConfigInput = z.input<typeof RelayConfigSchema>;

/** Template variables a route target can always use, besides the target's `vars`. */
export const BUILTIN_TEMPLATE_VARIABLES = ['name', 'source', 'target'] as const;

/** The JSON Schema (draft 2020-12) of relay.config.json, as committed in relay.config.schema.json. */
export function relayConfigJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(RelayConfigSchema, { io: 'input' }),
    title: 'Secret Relay configuration',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation: every problem, with its JSON path
// ---------------------------------------------------------------------------------------------------------------

/** Constant codes of config problems (errors and warnings). */
export const CONFIG_PROBLEM_CODES = [
  'CONFIG_NOT_JSON',
  'SCHEMA_INVALID_TYPE',
  'SCHEMA_INVALID_VALUE',
  'SCHEMA_INVALID_FORMAT',
  'SCHEMA_OUT_OF_RANGE',
  'SCHEMA_UNKNOWN_FIELD',
  'SCHEMA_MISSING_FIELD',
  'SCHEMA_INVALID_KEY',
  'DUPLICATE_ID',
  'UNKNOWN_REFERENCE',
  'VAULT_URL_INVALID',
  'VAULT_URL_NOT_HTTPS',
  'VAULT_URL_NOT_AZURE',
  'DUPLICATE_SOURCE_VAULT',
  'SERVER_URL_INVALID',
  'SERVER_URL_NOT_HTTPS',
  'CA_CERT_CONFLICT',
  'VAR_RESERVED',
  'GLOB_INVALID',
  'NAME_COLLISION',
  'NAME_COLLISION_POSSIBLE',
  'ROUTING_LOOP',
  'FIELD_NOT_APPLICABLE',
  'TLS_UNVERIFIED',
  'UNUSED_SOURCE',
  'UNUSED_TARGET',
  ...TEMPLATE_PROBLEM_CODES,
] as const;
export type ConfigProblemCode = (typeof CONFIG_PROBLEM_CODES)[number];

export interface ConfigProblem {
  /** JSON path of the offending value, e.g. `$.routes[1].targets[0].name`. */
  readonly path: string;
  readonly code: ConfigProblemCode;
  /** Detail for the operator. Never contains a secret value (the config holds none). */
  readonly message: string;
}

export type ConfigValidation =
  | { readonly ok: true; readonly config: RelayConfig; readonly warnings: ConfigProblem[] }
  | { readonly ok: false; readonly problems: ConfigProblem[]; readonly warnings: ConfigProblem[] };

/** Key Vault DNS suffixes of the Azure clouds (public, China, US Government). */
export const AZURE_VAULT_SUFFIXES = ['.vault.azure.net', '.vault.azure.cn', '.vault.usgovcloudapi.net'] as const;

/** Formats a path (keys and indexes) as a JSON path: `$.routes[1].targets[0].name`. */
export function toJsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    const text = String(key);
    return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(text) ? `${out}.${text}` : `${out}[${JSON.stringify(text)}]`;
  }, '$');
}

/** The lowercase host (with a non-default port) of a URL, or undefined when it does not parse. */
export function vaultHostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The values a route target's templates can use for one source secret: the target's `vars`, then `{source}`,
 * `{target}` and `{name}` (which always win over a var of the same name).
 */
export function templateValues(routeSourceId: string, target: TargetConfig, name: string): Record<string, string> {
  return { ...target.vars, source: routeSourceId, target: target.id, name };
}

/**
 * Validates a parsed relay.config.json and applies defaults. Reports every problem, not the first: schema errors
 * with their paths, duplicate ids, unknown references, vault URLs, name templates that can produce invalid names,
 * names that collide in one vault (Key Vault names are case-insensitive), and routing loops (a route writing into a
 * source vault whose routes would match the written name). Warnings never make the config invalid.
 */
export function validateConfig(raw: unknown): ConfigValidation {
  const v = new Validation();
  const root = RelayConfigRootSchema.safeParse(raw);
  if (!root.success) v.schemaIssues(root.error.issues, []);
  const rawRoot = isRecord(raw) ? raw : {};
  const mode = root.success ? root.data.mode : rawRoot['mode'] === 'local' ? 'local' : 'azure';

  const rawSources = arrayAt(rawRoot, 'sources');
  const rawTargets = arrayAt(rawRoot, 'targets');
  const rawRoutes = arrayAt(rawRoot, 'routes');
  const sources = v.parseEach(rawSources, SourceConfigSchema, 'sources');
  const targets = v.parseEach(rawTargets, TargetConfigSchema, 'targets');
  const routes = v.parseEach(rawRoutes, RouteConfigSchema, 'routes', 'targets');

  v.duplicateIds(rawSources, 'sources');
  v.duplicateIds(rawTargets, 'targets');
  v.duplicateIds(rawRoutes, 'routes');

  const ctx: Context = {
    mode,
    sources,
    targets,
    routes,
    rawRoutes,
    rawTargets,
    sourceIds: new Set(idsOf(rawSources)),
    targetById: firstById(targets),
    rawTargetIds: new Set(idsOf(rawTargets)),
  };
  v.sources(ctx);
  v.targets(ctx);
  const entries = v.routes(ctx);
  v.collisions(entries);
  v.loops(ctx, entries);
  v.rawReferences(ctx);
  v.unused(ctx);

  if (v.problems.length === 0 && root.success && !v.salvaged) {
    const config: RelayConfig = {
      ...root.data,
      sources: sources.map((s) => s.value),
      targets: targets.map((t) => t.value),
      routes: routes.map((r) => r.value),
    };
    return { ok: true, config, warnings: v.warnings };
  }
  return { ok: false, problems: v.problems, warnings: v.warnings };
}

interface Indexed<T> {
  readonly index: number;
  readonly value: T;
  /**
   * Set when the element failed the schema and was salvaged for the semantic checks: the original index of each
   * remaining element of its list field (a route's `targets`), since unusable elements were left out.
   */
  readonly listIndexes?: readonly number[];
}

interface Context {
  readonly mode: 'azure' | 'local';
  readonly sources: readonly Indexed<SourceConfig>[];
  readonly targets: readonly Indexed<TargetConfig>[];
  readonly routes: readonly Indexed<RouteConfig>[];
  readonly rawRoutes: readonly unknown[];
  readonly rawTargets: readonly unknown[];
  readonly sourceIds: ReadonlySet<string>;
  readonly targetById: ReadonlyMap<string, TargetConfig>;
  readonly rawTargetIds: ReadonlySet<string>;
}

/** A route target whose templates validated, with what collision and loop checks need. */
interface Entry {
  readonly path: string;
  readonly routeIndex: number;
  readonly sourceId: string;
  readonly target: TargetConfig;
  /** Target names as globs: concrete rendered names, and patterns with `{name}` replaced by a route glob. */
  readonly items: readonly Item[];
  /** The name template with concrete variables rendered and `{name…}` kept: equal shapes give equal names. */
  readonly shape: string;
  readonly usesName: boolean;
}

interface Item {
  readonly pattern: string;
  readonly concrete: boolean;
  /** The source name a concrete item was rendered from (absent when the template has no `{name}`). */
  readonly sourceName?: string;
}

const SENTINEL = '\u0000';

/** One Kubernetes Secret key a route target writes for one concrete source secret (config check, collisions). */
interface KubernetesSlot {
  readonly path: string;
  readonly targetId: string;
  readonly secretName: string;
  /** The data key, or `*` for a typed Secret (its fixed keys and its type occupy the whole Secret). */
  readonly key: string;
  readonly sourceId: string;
  /** Undefined when the templates use no `{name}`: every matching secret lands here. */
  readonly sourceName?: string;
}

class Validation {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  private readonly kubernetesSlots: KubernetesSlot[] = [];

  error(path: string, code: ConfigProblemCode, message: string): void {
    this.problems.push({ path, code, message });
  }

  warn(path: string, code: ConfigProblemCode, message: string): void {
    this.warnings.push({ path, code, message });
  }

  schemaIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): void {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.error(toJsonPath([...path, key]), 'SCHEMA_UNKNOWN_FIELD', `unknown field "${key}"`);
        continue;
      }
      if (issue.code === 'invalid_type' && issue.input === undefined) {
        const field = path.at(-1);
        this.error(toJsonPath(path), 'SCHEMA_MISSING_FIELD', typeof field === 'string' ? `the required field "${field}" is missing` : 'a required value is missing');
        continue;
      }
      this.error(toJsonPath(path), schemaCode(issue.code), humanMessage(issue));
    }
  }

  /** True when some element was only salvaged: the config is then invalid even if no problem was recorded. */
  salvaged = false;

  /**
   * Parses each element on its own. An element that fails the schema is reported, then salvaged when its problems
   * are in fields no semantic check reads (or in list elements that can be left out), so that one schema error does
   * not hide the reference, template, collision and loop problems of the rest of the element.
   */
  parseEach<T>(items: readonly unknown[], schema: z.ZodType<T>, section: string, listField?: string): Indexed<T>[] {
    const out: Indexed<T>[] = [];
    items.forEach((item, index) => {
      const parsed = schema.safeParse(item, { reportInput: true });
      if (parsed.success) {
        out.push({ index, value: parsed.data });
        return;
      }
      this.schemaIssues(parsed.error.issues, [section, index]);
      const salvaged = salvage(schema, item, parsed.error.issues, listField);
      if (salvaged) {
        this.salvaged = true;
        out.push({ index, ...salvaged });
      }
    });
    return out;
  }

  /** Reference checks for what the schema pass left out: routes that could not be parsed, dropped route targets. */
  rawReferences(ctx: Context): void {
    const parsed = new Map(ctx.routes.map((r) => [r.index, r] as const));
    ctx.rawRoutes.forEach((raw, ri) => {
      if (!isRecord(raw)) return;
      const route = parsed.get(ri);
      if (!route && typeof raw['source'] === 'string' && raw['source'] !== '' && !ctx.sourceIds.has(raw['source'])) {
        this.error(toJsonPath(['routes', ri, 'source']), 'UNKNOWN_REFERENCE', `no source has id "${raw['source']}"`);
      }
      const list = Array.isArray(raw['targets']) ? raw['targets'] : [];
      list.forEach((entry: unknown, ti) => {
        const covered = route && (route.listIndexes ? route.listIndexes.includes(ti) : true);
        if (covered || !isRecord(entry)) return;
        const targetId = entry['target'];
        if (typeof targetId === 'string' && targetId !== '' && !ctx.rawTargetIds.has(targetId)) {
          this.error(toJsonPath(['routes', ri, 'targets', ti, 'target']), 'UNKNOWN_REFERENCE', `no target has id "${targetId}"`);
        }
      });
    });
  }

  duplicateIds(items: readonly unknown[], section: string): void {
    const seen = new Map<string, number>();
    items.forEach((item, index) => {
      const itemId = isRecord(item) && typeof item['id'] === 'string' ? item['id'] : undefined;
      if (itemId === undefined) return;
      const first = seen.get(itemId);
      if (first === undefined) seen.set(itemId, index);
      else this.error(toJsonPath([section, index, 'id']), 'DUPLICATE_ID', `id "${itemId}" is already used by ${toJsonPath([section, first])}`);
    });
  }

  vaultUrl(url: string, path: string, mode: Context['mode']): void {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      this.error(path, 'VAULT_URL_INVALID', 'not a URL; expected e.g. https://contoso.vault.azure.net');
      return;
    }
    if (!['https:', 'http:'].includes(parsed.protocol) || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
      this.error(path, 'VAULT_URL_INVALID', 'a vault URL is an origin only, e.g. https://contoso.vault.azure.net');
      return;
    }
    if (mode === 'local') return;
    if (parsed.protocol !== 'https:') this.error(path, 'VAULT_URL_NOT_HTTPS', 'vault URLs must use https (http is allowed only with mode "local")');
    const host = parsed.hostname.toLowerCase();
    if (!AZURE_VAULT_SUFFIXES.some((suffix) => host.endsWith(suffix) && host.length > suffix.length)) {
      this.error(path, 'VAULT_URL_NOT_AZURE', `host "${host}" is not an Azure Key Vault host (${AZURE_VAULT_SUFFIXES.join(', ')}); use mode "local" for emulators`);
    }
  }

  sources(ctx: Context): void {
    const byHost = new Map<string, number>();
    for (const { index, value } of ctx.sources) {
      const path = toJsonPath(['sources', index, 'vaultUrl']);
      this.vaultUrl(value.vaultUrl, path, ctx.mode);
      const host = vaultHostOf(value.vaultUrl);
      if (host === undefined) continue;
      const first = byHost.get(host);
      if (first === undefined) byHost.set(host, index);
      else this.error(path, 'DUPLICATE_SOURCE_VAULT', `vault "${host}" is already the source ${toJsonPath(['sources', first])}; one source per vault`);
    }
  }

  targets(ctx: Context): void {
    for (const { index, value } of ctx.targets) {
      for (const reserved of BUILTIN_TEMPLATE_VARIABLES) {
        if (Object.hasOwn(value.vars, reserved)) {
          this.error(toJsonPath(['targets', index, 'vars', reserved]), 'VAR_RESERVED', `{${reserved}} is built in and cannot be set in vars`);
        }
      }
      if (value.kind === 'keyVault') {
        this.vaultUrl(value.vaultUrl, toJsonPath(['targets', index, 'vaultUrl']), ctx.mode);
        continue;
      }
      const cluster = value.cluster;
      const serverPath = toJsonPath(['targets', index, 'cluster', 'server']);
      try {
        const server = new URL(cluster.server);
        if (server.protocol !== 'https:' && ctx.mode !== 'local') {
          this.error(serverPath, 'SERVER_URL_NOT_HTTPS', 'the API server URL must use https (http is allowed only with mode "local")');
        } else if (!['https:', 'http:'].includes(server.protocol)) {
          this.error(serverPath, 'SERVER_URL_INVALID', 'the API server URL must be http(s)');
        }
      } catch {
        this.error(serverPath, 'SERVER_URL_INVALID', 'not a URL; expected e.g. https://edge-1.example:6443');
      }
      if (cluster.caCert !== undefined && cluster.caCertPath !== undefined) {
        this.error(toJsonPath(['targets', index, 'cluster', 'caCertPath']), 'CA_CERT_CONFLICT', 'set caCert or caCertPath, not both');
      }
      if (cluster.auth.type !== 'aad' && !ctx.sourceIds.has(cluster.auth.source)) {
        this.error(toJsonPath(['targets', index, 'cluster', 'auth', 'source']), 'UNKNOWN_REFERENCE', `no source has id "${cluster.auth.source}"`);
      }
    }
  }

  routes(ctx: Context): Entry[] {
    const entries: Entry[] = [];
    for (const { index: ri, value: route, listIndexes } of ctx.routes) {
      if (!ctx.sourceIds.has(route.source)) {
        this.error(toJsonPath(['routes', ri, 'source']), 'UNKNOWN_REFERENCE', `no source has id "${route.source}"`);
      }
      const globs: string[] = [];
      route.match.globs.forEach((glob, gi) => {
        if (isValidGlob(glob)) globs.push(glob);
        else this.error(toJsonPath(['routes', ri, 'match', 'globs', gi]), 'GLOB_INVALID', 'globs use Key Vault name characters (letters, digits, "-") and the wildcards "*" and "?"');
      });
      this.rotator(ctx, ri, route);
      const match = { names: route.match.names, globs };
      route.targets.forEach((rt, k) => {
        const ti = listIndexes?.[k] ?? k;
        const target = ctx.targetById.get(rt.target);
        if (!target) {
          if (!ctx.rawTargetIds.has(rt.target)) {
            this.error(toJsonPath(['routes', ri, 'targets', ti, 'target']), 'UNKNOWN_REFERENCE', `no target has id "${rt.target}"`);
          }
          return;
        }
        const entry = this.routeTarget(ctx, ri, ti, route, rt, target, match);
        if (entry) entries.push(entry);
      });
    }
    return entries;
  }

  /** The rotator's references (source ids, URLs); connection secrets are references, checked to exist in the config. */
  private rotator(ctx: Context, ri: number, route: RouteConfig): void {
    const rotation = route.rotation;
    if (!rotation) return;
    const base = ['routes', ri, 'rotation', 'rotator'] as const;
    const rotator = rotation.rotator;
    const rawRotation = isRecord(ctx.rawRoutes[ri]) ? (ctx.rawRoutes[ri] as Record<string, unknown>)['rotation'] : undefined;
    if (rotator.kind === 'generate') {
      if (isRecord(rawRotation) && Object.hasOwn(rawRotation, 'retirement')) {
        this.warn(toJsonPath(['routes', ri, 'rotation', 'retirement']), 'FIELD_NOT_APPLICABLE', '"retirement" applies to the postgres and webhook rotators only (two slots)');
      }
      return;
    }
    const reference = rotator.kind === 'postgres' ? { at: 'adminPassword', ref: rotator.adminPassword } : rotator.auth.type === 'hmac' ? { at: 'auth.key', ref: rotator.auth.key } : undefined;
    if (reference && !ctx.sourceIds.has(reference.ref.source)) {
      this.error(toJsonPath([...base, ...reference.at.split('.'), 'source']), 'UNKNOWN_REFERENCE', `no source has id "${reference.ref.source}"`);
    }
    if (rotator.kind === 'postgres') {
      if (rotator.tls === 'disable' && ctx.mode !== 'local') {
        this.error(toJsonPath([...base, 'tls']), 'SERVER_URL_NOT_HTTPS', 'tls "disable" is allowed only with mode "local"');
      }
      if (rotator.tls === 'require' && ctx.mode !== 'local') {
        // Encrypted but unauthenticated: whoever answers for the host name receives the admin password.
        this.warn(toJsonPath([...base, 'tls']), 'TLS_UNVERIFIED', 'tls "require" does not check the server certificate; use "verify-full" outside local mode');
      }
      return;
    }
    const urlPath = toJsonPath([...base, 'url']);
    try {
      const url = new URL(rotator.url);
      if (url.protocol !== 'https:' && !(ctx.mode === 'local' && url.protocol === 'http:')) {
        this.error(urlPath, 'SERVER_URL_NOT_HTTPS', 'the owner endpoint must use https (http is allowed only with mode "local")');
      }
    } catch {
      this.error(urlPath, 'SERVER_URL_INVALID', 'not a URL; expected e.g. https://bmc-rotator.example/rotate');
    }
    if (rotator.ownerVaultUrl !== undefined) this.vaultUrl(rotator.ownerVaultUrl, toJsonPath([...base, 'ownerVaultUrl']), ctx.mode);
  }

  private routeTarget(
    ctx: Context,
    ri: number,
    ti: number,
    route: RouteConfig,
    rt: RouteTargetConfig,
    target: TargetConfig,
    match: { names: readonly string[]; globs: readonly string[] },
  ): Entry | undefined {
    const base = ['routes', ri, 'targets', ti] as const;
    const namePath = toJsonPath([...base, 'name']);
    const rawEntry = targetEntryAt(ctx.rawRoutes, ri, ti);
    const nameOk =
      target.kind === 'keyVault'
        ? this.template(rt.name, 'keyVaultName', namePath, route, target, match)
        : this.template(rt.name, 'k8sSecretName', namePath, route, target, match);
    if (target.kind === 'kubernetes') {
      const keyTemplate = rt.key ?? '{name}';
      const keyPath = toJsonPath([...base, 'key']);
      const keyOk = this.template(keyTemplate, 'k8sKey', keyPath, route, target, match);
      // Only a collision when the Secret name does not separate the secrets either.
      if (keyOk && !usesVariable(keyTemplate, 'name') && !usesVariable(rt.name, 'name') && canMatchSeveral(match)) {
        this.error(keyPath, 'NAME_COLLISION', 'neither the name nor the key template has {name}, so every matching secret would be written to the same key of the same Secret');
      }
      if (nameOk && keyOk) this.recordKubernetesSlots(toJsonPath(rt.type === 'Opaque' ? [...base, 'key'] : [...base, 'name']), route, rt, target, keyTemplate, match);
      return undefined;
    }
    for (const field of ['key', 'type', 'versionsToKeep', 'restartDeployments']) {
      if (rawEntry && Object.hasOwn(rawEntry, field)) {
        this.warn(toJsonPath([...base, field]), 'FIELD_NOT_APPLICABLE', `"${field}" applies to Kubernetes targets only and is ignored for Key Vault target "${target.id}"`);
      }
    }
    if (!nameOk) return undefined;
    const usesName = usesVariable(rt.name, 'name');
    const values = (name: string) => templateValues(route.source, target, name);
    const items = usesName
      ? [
          ...match.names.map((n) => ({ pattern: renderTemplate(rt.name, values(n)), concrete: true, sourceName: n })),
          ...(match.names.length === 0 && match.globs.length === 0 ? ['*'] : match.globs).map((g) => ({
            pattern: renderTemplate(rt.name, values(g)),
            concrete: false,
          })),
        ]
      : [{ pattern: renderTemplate(rt.name, values('')), concrete: true }];
    if (!usesName && canMatchSeveral(match)) {
      const certain = match.names.length > 1;
      const message = 'the name template has no {name}, so every matching secret would be written to the same Key Vault secret';
      if (certain) this.error(namePath, 'NAME_COLLISION', message);
      else this.warn(namePath, 'NAME_COLLISION_POSSIBLE', message);
    }
    return { path: namePath, routeIndex: ri, sourceId: route.source, target, items, shape: nameShape(rt.name, values(SENTINEL)), usesName };
  }

  /** Validates one template for every kind of `{name}` the route can produce; true when there is no error. */
  private template(
    template: string,
    kind: TemplateKind,
    path: string,
    route: RouteConfig,
    target: TargetConfig,
    match: { names: readonly string[]; globs: readonly string[] },
  ): boolean {
    const cases: { name: string | OpenVariable; label?: string }[] = [];
    if (!usesVariable(template, 'name')) cases.push({ name: ANY_KEY_VAULT_NAME });
    else {
      for (const name of match.names) cases.push({ name, label: `source name "${name}"` });
      for (const glob of match.globs) cases.push({ name: openVariableOfGlob(glob), label: `glob "${glob}"` });
      if (match.names.length === 0 && match.globs.length === 0) cases.push({ name: ANY_KEY_VAULT_NAME });
    }
    const seen = new Set<string>();
    let ok = true;
    for (const c of cases) {
      const variables = { ...target.vars, source: route.source, target: target.id, name: c.name };
      const result = validateTemplate(template, { kind, variables });
      ok &&= result.ok;
      const report = (p: TemplateProblem, warning: boolean): void => {
        const message = c.label && !UNIVERSAL.has(p.code) ? `${c.label}: ${p.message}` : p.message;
        const key = `${warning}|${p.code}|${message}`;
        if (seen.has(key)) return;
        seen.add(key);
        if (warning) this.warn(path, p.code, message);
        else this.error(path, p.code, message);
      };
      result.errors.forEach((p) => report(p, false));
      result.warnings.forEach((p) => report(p, true));
    }
    return ok;
  }

  /** The Secret keys a Kubernetes route target writes for the source names it can render concretely. */
  private recordKubernetesSlots(
    path: string,
    route: RouteConfig,
    rt: RouteTargetConfig,
    target: TargetConfig,
    keyTemplate: string,
    match: { names: readonly string[] },
  ): void {
    const constant = !usesVariable(rt.name, 'name') && !usesVariable(keyTemplate, 'name');
    const names: (string | undefined)[] = constant ? [undefined] : [...match.names];
    for (const sourceName of names) {
      const values = templateValues(route.source, target, sourceName ?? '');
      this.kubernetesSlots.push({
        path,
        targetId: target.id,
        secretName: renderTemplate(rt.name, values),
        key: rt.type === 'Opaque' ? renderTemplate(keyTemplate, values) : '*',
        sourceId: route.source,
        ...(sourceName !== undefined ? { sourceName } : {}),
      });
    }
  }

  /** Two routes writing the same key of the same Secret (or one typed Secret) for different source secrets. */
  private kubernetesCollisions(): void {
    const reported = new Set<string>();
    const slots = this.kubernetesSlots;
    for (let j = 1; j < slots.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = slots[i]!;
        const b = slots[j]!;
        if (a.path === b.path || a.targetId !== b.targetId || a.secretName !== b.secretName) continue;
        if (a.key !== b.key && a.key !== '*' && b.key !== '*') continue;
        const sameSecret = a.sourceId === b.sourceId && a.sourceName !== undefined && a.sourceName.toLowerCase() === b.sourceName?.toLowerCase();
        if (sameSecret || reported.has(b.path)) continue;
        reported.add(b.path);
        const what = a.key === '*' || b.key === '*' ? `the typed Secret "${b.secretName}"` : `key "${b.key}" of Secret "${b.secretName}"`;
        this.error(b.path, 'NAME_COLLISION', `writes ${what} on target "${b.targetId}", which ${a.path} also writes for another source secret`);
      }
    }
  }

  collisions(entries: readonly Entry[]): void {
    this.kubernetesCollisions();
    const byVault = new Map<string, Entry[]>();
    for (const entry of entries) {
      if (entry.target.kind !== 'keyVault') continue;
      const host = vaultHostOf(entry.target.vaultUrl) ?? entry.target.vaultUrl.toLowerCase();
      byVault.set(host, [...(byVault.get(host) ?? []), entry]);
    }
    for (const [host, group] of byVault) {
      for (let j = 1; j < group.length; j++) {
        for (let i = 0; i < j; i++) this.collision(host, group[i]!, group[j]!);
      }
    }
  }

  private collision(host: string, a: Entry, b: Entry): void {
    const sameShape = a.sourceId === b.sourceId && a.shape === b.shape && a.usesName && b.usesName;
    const shapesEqualIgnoringCase = normalizeShape(a.shape) === normalizeShape(b.shape);
    for (const x of a.items) {
      for (const y of b.items) {
        if (x.concrete && y.concrete) {
          if (x.pattern.toLowerCase() !== y.pattern.toLowerCase()) continue;
          // The same source secret rendered identically by two routes is one delivery, not a collision.
          const sameSecret = a.sourceId === b.sourceId && x.sourceName !== undefined && x.sourceName.toLowerCase() === y.sourceName?.toLowerCase();
          if (sameSecret && x.pattern === y.pattern) continue;
          const how = x.pattern === y.pattern ? `the same name "${x.pattern}"` : `names that differ only in case ("${x.pattern}", "${y.pattern}")`;
          this.error(b.path, 'NAME_COLLISION', `writes ${how} in vault ${host} as ${a.path}; Key Vault names are case-insensitive`);
          return;
        }
        if (!globsIntersect(x.pattern, y.pattern) || sameShape) continue;
        if (shapesEqualIgnoringCase) {
          this.error(b.path, 'NAME_COLLISION', `can write the same names as ${a.path} in vault ${host} ("${y.pattern}" overlaps "${x.pattern}", templates equal ignoring case)`);
        } else {
          this.warn(b.path, 'NAME_COLLISION_POSSIBLE', `names "${y.pattern}" may overlap "${x.pattern}" of ${a.path} in vault ${host}`);
        }
        return;
      }
    }
  }

  loops(ctx: Context, entries: readonly Entry[]): void {
    const sourceIdsByHost = new Map<string, string[]>();
    for (const { value } of ctx.sources) {
      const host = vaultHostOf(value.vaultUrl);
      if (host) sourceIdsByHost.set(host, [...(sourceIdsByHost.get(host) ?? []), value.id]);
    }
    for (const entry of entries) {
      if (entry.target.kind !== 'keyVault') continue;
      const host = vaultHostOf(entry.target.vaultUrl);
      const sourceIds = host ? sourceIdsByHost.get(host) : undefined;
      if (!sourceIds) continue;
      for (const { index, value: other } of ctx.routes) {
        if (!sourceIds.includes(other.source)) continue;
        const patterns = routeNamePatterns({ names: other.match.names, globs: other.match.globs.filter(isValidGlob) });
        const hit = entry.items.find((item) => patterns.some((p) => globsIntersect(item.pattern, p)));
        if (!hit) continue;
        this.error(
          entry.path.replace(/\.name$/, '.target'),
          'ROUTING_LOOP',
          `writes "${hit.pattern}" into vault ${host}, which is source "${other.source}"; ${toJsonPath(['routes', index])} ("${other.id}") would match it and relay it again`,
        );
      }
    }
  }

  unused(ctx: Context): void {
    // From the raw routes: a route that failed the schema still uses what it names (no false "unused" warning).
    const rawStrings = (items: readonly unknown[], key: string) =>
      items.flatMap((item) => (isRecord(item) && typeof item[key] === 'string' ? [item[key]] : []));
    const rawRouteTargets = ctx.rawRoutes.flatMap((r) => (isRecord(r) && Array.isArray(r['targets']) ? r['targets'] : []));
    const usedTargets = new Set(rawStrings(rawRouteTargets, 'target'));
    const usedSources = new Set(rawStrings(ctx.rawRoutes, 'source'));
    for (const raw of ctx.rawTargets) {
      const auth = isRecord(raw) && isRecord(raw['cluster']) ? raw['cluster']['auth'] : undefined;
      if (isRecord(auth) && typeof auth['source'] === 'string') usedSources.add(auth['source']);
    }
    for (const { index, value } of ctx.targets) {
      if (!usedTargets.has(value.id)) this.warn(toJsonPath(['targets', index, 'id']), 'UNUSED_TARGET', `no route delivers to target "${value.id}"`);
    }
    for (const { index, value } of ctx.sources) {
      if (!usedSources.has(value.id)) this.warn(toJsonPath(['sources', index, 'id']), 'UNUSED_SOURCE', `no route reads from source "${value.id}"`);
    }
  }
}

/** Template problems that do not depend on the value of `{name}` (reported once, without naming a case). */
const UNIVERSAL = new Set<string>(['TEMPLATE_SYNTAX', 'TEMPLATE_UNKNOWN_VARIABLE', 'TEMPLATE_UNKNOWN_FILTER', 'TEMPLATE_ILLEGAL_LITERAL', 'TEMPLATE_ILLEGAL_VARIABLE_VALUE', 'TEMPLATE_NEEDS_LOWER', 'TEMPLATE_EMPTY']);

/**
 * Fields no semantic check reads: when one fails the schema, the element is still checked with the field's default.
 * At the top of an element, or of an element of its list field (a route's targets).
 */
const NEUTRAL_FIELDS = new Set(['$schema', 'identity', 'writeBudget', 'rotation', 'adopt', 'recoverDeleted', 'versionsToKeep', 'type', 'restartDeployments']);
/** Record fields whose bad entries can be left out without changing what the checks see of the other entries. */
const RECORD_FIELDS = new Set(['vars']);

/**
 * A copy of `raw` without what made it fail, parsed again; undefined when a failing field matters to the semantic
 * checks (ids, URLs, match, templates). Unknown fields, bad `vars` entries and neutral fields are removed; an
 * element of `listField` with any other problem is left out, and `listIndexes` maps the rest to their indexes.
 */
function salvage<T>(
  schema: z.ZodType<T>,
  raw: unknown,
  issues: readonly z.core.$ZodIssue[],
  listField: string | undefined,
): { value: T; listIndexes?: number[] } | undefined {
  if (!isRecord(raw)) return undefined;
  const copy = structuredClone(raw);
  const dropped = new Set<number>();
  const inList = (path: readonly PropertyKey[]) => listField !== undefined && path[0] === listField && typeof path[1] === 'number';
  for (const issue of issues) {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) deleteAt(copy, [...path, key]);
      continue;
    }
    const depth = inList(path) ? 2 : 0;
    const field = path[depth];
    if (typeof field === 'string' && NEUTRAL_FIELDS.has(field)) deleteAt(copy, path.slice(0, depth + 1));
    else if (typeof field === 'string' && RECORD_FIELDS.has(field) && path.length > depth + 1) deleteAt(copy, path.slice(0, depth + 2));
    else if (depth === 2) dropped.add(path[1] as number);
    else return undefined;
  }
  let listIndexes: number[] | undefined;
  if (listField !== undefined && Array.isArray(copy[listField])) {
    const list = copy[listField] as unknown[];
    listIndexes = list.map((_, i) => i).filter((i) => !dropped.has(i));
    copy[listField] = listIndexes.map((i) => list[i]);
  }
  const again = schema.safeParse(copy);
  if (!again.success) return undefined;
  return listIndexes ? { value: again.data, listIndexes } : { value: again.data };
}

function deleteAt(root: Record<string, unknown>, path: readonly PropertyKey[]): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) node = isRecord(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[key] : undefined;
  const last = path.at(-1);
  if (isRecord(node) && last !== undefined) delete node[last as string];
}

const TYPE_NAMES: Record<string, string> = { string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', array: 'an array', object: 'an object', record: 'an object' };

/** What a JSON value is, in words (never the value itself). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return Number.isInteger(value) ? `the number ${value}` : 'a number';
  return TYPE_NAMES[typeof value] ?? typeof value;
}

const quoteList = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');

/** A zod issue as a sentence for the operator. Messages the schema wrote itself (formats, refinements) are kept. */
function humanMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return `must be ${expected}, not ${kindOf(issue.input)}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${quoteList(issue.values)}` : `must be one of ${quoteList(issue.values)}`;
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      return Array.isArray(options) ? `must be one of ${quoteList(options)}` : 'does not match any of the allowed forms';
    }
    case 'too_small':
    case 'too_big': {
      const atLeast = issue.code === 'too_small';
      const bound = atLeast ? issue.minimum : issue.maximum;
      const word = atLeast ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'fewer than' : 'at most';
      if (issue.origin === 'array') return `must have ${word} ${bound} item${Number(bound) === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return atLeast && Number(bound) === 1 ? 'must not be empty' : `must have ${word} ${bound} characters`;
      return `must be ${atLeast ? (issue.inclusive === false ? 'greater than' : 'at least') : issue.inclusive === false ? 'less than' : 'at most'} ${bound}`;
    }
    case 'invalid_key': {
      const key = issue.path.at(-1);
      return `the key ${JSON.stringify(String(key))} is not allowed: ${issue.issues[0]?.message ?? 'invalid key'}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

function schemaCode(code: string): ConfigProblemCode {
  switch (code) {
    case 'invalid_type':
      return 'SCHEMA_INVALID_TYPE';
    case 'too_big':
    case 'too_small':
    case 'not_multiple_of':
      return 'SCHEMA_OUT_OF_RANGE';
    case 'invalid_format':
    case 'custom':
      return 'SCHEMA_INVALID_FORMAT';
    case 'invalid_key':
      return 'SCHEMA_INVALID_KEY';
    default:
      return 'SCHEMA_INVALID_VALUE';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayAt(root: Record<string, unknown>, key: string): unknown[] {
  const value = root[key];
  return Array.isArray(value) ? value : [];
}

function idsOf(items: readonly unknown[]): string[] {
  return items.flatMap((item) => (isRecord(item) && typeof item['id'] === 'string' ? [item['id']] : []));
}

function firstById(targets: readonly Indexed<TargetConfig>[]): Map<string, TargetConfig> {
  const map = new Map<string, TargetConfig>();
  for (const { value } of targets) if (!map.has(value.id)) map.set(value.id, value);
  return map;
}

function targetEntryAt(rawRoutes: readonly unknown[], ri: number, ti: number): Record<string, unknown> | undefined {
  const route = rawRoutes[ri];
  const list = isRecord(route) && Array.isArray(route['targets']) ? route['targets'] : [];
  const entry: unknown = list[ti];
  return isRecord(entry) ? entry : undefined;
}

function usesVariable(template: string, variable: string): boolean {
  const parsed = parseTemplate(template);
  return parsed.ok && templateVariables(parsed.template).includes(variable);
}

function canMatchSeveral(match: { names: readonly string[]; globs: readonly string[] }): boolean {
  const count = match.names.length + match.globs.length;
  return count !== 1 || match.globs.some((g) => /[*?]/.test(g));
}

/** The set of names a glob matches, as an open template variable. */
export function openVariableOfGlob(glob: string): OpenVariable {
  const fixed = [...glob].filter((c) => c !== '*').length;
  const star = glob.includes('*');
  return {
    open: true,
    minLength: Math.max(1, fixed),
    maxLength: star ? KEY_VAULT_NAME_MAX_LENGTH : Math.min(fixed, KEY_VAULT_NAME_MAX_LENGTH),
    canStartWithDash: /^[*?-]/.test(glob),
    canEndWithDash: /[*?-]$/.test(glob),
  };
}

/** The template with concrete variables rendered and each `{name|filters}` kept as written. */
function nameShape(template: string, values: Record<string, string>): string {
  const parsed = parseTemplate(template);
  if (!parsed.ok) return template;
  return parsed.template.parts
    .map((part) => {
      if (part.kind === 'literal') return part.text;
      if (part.variable === 'name') return `{name${part.filters.map((f) => `|${f}`).join('')}}`;
      return renderTemplate({ source: '', parts: [part] }, values);
    })
    .join('');
}

function normalizeShape(shape: string): string {
  return shape.replace(/\{name(\|[a-z]+)*\}/g, '{name}').toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// Config text: JSON syntax errors with line and column, then validation
// ---------------------------------------------------------------------------------------------------------------

const JSON_ERROR_MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":" after the property name',
  CommaExpected: 'expected "," between values',
  CloseBraceExpected: 'expected "}" to close the object',
  CloseBracketExpected: 'expected "]" to close the array',
  EndOfFileExpected: 'unexpected content after the end of the JSON value',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid unicode escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string (control characters must be escaped)',
};

/** Line and column (1-based) of a character offset. */
export function lineColumnOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/**
 * Parses the text of relay.config.json. Strict JSON (no comments, no trailing commas); on failure, every syntax
 * error with its line, column and the JSON path it is in (code CONFIG_NOT_JSON).
 */
export function parseConfigText(text: string): { ok: true; value: unknown } | { ok: false; problems: ConfigProblem[] } {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const errors: ParseError[] = [];
  const value: unknown = parseJsonText(body, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length === 0) return { ok: true, value };
  const problems: ConfigProblem[] = [];
  const offsets = new Set<number>();
  for (const error of errors) {
    // jsonc-parser may report one mistake twice at the same place (e.g. a trailing comma): keep the first.
    if (offsets.has(error.offset)) continue;
    offsets.add(error.offset);
    const { line, column } = lineColumnOf(body, error.offset);
    const name = printParseErrorCode(error.error);
    const trailingComma = (name === 'PropertyNameExpected' || name === 'ValueExpected') && body.slice(0, error.offset).trimEnd().endsWith(',');
    const location = error.offset < body.length ? getLocation(body, error.offset).path : [];
    const path = toJsonPath(location.filter((key) => key !== ''));
    const message = trailingComma ? 'a trailing comma is not allowed in JSON' : (JSON_ERROR_MESSAGES[name] ?? name);
    problems.push({ path, code: 'CONFIG_NOT_JSON', message: `line ${line}, column ${column}: ${message}` });
  }
  return { ok: false, problems };
}

/** {@link parseConfigText} then {@link validateConfig}: every problem of a config file's text in one result. */
export function validateConfigText(text: string): ConfigValidation {
  const parsed = parseConfigText(text);
  if (!parsed.ok) return { ok: false, problems: parsed.problems, warnings: [] };
  return validateConfig(parsed.value);
}
