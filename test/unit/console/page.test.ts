import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consoleAnswer, renderConsolePage } from '../../../shared/console/index.js';
import { repoRoot } from '../infra/files.js';

const sha = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
const asset = (name: string) => readFileSync(`${repoRoot}/console/${name}`, 'utf8');

describe('the console page', () => {
  it('is one document with the script and stylesheet inlined, allowed by hash and nothing else', () => {
    const page = renderConsolePage();
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<script>${asset('app.js')}</script>`);
    expect(page.body).toContain(`<style>${asset('console.css')}</style>`);
    // Nothing is loaded from anywhere else: no external script, stylesheet or font.
    expect(page.body).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    expect(page.body).not.toMatch(/https?:\/\//);
    const csp = page.headers['content-security-policy']!;
    expect(csp).toContain(`script-src ${sha(asset('app.js'))}`);
    expect(csp).toContain(`style-src ${sha(asset('console.css'))}`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('sends a visitor without a signed-in principal to Entra ID sign-in when App Service authentication is on', () => {
    const headers: Record<string, string> = {};
    const request = { url: 'https://relay.azurewebsites.net/api/console?code=k1', header: (n: string) => headers[n] ?? null, appServiceAuthEnabled: true };
    const redirect = consoleAnswer(request);
    expect(redirect.status).toBe(302);
    expect(redirect.headers['location']).toBe(`/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent('/api/console?code=k1')}`);
    headers['x-ms-client-principal-id'] = '00000000-0000-0000-0000-000000000001';
    expect(consoleAnswer(request).status).toBe(200);
  });

  it('ignores principal headers and never redirects when App Service authentication is off (the key is the gate)', () => {
    const answer = consoleAnswer({ url: 'http://127.0.0.1:7071/api/console?code=k1', header: () => null, appServiceAuthEnabled: false });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toContain('text/html');
  });
});
