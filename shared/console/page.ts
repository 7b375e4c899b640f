import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The console's static files, shipped in the app package under `console/` (see .funcignore). */
export const CONSOLE_ASSETS = ['console/index.html', 'console/console.css', 'console/app.js'] as const;

/** A framework-free HTTP answer with a text body. */
export interface ConsoleAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Options of {@link renderConsolePage}. */
export interface ConsolePageOptions {
  /** The folder that holds `console/` (default: the project or package root, found from this module's place). */
  readonly root?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The project root from shared/console/ (tsx, tests) or the package root from dist/shared/console/ (built). */
const defaultRoot = here.endsWith(join('dist', 'shared', 'console')) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');

const cache = new Map<string, { html: string; csp: string }>();

/**
 * The console page: `console/index.html` with its stylesheet and script inlined, so one keyed request loads it all
 * (assets loaded by URL would need the key again), under a Content-Security-Policy that allows exactly those inline
 * blocks (by hash) and same-origin API calls. Reads the files once per root. Needs no permission; holds no data: the
 * script reads everything from the HTTP API with the key the page was opened with.
 */
export function renderConsolePage(options: ConsolePageOptions = {}): ConsoleAnswer {
  const root = options.root ?? defaultRoot;
  let page = cache.get(root);
  if (!page) {
    const [html, css, js] = CONSOLE_ASSETS.map((file) => readFileSync(join(root, file), 'utf8')) as [string, string, string];
    const sha = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
    const inlined = html
      .replace('<link rel="stylesheet" href="console.css">', () => `<style>${css}</style>`)
      .replace('<script src="app.js"></script>', () => `<script>${js}</script>`);
    if (inlined === html) throw new Error(`${join(root, CONSOLE_ASSETS[0])}: the stylesheet and script placeholders are missing`);
    const csp = [
      "default-src 'none'",
      `script-src ${sha(js)}`,
      `style-src ${sha(css)}`,
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; ');
    page = { html: inlined, csp };
    cache.set(root, page);
  }
  return {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': page.csp,
      // The URL carries the function key: never send it on as a referrer, never cache the page.
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
    body: page.html,
  };
}

/** What {@link consoleAnswer} needs to know about the request. */
export interface ConsoleRequest {
  /** The request URL as the platform saw it (path and query are used). */
  readonly url: string;
  readonly header: (name: string) => string | null;
  /** App Service authentication is enabled for the app (`WEBSITE_AUTH_ENABLED=True`). */
  readonly appServiceAuthEnabled: boolean;
}

/**
 * `GET /api/console`: the page, or, when App Service authentication is enabled and the request carries no signed-in
 * principal, a redirect to Entra ID sign-in that comes back to the same URL. The principal headers are trusted only
 * with App Service authentication on (the platform then strips them from outside requests and sets them itself).
 */
export function consoleAnswer(request: ConsoleRequest, options: ConsolePageOptions = {}): ConsoleAnswer {
  if (request.appServiceAuthEnabled && !request.header('x-ms-client-principal-id') && !request.header('x-ms-client-principal')) {
    const url = new URL(request.url);
    const back = `${url.pathname}${url.search}`;
    return {
      status: 302,
      headers: { location: `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}`, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
      body: '',
    };
  }
  return renderConsolePage(options);
}
