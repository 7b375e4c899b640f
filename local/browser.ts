import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Where a headless Chromium was found. */
export interface FoundBrowser {
  readonly executablePath: string;
  /** `CHROMIUM_PATH`, `@sparticuz/chromium` (the npm package that ships a compressed build) or a system path. */
  readonly from: string;
}

/** System paths tried after the npm package (Debian's `chromium` package installs /usr/bin/chromium). */
const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/**
 * Finds a Chromium to drive: the `CHROMIUM_PATH` setting, else the binary that the devDependency `@sparticuz/chromium`
 * ships (unpacked to the temp folder on first use, so `npm install` is the whole set-up), else a system Chromium.
 * Resolves undefined when there is none.
 */
export async function findBrowser(env: Readonly<Record<string, string | undefined>> = process.env): Promise<FoundBrowser | undefined> {
  const configured = env['CHROMIUM_PATH'];
  if (configured) return existsSync(configured) ? { executablePath: configured, from: 'CHROMIUM_PATH' } : undefined;
  try {
    const packaged = (await import('@sparticuz/chromium')).default;
    const executablePath = await packaged.executablePath();
    if (executablePath && existsSync(executablePath)) return { executablePath, from: '@sparticuz/chromium' };
  } catch {
    // not installed or not unpackable on this platform: try the system's
  }
  const system = SYSTEM_PATHS.find((path) => existsSync(path));
  return system ? { executablePath: system, from: system } : undefined;
}

/**
 * Flags for a closed network: no background requests, no QUIC, no first-run work, no sandbox (root in CI). The
 * profile is a fresh temporary one per launch (playwright passes its own `--user-data-dir`).
 */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

/** Launches a headless Chromium through playwright-core. */
export async function launchBrowser(found: FoundBrowser): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: found.executablePath, headless: true, args: [...CHROMIUM_FLAGS] });
}
