import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ANY_KEY_VAULT_NAME,
  isValidK8sKey,
  isValidK8sSecretName,
  isValidKeyVaultName,
  openVariableOfGlob,
  parseTemplate,
  renderTemplate,
  validateTemplate,
} from '../../../shared/domain/index.js';
import type { OpenVariable, TemplateKind } from '../../../shared/domain/index.js';

const values = { name: 'Db-Password', source: 'platform', target: 'contoso', customer: 'Contoso' };

describe('parseTemplate / renderTemplate', () => {
  it.each([
    ['{name}', 'Db-Password'],
    ['{customer}--{name}', 'Contoso--Db-Password'],
    ['{name|lower}', 'db-password'],
    ['{name|upper}', 'DB-PASSWORD'],
    ['{ name | lower }', 'db-password'],
    ['{name|upper|lower}', 'db-password'],
    ['{source}-{target}-{name}', 'platform-contoso-Db-Password'],
    ['fixed', 'fixed'],
    ['{name}{name}', 'Db-PasswordDb-Password'],
  ])('%s renders %s', (template, expected) => {
    expect(renderTemplate(template, values)).toBe(expected);
  });

  it.each([
    ['', 'TEMPLATE_EMPTY'],
    ['{name', 'TEMPLATE_SYNTAX'],
    ['name}', 'TEMPLATE_SYNTAX'],
    ['{}', 'TEMPLATE_SYNTAX'],
    ['{na-me}', 'TEMPLATE_SYNTAX'],
    ['{{name}}', 'TEMPLATE_SYNTAX'],
    ['{name|title}', 'TEMPLATE_UNKNOWN_FILTER'],
  ])('%j does not parse (%s)', (template, code) => {
    const parsed = parseTemplate(template);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems.map((p) => p.code)).toContain(code);
  });

  it('throws on a variable without a value, naming it', () => {
    expect(() => renderTemplate('{cluster}-{name}', values)).toThrow(/\{cluster\}/);
  });
});

describe('name rules', () => {
  it.each<[(s: string) => boolean, string, boolean]>([
    [isValidKeyVaultName, 'db-password', true],
    [isValidKeyVaultName, 'Db-Password-2', true],
    [isValidKeyVaultName, 'a'.repeat(127), true],
    [isValidKeyVaultName, 'a'.repeat(128), false],
    [isValidKeyVaultName, '', false],
    [isValidKeyVaultName, 'db_password', false],
    [isValidKeyVaultName, 'db.password', false],
    [isValidK8sSecretName, 'db-creds', true],
    [isValidK8sSecretName, 'db.creds.v1', true],
    [isValidK8sSecretName, 'a'.repeat(253), true],
    [isValidK8sSecretName, 'a'.repeat(254), false],
    [isValidK8sSecretName, 'Db-creds', false],
    [isValidK8sSecretName, '-db', false],
    [isValidK8sSecretName, 'db-', false],
    [isValidK8sSecretName, 'db..creds', false],
    [isValidK8sSecretName, 'db.-creds', false],
    [isValidK8sSecretName, 'db_creds', false],
    [isValidK8sKey, 'password', true],
    [isValidK8sKey, 'tls.crt', true],
    [isValidK8sKey, '.dockerconfigjson', true],
    [isValidK8sKey, 'Db_Password-1', true],
    [isValidK8sKey, '.', false],
    [isValidK8sKey, '..', false],
    [isValidK8sKey, '..data', false],
    [isValidK8sKey, 'a/b', false],
    [isValidK8sKey, 'k'.repeat(254), false],
  ])('%o(%j) = %s', (check, name, expected) => {
    expect(check(name)).toBe(expected);
  });
});

const variables = (name: string | OpenVariable) => ({ name, source: 'platform', target: 'contoso', customer: 'contoso', Upper: 'Contoso', under: 'a_b' });

describe('validateTemplate', () => {
  it.each<[string, TemplateKind, string | OpenVariable, string[], string[]]>([
    ['{customer}--{name}', 'keyVaultName', 'db-password', [], []],
    ['{customer}--{name}', 'keyVaultName', ANY_KEY_VAULT_NAME, [], ['TEMPLATE_MAY_BE_TOO_LONG']],
    ['{name}', 'keyVaultName', ANY_KEY_VAULT_NAME, [], []],
    ['{cusomer}--{name}', 'keyVaultName', 'x', ['TEMPLATE_UNKNOWN_VARIABLE'], []],
    ['{customer}_{name}', 'keyVaultName', 'x', ['TEMPLATE_ILLEGAL_LITERAL'], []],
    ['{under}-{name}', 'keyVaultName', 'x', ['TEMPLATE_ILLEGAL_VARIABLE_VALUE'], []],
    [`${'a'.repeat(120)}-{name}`, 'keyVaultName', 'long-name', ['TEMPLATE_TOO_LONG'], []],
    [`${'a'.repeat(127)}-{name}`, 'keyVaultName', ANY_KEY_VAULT_NAME, ['TEMPLATE_TOO_LONG'], []],
    ['{name|lower}', 'k8sSecretName', 'Db-Password', [], []],
    ['{name}', 'k8sSecretName', 'Db-Password', ['TEMPLATE_ILLEGAL_VARIABLE_VALUE'], []],
    ['{name}', 'k8sSecretName', openVariableOfGlob('bmc-*'), ['TEMPLATE_NEEDS_LOWER'], []],
    ['{name|lower}', 'k8sSecretName', openVariableOfGlob('bmc-*'), [], ['TEMPLATE_MAY_BE_INVALID']],
    ['{name|lower}', 'k8sSecretName', openVariableOfGlob('bmc-*-x'), [], []],
    ['app.{name|lower}', 'k8sSecretName', openVariableOfGlob('*-x'), [], ['TEMPLATE_MAY_BE_INVALID']],
    ['db-creds', 'k8sSecretName', ANY_KEY_VAULT_NAME, [], []],
    ['Db-Creds', 'k8sSecretName', ANY_KEY_VAULT_NAME, ['TEMPLATE_ILLEGAL_LITERAL'], []],
    ['{Upper}-creds', 'k8sSecretName', ANY_KEY_VAULT_NAME, ['TEMPLATE_ILLEGAL_VARIABLE_VALUE'], []],
    ['{Upper|lower}-creds', 'k8sSecretName', ANY_KEY_VAULT_NAME, [], []],
    ['db..creds', 'k8sSecretName', ANY_KEY_VAULT_NAME, ['TEMPLATE_INVALID_STRUCTURE'], []],
    ['-creds', 'k8sSecretName', ANY_KEY_VAULT_NAME, ['TEMPLATE_INVALID_STRUCTURE'], []],
    ['{name}', 'k8sKey', ANY_KEY_VAULT_NAME, [], []],
    ['{name}.pem', 'k8sKey', ANY_KEY_VAULT_NAME, [], []],
    ['..{name}', 'k8sKey', ANY_KEY_VAULT_NAME, ['TEMPLATE_INVALID_STRUCTURE'], []],
    ['.', 'k8sKey', ANY_KEY_VAULT_NAME, ['TEMPLATE_INVALID_STRUCTURE'], []],
    ['a/{name}', 'k8sKey', ANY_KEY_VAULT_NAME, ['TEMPLATE_ILLEGAL_LITERAL'], []],
    [`${'k'.repeat(200)}{name}`, 'k8sKey', ANY_KEY_VAULT_NAME, [], ['TEMPLATE_MAY_BE_TOO_LONG']],
  ])('%j as %s with name %j', (template, kind, name, errors, warnings) => {
    const result = validateTemplate(template, { kind, variables: variables(name) });
    expect(result.errors.map((p) => p.code)).toEqual(errors);
    expect(result.warnings.map((p) => p.code)).toEqual(warnings);
    expect(result.ok).toBe(errors.length === 0);
  });
});

// ---- properties -----------------------------------------------------------------------------------------------

const CHECKERS: Record<TemplateKind, (s: string) => boolean> = {
  keyVaultName: isValidKeyVaultName,
  k8sSecretName: isValidK8sSecretName,
  k8sKey: isValidK8sKey,
};
const kindArb = fc.constantFrom<TemplateKind>('keyVaultName', 'k8sSecretName', 'k8sKey');
const literalArb = fc.string({ unit: fc.constantFrom(...'aZ09-._/'.split('')), minLength: 1, maxLength: 6 });
const placeholderArb = fc
  .tuple(fc.constantFrom('name', 'source', 'target', 'v'), fc.array(fc.constantFrom('lower', 'upper'), { maxLength: 2 }))
  .map(([v, filters]) => `{${[v, ...filters].join('|')}}`);
const templateArb = fc.array(fc.oneof(literalArb, placeholderArb), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(''));
const kvChar = fc.constantFrom(...'abcXYZ019-'.split(''));
const concreteVarArb = fc.string({ unit: fc.constantFrom(...'aB1-._'.split('')), maxLength: 8 });
const globArb = fc.array(fc.oneof(kvChar, fc.constantFrom('*', '?')), { minLength: 1, maxLength: 8 }).map((c) => c.join(''));
/** A name matching the glob: each `*` filled with 0..n characters, each `?` with one, letters in any case. */
const nameForGlob = (glob: string) =>
  fc
    .array(fc.string({ unit: kvChar, maxLength: 140 }), { minLength: glob.length, maxLength: glob.length })
    .chain((fills) =>
      fc.array(fc.boolean(), { minLength: glob.length, maxLength: glob.length }).map((flip) =>
        [...glob]
          .map((c, i) => (c === '*' ? fills[i]! : c === '?' ? fills[i]![0] ?? 'q' : c))
          .map((c, i) => (flip[i] ? c.toUpperCase() : c.toLowerCase()))
          .join(''),
      ),
    );

describe('validateTemplate: properties', () => {
  it('with concrete values, it accepts exactly the templates that render valid names', () => {
    fc.assert(
      fc.property(templateArb, kindArb, fc.string({ unit: kvChar, minLength: 1, maxLength: 127 }), concreteVarArb, (template, kind, name, v) => {
        fc.pre(parseTemplate(template).ok);
        const vars = { name, source: 'platform', target: 'contoso', v };
        const result = validateTemplate(template, { kind, variables: vars });
        expect(result.warnings).toEqual([]);
        expect(result.ok).toBe(CHECKERS[kind](renderTemplate(template, vars)));
      }),
      { numRuns: 2000 },
    );
  });

  it('a template accepted without warnings for a glob renders a valid name for every valid source name of the glob', () => {
    fc.assert(
      fc.property(
        templateArb,
        kindArb,
        concreteVarArb,
        globArb.chain((glob) => fc.tuple(fc.constant(glob), nameForGlob(glob))),
        (template, kind, v, [glob, name]) => {
          fc.pre(parseTemplate(template).ok && isValidKeyVaultName(name));
          const result = validateTemplate(template, { kind, variables: { name: openVariableOfGlob(glob), source: 'platform', target: 'contoso', v } });
          if (!result.ok || result.warnings.length > 0) return;
          const rendered = renderTemplate(template, { name, source: 'platform', target: 'contoso', v });
          expect(CHECKERS[kind](rendered), `${template} → ${rendered}`).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('without errors, a glob template only fails for names the warnings announced (length or a dash at an edge)', () => {
    fc.assert(
      fc.property(templateArb, kindArb, globArb.chain((glob) => fc.tuple(fc.constant(glob), nameForGlob(glob))), (template, kind, [glob, name]) => {
        fc.pre(parseTemplate(template).ok && isValidKeyVaultName(name));
        const variables = { name: openVariableOfGlob(glob), source: 'platform', target: 'contoso', v: 'x' };
        const result = validateTemplate(template, { kind, variables });
        if (!result.ok) return;
        const rendered = renderTemplate(template, { name, source: 'platform', target: 'contoso', v: 'x' });
        if (!CHECKERS[kind](rendered)) expect(result.warnings.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });
});
