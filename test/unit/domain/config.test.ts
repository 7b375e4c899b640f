import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, relayConfigJsonSchema, validateConfig, validateConfigText } from '../../../shared/domain/index.js';
import type { ConfigProblem, ConfigValidation } from '../../../shared/domain/index.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../fixtures/config/${name}`, import.meta.url), 'utf8'));

/** A valid default to tweak: one source, a vault target and a cluster target, one route. */
const base = () =>
  ({
    sources: [{ id: 'platform', vaultUrl: 'https://platform.vault.azure.net' }],
    targets: [
      { id: 'contoso', kind: 'keyVault', vaultUrl: 'https://contoso.vault.azure.net', vars: { customer: 'contoso' } },
      {
        id: 'edge',
        kind: 'kubernetes',
        cluster: { name: 'edge-1', server: 'https://edge-1.example:6443', auth: { type: 'aad', serverAppId: '6dae42f8-4368-4678-94ff-3960e28e3630' } },
        namespace: 'apps',
      },
    ],
    routes: [
      {
        id: 'db',
        source: 'platform',
        match: { names: ['db-password'] },
        targets: [{ target: 'contoso', name: '{customer}--{name}' }, { target: 'edge', name: 'db-creds', key: '{name}' }],
      },
    ],
  }) as any;

const codes = (problems: readonly ConfigProblem[]) => problems.map((p) => `${p.code} ${p.path}`);
const problemsOf = (result: ConfigValidation) => (result.ok ? [] : result.problems);

describe('validateConfig: valid configs', () => {
  it('accepts the CONFIG.md example and applies every default', () => {
    const result = validateConfig(fixture('good.json'));
    expect(problemsOf(result)).toEqual([]);
    if (!result.ok) return;
    const { config } = result;
    expect(config.mode).toBe('azure');
    expect(config.targets[0]!.writeBudget).toEqual({ writes: 30, perSeconds: 10 });
    expect(config.routes[0]!.targets[0]).toMatchObject({ adopt: false, recoverDeleted: true, versionsToKeep: 1, type: 'Opaque', restartDeployments: [] });
    expect(config.routes[0]!.rotation).toMatchObject({ generator: 'password', rotateOnNearExpiry: true });
    expect(codes(result.warnings)).toEqual(['TEMPLATE_MAY_BE_TOO_LONG $.routes[0].targets[0].name']);
  });

  it('defaults match, name and mode when absent', () => {
    const raw = base();
    raw.routes[0] = { id: 'all', source: 'platform', targets: [{ target: 'contoso' }] };
    const result = validateConfig(raw);
    expect(problemsOf(result)).toEqual([]);
    if (result.ok) {
      expect(result.config.routes[0]!.match).toEqual({ names: [], globs: [], tags: {} });
      expect(result.config.routes[0]!.targets[0]!.name).toBe('{name}');
    }
  });
});

describe('validateConfig: all problems at once', () => {
  it('reports a loop, a case collision, an invalid template and an unknown reference, with their JSON paths', () => {
    const result = validateConfig(fixture('bad.json'));
    expect(result.ok).toBe(false);
    expect(codes(problemsOf(result))).toEqual(
      expect.arrayContaining([
        'ROUTING_LOOP $.routes[3].targets[0].target',
        'NAME_COLLISION $.routes[1].targets[0].name',
        'TEMPLATE_UNKNOWN_VARIABLE $.routes[2].targets[0].name',
        'TEMPLATE_ILLEGAL_LITERAL $.routes[2].targets[0].name',
        'UNKNOWN_REFERENCE $.routes[2].targets[1].target',
      ]),
    );
    expect(problemsOf(result)).toHaveLength(5);
  });

  it('keeps checking other elements when one fails the schema, without cascading unknown references', () => {
    const raw = base();
    raw.targets[0].kind = 'blob';
    raw.targets[1].namespace = 'Apps';
    raw.routes[0].source = 'platfrom';
    raw.extra = true;
    const result = validateConfig(raw);
    expect(codes(problemsOf(result))).toEqual([
      'SCHEMA_UNKNOWN_FIELD $.extra',
      'SCHEMA_INVALID_VALUE $.targets[0].kind',
      'SCHEMA_INVALID_FORMAT $.targets[1].namespace',
      'UNKNOWN_REFERENCE $.routes[0].source',
    ]);
  });

  it.each([null, [], 'config', 42])('rejects %j as a whole', (raw) => {
    const result = validateConfig(raw);
    expect(result.ok).toBe(false);
    expect(problemsOf(result)[0]?.path).toBe('$');
  });
});

const fixtureText = (name: string): string => readFileSync(new URL(`../../fixtures/config/${name}`, import.meta.url), 'utf8');
const lines = (problems: readonly ConfigProblem[]) => problems.map((p) => `${p.code} ${p.path}: ${p.message}`);

describe('validateConfigText: every kind of problem in one run', () => {
  it.each<[string, string[]]>([
    [
      'many-problems.json (schema errors next to reference, template and loop errors)',
      [
        'SCHEMA_MISSING_FIELD $.sources[2].vaultUrl: the required field "vaultUrl" is missing',
        'SCHEMA_OUT_OF_RANGE $.targets[0].writeBudget.writes: must be at least 1',
        'SCHEMA_UNKNOWN_FIELD $.targets[3].namespce: unknown field "namespce"',
        'SCHEMA_UNKNOWN_FIELD $.routes[0].targets[0].adpot: unknown field "adpot"',
        'SCHEMA_OUT_OF_RANGE $.routes[0].targets[2].versionsToKeep: must be at least 1',
        'SCHEMA_OUT_OF_RANGE $.routes[0].rotation.length: must be at least 8',
        'SCHEMA_INVALID_TYPE $.routes[2].match.names: must be an array, not a string',
        'SCHEMA_MISSING_FIELD $.routes[3].source: the required field "source" is missing',
        'SCHEMA_INVALID_TYPE $.routes[3].targets[0].name: must be a string, not the number 42',
        'UNKNOWN_REFERENCE $.routes[0].targets[1].target: no target has id "nope"',
        'TEMPLATE_UNKNOWN_VARIABLE $.routes[0].targets[2].name: unknown placeholder {tenant} (known: {source}, {target}, {name})',
        'ROUTING_LOOP $.routes[0].targets[0].target: writes "contoso--db-password" into vault contoso.vault.azure.net, which is source "contoso-src"; $.routes[1] ("back") would match it and relay it again',
        'UNKNOWN_REFERENCE $.routes[2].source: no source has id "platfrom"',
      ],
    ],
    [
      'syntax-errors.json (a missing comma and a trailing comma)',
      ['CONFIG_NOT_JSON $.targets[0].kind: line 6, column 23: expected "," between values', 'CONFIG_NOT_JSON $: line 9, column 1: a trailing comma is not allowed in JSON'],
    ],
  ])('%s', (name, expected) => {
    const result = validateConfigText(fixtureText(name.split(' ')[0]!));
    expect(lines(problemsOf(result))).toEqual(expected);
    // The target used only by a route that failed the schema is not "unused".
    expect(result.warnings).toEqual([]);
  });

  it.each<[string, string, string]>([
    ['a missing top-level field', '{"sources": [{"id": "p", "vaultUrl": "https://p.vault.azure.net"}], "targets": []}', 'SCHEMA_MISSING_FIELD $.routes: the required field "routes" is missing'],
    ['an unknown mode', '{"mode": "cloud", "sources": [{"id": "p", "vaultUrl": "https://p.vault.azure.net"}], "targets": [], "routes": []}', 'SCHEMA_INVALID_VALUE $.mode: must be one of "azure", "local"'],
    ['an unknown target kind', '{"sources": [{"id": "p", "vaultUrl": "https://p.vault.azure.net"}], "targets": [{"id": "t", "kind": "blob"}], "routes": []}', 'SCHEMA_INVALID_VALUE $.targets[0].kind: must be one of "keyVault", "kubernetes"'],
    ['no sources', '{"sources": [], "targets": [], "routes": []}', 'SCHEMA_OUT_OF_RANGE $.sources: must have at least 1 item'],
    ['a wrong type', '{"sources": [{"id": "p", "vaultUrl": true}], "targets": [], "routes": []}', 'SCHEMA_INVALID_TYPE $.sources[0].vaultUrl: must be a string, not true or false'],
    ['an empty file', '', 'CONFIG_NOT_JSON $: line 1, column 1: expected a value'],
    ['a comment', '{\n  // note\n  "sources": []\n}', 'CONFIG_NOT_JSON $: line 2, column 3: comments are not allowed in JSON'],
    ['an unterminated string', '{"sources": [{"id": "p}]}', 'CONFIG_NOT_JSON $.sources[0].id: line 1, column 21: unterminated string'],
  ])('%s: a message for people', (_label, text, expected) => {
    expect(lines(problemsOf(validateConfigText(text)))).toContain(expected);
  });

  it('parses a file with a byte order mark', () => {
    expect(parseConfigText('\uFEFF{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('checks the other targets of a route when one route target is unusable, with their own indexes', () => {
    const raw = base();
    raw.routes[0].targets = [42, { target: 'nope' }, { target: 'contoso', name: '{tenant}-{name}', adopt: 'yes' }, { target: 'edge', name: 7 }];
    expect(codes(problemsOf(validateConfig(raw)))).toEqual([
      'SCHEMA_INVALID_TYPE $.routes[0].targets[0]',
      'SCHEMA_INVALID_TYPE $.routes[0].targets[2].adopt',
      'SCHEMA_INVALID_TYPE $.routes[0].targets[3].name',
      'UNKNOWN_REFERENCE $.routes[0].targets[1].target',
      'TEMPLATE_UNKNOWN_VARIABLE $.routes[0].targets[2].name',
    ]);
  });

  it('does not warn about a target whose only route fails the schema', () => {
    const raw = base();
    raw.targets.push({ id: 'spare', kind: 'keyVault', vaultUrl: 'https://spare.vault.azure.net' });
    raw.routes.push({ id: 'r2', source: 'platform', match: { names: 42 }, targets: [{ target: 'spare' }] });
    const result = validateConfig(raw);
    expect(codes(problemsOf(result))).toEqual(['SCHEMA_INVALID_TYPE $.routes[1].match.names']);
    expect(codes(result.warnings)).toEqual([]);
  });
});

type Tweak = (c: any) => void;
describe('validateConfig: one tweak, one problem', () => {
  it.each<[string, Tweak, string[]]>([
    ['a missing source id (its routes then refer to nothing)', (c) => delete c.sources[0].id, ['SCHEMA_MISSING_FIELD $.sources[0].id', 'UNKNOWN_REFERENCE $.routes[0].source']],
    ['a misspelt field', (c) => (c.routes[0].targets[0].adpot = true), ['SCHEMA_UNKNOWN_FIELD $.routes[0].targets[0].adpot']],
    ['an unknown Secret type', (c) => (c.routes[0].targets[1].type = 'Basic'), ['SCHEMA_INVALID_VALUE $.routes[0].targets[1].type']],
    ['versionsToKeep 0', (c) => (c.routes[0].targets[1].versionsToKeep = 0), ['SCHEMA_OUT_OF_RANGE $.routes[0].targets[1].versionsToKeep']],
    ['a route without targets', (c) => (c.routes[0].targets = []), ['SCHEMA_OUT_OF_RANGE $.routes[0].targets']],
    ['a bad rotation', (c) => (c.routes[0].rotation = { generator: 'bytes', length: 32 }), ['SCHEMA_INVALID_VALUE $.routes[0].rotation.encoding']],
    ['duplicate source ids', (c) => c.sources.push({ id: 'platform', vaultUrl: 'https://p2.vault.azure.net' }), ['DUPLICATE_ID $.sources[1].id']],
    ['duplicate target ids', (c) => c.targets.push({ ...c.targets[0] }), ['DUPLICATE_ID $.targets[2].id']],
    ['duplicate route ids', (c) => c.routes.push({ ...c.routes[0], targets: [{ target: 'edge', name: 'other', key: '{name}' }] }), ['DUPLICATE_ID $.routes[1].id']],
    ['two sources on one vault', (c) => c.sources.push({ id: 'p2', vaultUrl: 'https://PLATFORM.vault.azure.net/' }), ['DUPLICATE_SOURCE_VAULT $.sources[1].vaultUrl']],
    ['an http vault URL', (c) => (c.sources[0].vaultUrl = 'http://platform.vault.azure.net'), ['VAULT_URL_NOT_HTTPS $.sources[0].vaultUrl']],
    ['a non-Azure vault host', (c) => (c.targets[0].vaultUrl = 'https://vault.contoso.com'), ['VAULT_URL_NOT_AZURE $.targets[0].vaultUrl']],
    ['a vault URL with a path', (c) => (c.targets[0].vaultUrl = 'https://contoso.vault.azure.net/secrets'), ['VAULT_URL_INVALID $.targets[0].vaultUrl']],
    ['a vault URL that is not a URL', (c) => (c.targets[0].vaultUrl = 'contoso'), ['VAULT_URL_INVALID $.targets[0].vaultUrl']],
    ['an http API server', (c) => (c.targets[1].cluster.server = 'http://edge-1.example:6443'), ['SERVER_URL_NOT_HTTPS $.targets[1].cluster.server']],
    ['caCert and caCertPath', (c) => Object.assign(c.targets[1].cluster, { caCert: 'PEM', caCertPath: '/ca.pem' }), ['CA_CERT_CONFLICT $.targets[1].cluster.caCertPath']],
    ['an unknown route source', (c) => (c.routes[0].source = 'nope'), ['UNKNOWN_REFERENCE $.routes[0].source']],
    ['an unknown route target', (c) => (c.routes[0].targets[0].target = 'nope'), ['UNKNOWN_REFERENCE $.routes[0].targets[0].target']],
    [
      'an unknown token source',
      (c) => (c.targets[1].cluster.auth = { type: 'tokenSecret', source: 'nope', secret: 'edge-token' }),
      ['UNKNOWN_REFERENCE $.targets[1].cluster.auth.source'],
    ],
    ['a bad var name', (c) => (c.targets[0].vars['1x'] = 'y'), ['SCHEMA_INVALID_KEY $.targets[0].vars["1x"]']],
    ['a reserved var', (c) => (c.targets[0].vars.name = 'x'), ['VAR_RESERVED $.targets[0].vars.name']],
    ['a glob with bad characters', (c) => (c.routes[0].match.globs = ['db_*']), ['GLOB_INVALID $.routes[0].match.globs[0]']],
    ['a source name that is not a Key Vault name', (c) => (c.routes[0].match.names = ['db.password']), ['SCHEMA_INVALID_FORMAT $.routes[0].match.names[0]']],
    ['an unknown placeholder', (c) => (c.routes[0].targets[0].name = '{tenant}-{name}'), ['TEMPLATE_UNKNOWN_VARIABLE $.routes[0].targets[0].name']],
    ['an unknown filter', (c) => (c.routes[0].targets[0].name = '{name|title}'), ['TEMPLATE_UNKNOWN_FILTER $.routes[0].targets[0].name']],
    ['an illegal Key Vault literal', (c) => (c.routes[0].targets[0].name = '{customer}.{name}'), ['TEMPLATE_ILLEGAL_LITERAL $.routes[0].targets[0].name']],
    ['a Key Vault name provably too long', (c) => (c.routes[0].targets[0].name = `${'x'.repeat(120)}-{name}`), ['TEMPLATE_TOO_LONG $.routes[0].targets[0].name']],
    ['an uppercase Kubernetes name', (c) => (c.routes[0].targets[1].name = 'DB-creds'), ['TEMPLATE_ILLEGAL_LITERAL $.routes[0].targets[1].name']],
    ['an illegal Kubernetes key', (c) => (c.routes[0].targets[1].key = 'a/{name}'), ['TEMPLATE_ILLEGAL_LITERAL $.routes[0].targets[1].key']],
    [
      'a glob route naming Kubernetes Secrets by {name} without |lower',
      (c) => Object.assign(c.routes[0], { match: { globs: ['bmc-*'] }, targets: [{ target: 'edge', name: 'x-{name}' }] }),
      ['TEMPLATE_NEEDS_LOWER $.routes[0].targets[0].name'],
    ],
    [
      'a fixed Key Vault name for two source names',
      (c) => Object.assign(c.routes[0], { match: { names: ['a', 'b'] }, targets: [{ target: 'contoso', name: 'shared' }] }),
      ['NAME_COLLISION $.routes[0].targets[0].name'],
    ],
    [
      'a fixed Kubernetes key for a glob',
      (c) => Object.assign(c.routes[0], { match: { globs: ['bmc-*'] }, targets: [{ target: 'edge', name: 'bmc', key: 'password' }] }),
      ['NAME_COLLISION $.routes[0].targets[0].key'],
    ],
    [
      'a fixed Kubernetes key when the Secret name separates the secrets (no problem)',
      (c) => Object.assign(c.routes[0], { match: { globs: ['bmc-*'] }, targets: [{ target: 'edge', name: '{name|lower}', key: 'password' }] }),
      [],
    ],
  ])('%s', (_label, tweak, expected) => {
    const raw = base();
    tweak(raw);
    expect(codes(problemsOf(validateConfig(raw)))).toEqual(expected);
  });

  it('allows http and emulator hosts in local mode', () => {
    const raw = base();
    raw.mode = 'local';
    raw.sources[0].vaultUrl = 'http://127.0.0.1:8443';
    raw.targets[0].vaultUrl = 'https://localhost:9443';
    raw.targets[1].cluster.server = 'http://127.0.0.1:6443';
    expect(problemsOf(validateConfig(raw))).toEqual([]);
  });
});

describe('validateConfig: collisions and loops', () => {
  const twoSources = () => {
    const c = base();
    c.sources.push({ id: 'other', vaultUrl: 'https://other.vault.azure.net' });
    return c;
  };
  const route = (id: string, source: string, match: object, name: string) => ({ id, source, match, targets: [{ target: 'contoso', name }] });
  const check = (routes: object[], c = twoSources()) => {
    c.routes = routes;
    const result = validateConfig(c);
    return { errors: codes(problemsOf(result)), warnings: codes(result.warnings).filter((w) => w.startsWith('NAME_COLLISION')) };
  };

  it.each<[string, object[], string[], string[]]>([
    ['exact names differing in case, two sources', [route('a', 'platform', { names: ['Key'] }, '{name}'), route('b', 'other', { names: ['key'] }, '{name}')], ['NAME_COLLISION $.routes[1].targets[0].name'], []],
    ['the same source name twice with different case filters', [route('a', 'platform', { names: ['Key'] }, '{name}'), route('b', 'platform', { names: ['Key'] }, '{name|lower}')], ['NAME_COLLISION $.routes[1].targets[0].name'], []],
    ['the same source secret rendered identically (one delivery)', [route('a', 'platform', { names: ['key'] }, '{name}'), route('b', 'platform', { names: ['key'] }, '{name}')], [], []],
    ['overlapping globs of two sources, same template ignoring case', [route('a', 'platform', { globs: ['bmc-*'] }, '{name}'), route('b', 'other', { globs: ['*-1'] }, '{name|lower}')], ['NAME_COLLISION $.routes[1].targets[0].name'], []],
    ['disjoint globs of two sources', [route('a', 'platform', { globs: ['bmc-*'] }, '{name}'), route('b', 'other', { globs: ['db-*'] }, '{name}')], [], []],
    ['overlapping globs of one source, same template', [route('a', 'platform', { globs: ['bmc-*'] }, '{name}'), route('b', 'platform', { globs: ['*-1'] }, '{name}')], [], []],
    ['an exact name inside another source glob', [route('a', 'platform', { names: ['bmc-1'] }, '{name}'), route('b', 'other', { globs: ['BMC-*'] }, '{name}')], ['NAME_COLLISION $.routes[1].targets[0].name'], []],
    ['different templates whose names may overlap', [route('a', 'platform', { globs: ['*'] }, 'x-{name}'), route('b', 'other', { globs: ['*'] }, '{name}')], [], ['NAME_COLLISION_POSSIBLE $.routes[1].targets[0].name']],
  ])('%s', (_label, routes, errors, warnings) => {
    const result = check(routes);
    expect(result.errors).toEqual(errors);
    expect(result.warnings).toEqual(warnings);
  });

  it.each<[string, object, string, string[]]>([
    ['a source route matching every name', {}, 'copy-{name}', ['ROUTING_LOOP $.routes[0].targets[0].target']],
    ['a source route whose glob matches the written names', { globs: ['contoso--*'] }, '{customer}--{name}', ['ROUTING_LOOP $.routes[0].targets[0].target']],
    ['a source route whose glob does not match', { globs: ['app-*'] }, '{customer}--{name}', []],
    ['a source route listing the written name', { names: ['contoso--db-password'] }, '{customer}--{name}', ['ROUTING_LOOP $.routes[0].targets[0].target']],
  ])('loop: target vault is a source vault, %s', (_label, backMatch, name, expected) => {
    const c = base();
    c.sources.push({ id: 'contoso-src', vaultUrl: 'https://CONTOSO.vault.azure.net' });
    c.targets.push({ id: 'out', kind: 'keyVault', vaultUrl: 'https://out.vault.azure.net' });
    c.routes[0].targets = [{ target: 'contoso', name }];
    c.routes.push({ id: 'back', source: 'contoso-src', match: backMatch, targets: [{ target: 'out' }] });
    expect(codes(problemsOf(validateConfig(c)))).toEqual(expected);
  });
});

describe('validateConfig: warnings', () => {
  it('warns (not errors) when only the worst-case length of a glob route can overflow, and on ignored fields', () => {
    const c = base();
    c.routes[0].match = { globs: ['bmc-*'] };
    c.routes[0].targets[0].versionsToKeep = 3;
    c.targets.push({ id: 'spare', kind: 'keyVault', vaultUrl: 'https://spare.vault.azure.net' });
    const result = validateConfig(c);
    expect(result.ok).toBe(true);
    expect(codes(result.warnings)).toEqual([
      'TEMPLATE_MAY_BE_TOO_LONG $.routes[0].targets[0].name',
      'FIELD_NOT_APPLICABLE $.routes[0].targets[0].versionsToKeep',
      'UNUSED_TARGET $.targets[2].id',
    ]);
  });
});

describe('relay.config.schema.json', () => {
  it('is up to date (regenerate: npx tsx cli/main.ts config schema > relay.config.schema.json)', () => {
    const committed = readFileSync(new URL('../../../relay.config.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(`${JSON.stringify(relayConfigJsonSchema(), null, 2)}\n`);
  });

  it('describes the config shape, with defaults optional', () => {
    const schema = relayConfigJsonSchema() as any;
    expect(schema.required).toEqual(['sources', 'targets', 'routes']);
    expect(schema.additionalProperties).toBe(false);
    const routeTarget = schema.properties.routes.items.properties.targets.items;
    expect(routeTarget.required).toEqual(['target']);
    expect(routeTarget.properties.recoverDeleted.default).toBe(true);
  });
});
