/** Paths and loaders shared by the infra tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBicep, type BicepFile } from './bicep.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const infraDir = join(repoRoot, 'infra');

/** Every .bicep file under infra/, as absolute paths. */
export function bicepPaths(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.bicep')) out.push(path);
    }
  };
  walk(infraDir);
  return out.sort();
}

/** Every file under infra/ (any kind), as absolute paths. */
export function infraFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk(infraDir);
  return out.sort();
}

/** Parses infra/<relativePath>. */
export function bicep(relativePath: string): BicepFile {
  return readBicep(join(infraDir, relativePath));
}

export function resourceOf(file: BicepFile, symbol: string) {
  const found = file.resources.find((r) => r.symbol === symbol);
  if (!found) throw new Error(`${file.path}: no resource ${symbol}`);
  return found;
}

export function moduleOf(file: BicepFile, symbol: string) {
  const found = file.modules.find((m) => m.symbol === symbol);
  if (!found) throw new Error(`${file.path}: no module ${symbol}`);
  return found;
}

export function paramOf(file: BicepFile, name: string) {
  const found = file.params.find((p) => p.name === name);
  if (!found) throw new Error(`${file.path}: no param ${name}`);
  return found;
}

/** The Values of local.settings.sample.json. */
export function localSettings(): Record<string, string> {
  const parsed = JSON.parse(readFileSync(join(repoRoot, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  return parsed.Values;
}
