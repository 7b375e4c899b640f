import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { findBrowser, launchBrowser } from '../../local/browser.js';
import { STATUS_INFO } from '../../shared/domain/statuses.js';
import { relayInstanceId } from '../../shared/orchestrations/names.js';
import { newValue, startE2E, type E2E } from './support.js';

// The web console in a real headless Chromium against the running stack: the page is rendered by its script from
// the HTTP API (the served HTML holds none of the data), shows a healthy and a failing target of the same secret
// correctly, filters, opens the per-secret audit timeline, never holds a secret value, and is refused without a key.

const browserFound = await findBrowser();
if (!browserFound && process.env['CI']) {
  // CI must run this test: `npm install` brings the browser (devDependency @sparticuz/chromium).
  throw new Error('console.e2e: no Chromium found in CI; `npm install` should have brought @sparticuz/chromium (or set CHROMIUM_PATH)');
}
if (!browserFound) {
  console.warn(
    'console.e2e: SKIPPED: no Chromium found. `npm install` brings one (devDependency @sparticuz/chromium); or set CHROMIUM_PATH, or `apt-get install -y chromium`.',
  );
}

describe.skipIf(!browserFound)('web console in headless Chromium', () => {
  let e2e: E2E;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    e2e = await startE2E();
    browser = await launchBrowser(browserFound!);
  });

  afterAll(async () => {
    await browser?.close();
    await e2e?.close();
  });

  async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const value = await read();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`gave up waiting for ${what}`);
  }

  async function relayed(name: string, version: string) {
    return until(`the relay of ${name}`, async () => {
      const answer = await e2e.call('GET', `/rotations/${encodeURIComponent(relayInstanceId('platform', name, version))}`);
      return answer.status === 200 && answer.json.result !== 'running' ? answer.json : undefined;
    });
  }

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      // A 404 of a route the page degrades on (no reconciliation has run yet) is logged by Chromium; scripts errors
      // and Content-Security-Policy refusals are what must not happen.
      if (message.type() === 'error' && !/status of 404/.test(message.text())) pageErrors.push(message.text());
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready]');
    return page;
  }

  it('shows the healthy target in sync and the failing one with its named status and hint, rendered by JavaScript', async () => {
    // app-steady reaches every target; app-console then gets a new version while fabrikam refuses writes (403).
    const steady = await e2e.vault('platform').setSecret('app-steady', e2e.remember(newValue('steady')));
    expect((await relayed('app-steady', steady.properties.version!)).result).toBe('succeeded');
    const first = await e2e.vault('platform').setSecret('app-console', e2e.remember(newValue('console')));
    expect((await relayed('app-console', first.properties.version!)).result).toBe('succeeded');
    e2e.stack.keyVault.addFault({ vault: 'fabrikam', operation: 'setSecret', effect: { kind: 'forbidden', innerCode: 'ForbiddenByRbac' } });
    const second = await e2e.vault('platform').setSecret('app-console', e2e.remember(newValue('console')));
    const relay = await relayed('app-console', second.properties.version!);
    expect(relay.result).toBe('failed-deliveries');
    expect(relay.outcomes.find((o: { targetId: string }) => o.targetId === 'fabrikam').status).toBe('FailedAccessDenied');

    const url = e2e.stack.info.dashboard.url;
    expect(url).toContain('/api/console?code=');
    // The HTML the app serves carries no fleet data: what the browser shows below came from the script's API calls.
    const served = await fetch(url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const servedHtml = await served.text();
    e2e.responses.push(servedHtml);
    expect(servedHtml).not.toContain('app-console');
    expect(servedHtml).not.toContain('FailedAccessDenied');

    const page = await open(url);
    const row = page.locator('tr[data-secret="platform/app-console"]');
    const contoso = row.locator('td[data-target="contoso"]');
    const fabrikam = row.locator('td[data-target="fabrikam"]');
    expect(await contoso.getAttribute('data-state')).toBe('in-sync');
    expect(await contoso.innerText()).toContain('in sync');
    expect(await contoso.innerText()).toContain(`holds ${second.properties.version!.slice(0, 8)} (current)`);
    expect(await row.locator('td[data-target="edge-1-apps"]').getAttribute('data-state')).toBe('in-sync');
    expect(await fabrikam.getAttribute('data-state')).toBe('failed');
    expect(await fabrikam.innerText()).toContain('FailedAccessDenied');
    expect(await fabrikam.innerText()).toContain(STATUS_INFO.FailedAccessDenied.hint);
    expect(await fabrikam.innerText()).toContain(`holds ${first.properties.version!.slice(0, 8)}, current ${second.properties.version!.slice(0, 8)}`);
    expect(await page.locator('tr[data-secret="platform/app-steady"] td[data-target="fabrikam"]').getAttribute('data-state')).not.toBe('failed');

    // Filter "failed": the steady secret goes, the failing one stays.
    await page.locator('#filter-failed').check();
    expect(await page.locator('tr[data-secret="platform/app-steady"]').count()).toBe(0);
    expect(await page.locator('tr[data-secret="platform/app-console"]').count()).toBe(1);
    // Filter by target: only that target's column.
    await page.locator('#filter-failed').uncheck();
    await page.locator('#filter-target').selectOption('contoso');
    expect(await page.locator('table.matrix thead th').allInnerTexts()).toEqual(['secret', 'contoso']);

    e2e.responses.push(await page.content());

    // A reconciliation finds fabrikam behind and fails to repair it the same way: the drift report says so.
    expect((await e2e.call('POST', '/reconcile')).status).toBeLessThan(300);
    await until('the reconciliation', async () => {
      const run = await e2e.call('GET', '/rotations/reconcile');
      return run.status === 200 && run.json.runtimeStatus === 'Completed' ? run.json : undefined;
    });
    await page.reload();
    await page.waitForSelector('body[data-ready]');
    const finding = page.locator('#drift tbody tr', { hasText: 'platform/app-console' });
    expect(await finding.innerText()).toContain('fabrikam');
    expect(await finding.innerText()).toContain('FailedAccessDenied');
    expect(await finding.innerText()).toContain(STATUS_INFO.FailedAccessDenied.hint);
    expect(await page.locator('tr[data-secret="platform/app-console"] td[data-target="fabrikam"]').innerText()).toContain(STATUS_INFO.FailedAccessDenied.hint);
    e2e.responses.push(await page.content());

    // The per-secret view: live state and the audit timeline, with the refused delivery in it.
    await page.goto(`${url}#/secret/platform/app-console`);
    await page.waitForSelector('#timeline table');
    const timeline = await page.locator('#timeline').innerText();
    expect(timeline).toContain('FailedAccessDenied');
    expect(timeline).toContain('fabrikam');
    expect(await page.locator('#secret td[data-target="fabrikam"]').getAttribute('data-state')).not.toBe('in-sync');
    e2e.responses.push(await page.content());

    expect(pageErrors).toEqual([]);
    e2e.stack.keyVault.clearFaults();
    const scan = await e2e.scanForLeaks();
    expect(scan.scanned.responses).toBeGreaterThan(3);
    expect(scan.leaks).toEqual([]);
  });

  it('is refused without the key, for the page and for the API it reads', async () => {
    const bare = new URL(e2e.stack.info.dashboard.url);
    bare.search = '';
    const page = await browser.newPage();
    const response = await page.goto(bare.href);
    expect(response?.status()).toBe(401);
    expect(await page.content()).not.toContain('Secret Relay');
    expect((await fetch(`${e2e.api}/secrets`)).status).toBe(401);
    expect((await fetch(`${e2e.api}/audit?secret=app-console`)).status).toBe(401);
    await page.close();
  });
});
