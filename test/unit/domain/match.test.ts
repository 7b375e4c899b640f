import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globsIntersect, isValidGlob, matchesGlob, nameMatches, routeMatches, routeNamePatterns } from '../../../shared/domain/index.js';

describe('matchesGlob', () => {
  it.each([
    ['bmc-*', 'bmc-node-1', true],
    ['bmc-*', 'BMC-Node-1', true],
    ['bmc-*', 'bmc-', true],
    ['bmc-*', 'xbmc-1', false],
    ['*-password', 'db-password', true],
    ['*-password', 'db-password-old', false],
    ['db-?', 'db-1', true],
    ['db-?', 'db-12', false],
    ['db-?', 'db-', false],
    ['*', 'anything', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['db-password', 'DB-PASSWORD', true],
  ])('%s ~ %s = %s', (glob, name, expected) => {
    expect(matchesGlob(glob, name)).toBe(expected);
  });

  it.each([
    ['bmc-*', true],
    ['?-x', true],
    ['db_*', false],
    ['db.*', false],
    ['[ab]*', false],
    ['', false],
  ])('isValidGlob(%j) = %s', (glob, expected) => {
    expect(isValidGlob(glob)).toBe(expected);
  });
});

describe('globsIntersect', () => {
  it.each([
    ['bmc-*', 'db-*', false],
    ['bmc-*', '*-1', true],
    ['*', 'x', true],
    ['a?c', 'A*', true],
    ['a?c', '*d', false],
    ['contoso--bmc-*', 'contoso--*', true],
    ['copy-copy-*', 'copy-*', true],
    ['x-*-y', '*-z', false],
    ['ab', 'AB', true],
    ['ab', 'abc', false],
    ['**', '?', true],
  ])('%s ∩ %s = %s', (a, b, expected) => {
    expect(globsIntersect(a, b)).toBe(expected);
    expect(globsIntersect(b, a)).toBe(expected);
  });

  const glob = fc.array(fc.constantFrom('a', 'B', '-', '*', '?'), { minLength: 1, maxLength: 6 }).map((c) => c.join(''));
  it('is true whenever some name matches both globs', () => {
    fc.assert(
      fc.property(glob, glob, fc.string({ unit: fc.constantFrom('a', 'b', '-'), maxLength: 8 }), (a, b, name) => {
        if (matchesGlob(a, name) && matchesGlob(b, name)) expect(globsIntersect(a, b)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('routeMatches', () => {
  const match = { names: ['db-password'], globs: ['bmc-*'], tags: { relay: 'customers' } };
  it.each<[string, Record<string, string>, boolean]>([
    ['db-password', { relay: 'customers' }, true],
    ['DB-Password', { relay: 'customers', other: 'x' }, true],
    ['bmc-7', { relay: 'customers' }, true],
    ['bmc-7', {}, false],
    ['bmc-7', { relay: 'Customers' }, false],
    ['api-key', { relay: 'customers' }, false],
  ])('%s with tags %j = %s', (name, tags, expected) => {
    expect(routeMatches(match, { name, tags })).toBe(expected);
  });

  it('matches any name when names and globs are both empty, still requiring tags', () => {
    expect(nameMatches({ names: [], globs: [] }, 'whatever')).toBe(true);
    expect(routeMatches({ names: [], globs: [], tags: { a: 'b' } }, { name: 'x' })).toBe(false);
    expect(routeMatches({ names: [], globs: [], tags: {} }, { name: 'x' })).toBe(true);
    expect(routeNamePatterns({ names: [], globs: [] })).toEqual(['*']);
    expect(routeNamePatterns({ names: ['a'], globs: ['b*'] })).toEqual(['a', 'b*']);
  });
});
