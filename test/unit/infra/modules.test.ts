import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { get, keys, readBicep, type BicepFile } from './bicep.js';
import { bicepPaths, infraDir } from './files.js';

const files = bicepPaths().map(readBicep);
const byPath = new Map(files.map((f) => [f.path, f]));
const name = (f: BicepFile): string => relative(infraDir, f.path);

function target(from: BicepFile, path: string): BicepFile | undefined {
  return byPath.get(join(dirname(from.path), path));
}

describe('infra module graph', () => {
  it('parses every Bicep file and finds the entry point and its modules', () => {
    expect(files.map(name)).toContain('main.bicep');
    expect(files.find((f) => name(f) === 'main.bicep')!.modules.length).toBeGreaterThan(5);
  });

  it.each(files.map((f) => [name(f), f] as const))('%s: every referenced module and import exists locally', (_, file) => {
    const refs = [...file.modules.map((m) => m.path), ...file.imports.map((i) => i.path)];
    for (const ref of refs) {
      expect(ref, `${name(file)} uses a registry module, which cannot be resolved offline`).not.toMatch(/^(br|ts)[:/]/);
      expect(existsSync(join(dirname(file.path), ref)), `${name(file)} -> ${ref}`).toBe(true);
    }
  });

  it.each(files.map((f) => [name(f), f] as const))('%s: imported symbols are exported by their file', (_, file) => {
    for (const imp of file.imports) {
      const from = target(file, imp.path);
      expect(from, imp.path).toBeDefined();
      for (const symbol of imp.symbols) expect(from!.exported, `${imp.path} exports ${symbol}`).toContain(symbol);
    }
  });

  it.each(files.filter((f) => f.modules.length > 0).map((f) => [name(f), f] as const))(
    '%s: module calls pass only declared params and every required one',
    (_, file) => {
      for (const mod of file.modules) {
        const callee = target(file, mod.path)!;
        const passed = keys(get(mod.body, 'params'));
        const declared = callee.params.map((p) => p.name);
        const required = callee.params
          .filter((p) => p.defaultValue === undefined && !p.type.endsWith('?'))
          .map((p) => p.name);
        for (const p of passed) expect(declared, `${mod.symbol} passes undeclared param ${p}`).toContain(p);
        for (const p of required) expect(passed, `${mod.symbol} misses required param ${p}`).toContain(p);
      }
    },
  );

  it.each(files.filter((f) => f.modules.length > 0).map((f) => [name(f), f] as const))(
    '%s: every <module>.outputs.<name> it reads is declared by that module',
    (_, file) => {
      const bySymbol = new Map(file.modules.map((m) => [m.symbol, target(file, m.path)!]));
      const reads = [...file.code.matchAll(/\b(\w+)!?(?:\[[^\]]*\])?\.outputs\.(\w+)/g)];
      if (name(file) === 'main.bicep') expect(reads.length).toBeGreaterThan(10);
      for (const [, symbol, output] of reads) {
        const callee = bySymbol.get(symbol!);
        expect(callee, `${symbol} is not a module`).toBeDefined();
        expect(callee!.outputs, `${symbol}.outputs.${output}`).toContain(output);
      }
    },
  );

  it('deploys each module at the scope its targetScope declares', () => {
    const main = files.find((f) => name(f) === 'main.bicep')!;
    expect(main.targetScope).toBe('subscription');
    for (const mod of main.modules) {
      // From a subscription-scoped file, a module with `scope:` goes to a resource group; without, to the subscription.
      const expected = get(mod.body, 'scope') === undefined ? 'subscription' : 'resourceGroup';
      expect(target(main, mod.path)!.targetScope, mod.symbol).toBe(expected);
    }
    expect(target(main, 'modules/writer-role.bicep')!.targetScope).toBe('subscription');
  });
});
