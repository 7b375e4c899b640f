import { app } from '@azure/functions';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { consoleAnswer } from '../shared/console/index.js';
import { isAppServiceAuthEnabled } from '../shared/triggers/index.js';

/**
 * `GET /api/console` → the web console (one HTML page, script and styles inlined, from the package's `console/`).
 * Function key required, as for every route; with App Service authentication on, Entra ID sign-in too (docs/console.md).
 */
export async function consolePage(request: HttpRequest): Promise<HttpResponseInit> {
  const answer = consoleAnswer({
    url: request.url,
    header: (name) => request.headers.get(name),
    appServiceAuthEnabled: isAppServiceAuthEnabled(process.env),
  });
  return { status: answer.status, headers: answer.headers, body: answer.body };
}

app.http('console', { route: 'console', methods: ['GET'], authLevel: 'function', handler: consolePage });
