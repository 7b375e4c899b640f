import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findBrowser, launchBrowser } from './browser.js';
import { startStack } from './stack.js';

// Takes docs/console.png: starts the demo stack on a free port, relays two demo secrets, makes fabrikam refuse the
// next version (403 through the Key Vault emulator's faults), sets it, and photographs the console.
// Run: npx tsx local/consoleScreenshot.ts [output.png]

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? 'docs/console.png');
  const found = await findBrowser();
  if (!found) throw new Error('no Chromium found: npm install (devDependency @sparticuz/chromium), or set CHROMIUM_PATH');
  const stateDir = mkdtempSync(join(tmpdir(), 'relay-screenshot-'));
  const stack = await startStack({ stateDir, port: 0, log: () => undefined, timeScale: 50 });
  const browser = await launchBrowser(found);
  try {
    const api = `${stack.info.functions.baseUrl}/api`;
    const key = stack.info.functions.key;
    const call = async (path: string) => (await fetch(`${api}${path}`, { headers: { 'x-functions-key': key } })).json() as Promise<any>;
    const relayed = async (name: string, version: string) => {
      for (let i = 0; i < 300; i++) {
        const status = await call(`/rotations/${encodeURIComponent(`relay:platform:${name}:${version}`)}`);
        if (status.result && status.result !== 'running') return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`relay of ${name} did not finish`);
    };
    const set = async (name: string) => {
      const version = stack.keyVault.createSecret('platform', name, randomBytes(16).toString('hex')).version;
      await relayed(name, version);
    };
    await set('bmc-rack-07');
    await set('orders-db-credential');
    await set('cluster-admin-password');
    stack.keyVault.addFault({ vault: 'fabrikam', operation: 'setSecret', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    await set('cluster-admin-password');
    // A reconciliation run, so the drift report has the refused target in it (its repair fails the same way).
    await fetch(`${api}/reconcile`, { method: 'POST', headers: { 'x-functions-key': key } });
    for (let i = 0; i < 300; i++) {
      const run = await call('/rotations/reconcile');
      if (run.runtimeStatus && !['Pending', 'Running'].includes(run.runtimeStatus)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(stack.info.dashboard.url);
    await page.waitForSelector('body[data-ready]');
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`wrote ${out}\n`);
  } finally {
    await browser.close();
    await stack.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`console screenshot failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
