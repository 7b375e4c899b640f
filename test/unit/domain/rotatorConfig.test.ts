import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../shared/domain/index.js';
import type { ConfigProblem, ConfigValidation } from '../../../shared/domain/index.js';
import { summary } from '../../../cli/commands/config-check.js';

/** A valid default to tweak: one source, one vault target, one route whose rotation is given per test. */
const withRotation = (rotation: unknown, mode: 'azure' | 'local' = 'azure') =>
  ({
    mode,
    sources: [{ id: 'platform', vaultUrl: 'https://platform.vault.azure.net' }],
    targets: [{ id: 'contoso', kind: 'keyVault', vaultUrl: 'https://contoso.vault.azure.net' }],
    routes: [{ id: 'db', source: 'platform', match: { names: ['db-credential'] }, targets: [{ target: 'contoso' }], rotation }],
  }) as const;

const postgres = (tweak: Record<string, unknown> = {}) => ({
  generator: 'password',
  length: 32,
  rotator: {
    kind: 'postgres',
    host: 'orders.postgres.database.azure.com',
    database: 'orders',
    adminUser: 'relay_admin',
    adminPassword: { source: 'platform', secret: 'orders-admin-password' },
    roles: ['orders_blue', 'orders_green'],
    ...tweak,
  },
});

const webhook = (tweak: Record<string, unknown> = {}) => ({
  generator: 'password',
  length: 32,
  rotator: { kind: 'webhook', url: 'https://bmc-rotator.example/rotate', auth: { type: 'managedIdentity', scope: 'api://bmc/.default' }, ...tweak },
});

const codes = (problems: readonly ConfigProblem[]) => problems.map((p) => `${p.code} ${p.path}`);
const problemsOf = (result: ConfigValidation) => (result.ok ? [] : result.problems);

describe('route rotation: rotator and retirement', () => {
  it('defaults to the generate rotator and the converged retirement rule', () => {
    const result = validateConfig(withRotation({ generator: 'password', length: 32 }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.routes[0]!.rotation).toMatchObject({ rotator: { kind: 'generate' }, retirement: { rule: 'converged', graceMinutes: 0 } });
  });

  it('accepts a postgres rotator with its admin password by reference, applying port and tls defaults', () => {
    const result = validateConfig(withRotation({ ...postgres(), retirement: { rule: 'grace', graceMinutes: 15 } }));
    expect(problemsOf(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.config.routes[0]!.rotation).toMatchObject({ rotator: { port: 5432, tls: 'verify-full' }, retirement: { rule: 'grace', graceMinutes: 15 } });
  });

  it('accepts a webhook rotator with default slots, timeout and attempts', () => {
    const result = validateConfig(withRotation(webhook()));
    expect(problemsOf(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.config.routes[0]!.rotation!.rotator).toMatchObject({ slots: ['primary', 'secondary'], timeoutInMs: 10_000, maxAttempts: 3 });
  });

  it.each([
    ['an inline password', postgres({ adminPassword: 'hunter2-hunter2' }), ['SCHEMA_INVALID_TYPE $.routes[0].rotation.rotator.adminPassword']],
    ['an unknown source in the reference', postgres({ adminPassword: { source: 'nope', secret: 'x' } }), ['UNKNOWN_REFERENCE $.routes[0].rotation.rotator.adminPassword.source']],
    ['twice the same role', postgres({ roles: ['orders_blue', 'orders_blue'] }), ['SCHEMA_INVALID_FORMAT $.routes[0].rotation.rotator.roles']],
    ['a role name that needs quoting', postgres({ roles: ['Orders', 'orders_green'] }), ['SCHEMA_INVALID_FORMAT $.routes[0].rotation.rotator.roles[0]']],
    ['tls disabled outside local mode', postgres({ tls: 'disable' }), ['SERVER_URL_NOT_HTTPS $.routes[0].rotation.rotator.tls']],
    ['an http webhook outside local mode', webhook({ url: 'http://bmc-rotator.example/rotate' }), ['SERVER_URL_NOT_HTTPS $.routes[0].rotation.rotator.url']],
    ['an HMAC key given inline', webhook({ auth: { type: 'hmac', key: 'abc' } }), ['SCHEMA_INVALID_TYPE $.routes[0].rotation.rotator.auth.key']],
    ['an unknown rotator', { generator: 'password', length: 32, rotator: { kind: 'ldap' } }, ['SCHEMA_INVALID_VALUE $.routes[0].rotation.rotator.kind']],
  ])('rejects %s, naming where', (_what, rotation, expected) => {
    expect(codes(problemsOf(validateConfig(withRotation(rotation))))).toEqual(expected);
  });

  it('warns that retirement does nothing with the generate rotator', () => {
    const result = validateConfig(withRotation({ generator: 'password', length: 32, retirement: { rule: 'grace', graceMinutes: 5 } }));
    expect(result.ok).toBe(true);
    expect(codes(result.warnings)).toEqual(['FIELD_NOT_APPLICABLE $.routes[0].rotation.retirement']);
  });

  it('warns that tls "require" leaves the server unauthenticated outside local mode, not in local mode', () => {
    const azure = validateConfig(withRotation(postgres({ tls: 'require' })));
    expect(azure.ok).toBe(true);
    expect(codes(azure.warnings)).toEqual(['TLS_UNVERIFIED $.routes[0].rotation.rotator.tls']);
    expect(codes(validateConfig(withRotation(postgres({ tls: 'require' }), 'local')).warnings)).toEqual([]);
  });

  it('config check shows the rotator, its slots and the retirement rule', () => {
    const result = validateConfig(withRotation({ ...postgres(), retirement: { rule: 'grace', graceMinutes: 15 } }));
    if (!result.ok) throw new Error('invalid');
    expect(summary(result.config)).toContain(
      'rotation password(32)  rotator postgres orders.postgres.database.azure.com:5432/orders roles orders_blue,orders_green (admin platform/orders-admin-password)  retire grace 15 min',
    );
  });
});
