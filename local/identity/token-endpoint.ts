/**
 * A local managed-identity token endpoint in the App Service shape (api-version 2019-08-01) that
 * `@azure/identity` ManagedIdentityCredential calls when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set
 * (platform-facts.md §3, "Credentials against an emulator"). Production code keeps its credential unchanged.
 *
 * Tokens are unsigned JWT-shaped strings (`alg: none`) that carry the resource (`aud`), client id (`appid`) and
 * tenant (`tid`), so an emulator can read who called it. They grant nothing anywhere else.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpointOptions {
  /** Port on 127.0.0.1 (default 0 = any free port). */
  port?: number;
  host?: string;
  /** Expected `X-IDENTITY-HEADER` value (default: random); requests without it get 401. */
  identityHeader?: string;
  /** Client id reported when the request names none (default a fixed local GUID). */
  clientId?: string;
  tenantId?: string;
  /** Token lifetime (default 3600). */
  expiresInSeconds?: number;
  /** Path of the endpoint (default `/msi/token`). */
  path?: string;
}

/** One token request as the endpoint saw it (no token in it). */
export interface TokenRequestRecord {
  resource: string | null;
  clientId: string | null;
  apiVersion: string | null;
  /** HTTP status answered. */
  status: number;
}

export interface TokenEndpoint {
  /** The value for `IDENTITY_ENDPOINT`, e.g. `http://127.0.0.1:41234/msi/token`. */
  readonly url: string;
  /** The value for `IDENTITY_HEADER`. */
  readonly identityHeader: string;
  /** `{ IDENTITY_ENDPOINT, IDENTITY_HEADER }`, to merge into `process.env` before creating the credential. */
  readonly env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  requests(): TokenRequestRecord[];
  close(): Promise<void>;
}

/** Claims of a local token (see `decodeLocalToken`). */
export interface LocalTokenClaims {
  aud: string;
  appid: string;
  tid: string;
  iss: string;
  iat: number;
  exp: number;
  oid: string;
}

export const DEFAULT_CLIENT_ID = '00000000-0000-4000-8000-0000000c11e7';
export const DEFAULT_IDENTITY_TENANT_ID = '72f988bf-0000-4000-8000-00000000c0de';

/** Builds an unsigned JWT-shaped token. */
export function createLocalToken(claims: LocalTokenClaims): string {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

/** Reads the claims of a token made by `createLocalToken`; undefined for anything else. */
export function decodeLocalToken(token: string): LocalTokenClaims | undefined {
  const [, payload] = token.split('.');
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<LocalTokenClaims>;
    return typeof claims.aud === 'string' && typeof claims.appid === 'string' ? (claims as LocalTokenClaims) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the endpoint. Each GET with the right header returns a fresh token; repeated calls are independent. */
export async function startTokenEndpoint(options: TokenEndpointOptions = {}): Promise<TokenEndpoint> {
  const identityHeader = options.identityHeader ?? randomBytes(16).toString('hex');
  const path = options.path ?? '/msi/token';
  const records: TokenRequestRecord[] = [];

  const server = createServer((req, res) => handle(req, res));
  function handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://identity');
    const record: TokenRequestRecord = {
      resource: url.searchParams.get('resource'),
      clientId: url.searchParams.get('client_id'),
      apiVersion: url.searchParams.get('api-version'),
      status: 200,
    };
    const answer = (status: number, body: unknown): void => {
      record.status = status;
      records.push(record);
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) });
      res.end(text);
    };
    if (req.method !== 'GET' || url.pathname !== path) {
      answer(404, { error: 'not_found', error_description: `no token endpoint at ${req.method} ${url.pathname}` });
      return;
    }
    if (req.headers['x-identity-header'] !== identityHeader) {
      answer(401, { error: 'unauthorized', error_description: 'missing or wrong X-IDENTITY-HEADER' });
      return;
    }
    if (!record.resource) {
      answer(400, { error: 'invalid_request', error_description: 'resource is required' });
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + (options.expiresInSeconds ?? 3600);
    const clientId = record.clientId ?? options.clientId ?? DEFAULT_CLIENT_ID;
    const tenantId = options.tenantId ?? DEFAULT_IDENTITY_TENANT_ID;
    const accessToken = createLocalToken({
      aud: record.resource,
      appid: clientId,
      oid: clientId,
      tid: tenantId,
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: now,
      exp: expiresOn,
    });
    answer(200, {
      access_token: accessToken,
      expires_on: String(expiresOn),
      resource: record.resource,
      token_type: 'Bearer',
      client_id: clientId,
    });
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}${path}`;
  return {
    url,
    identityHeader,
    env: { IDENTITY_ENDPOINT: url, IDENTITY_HEADER: identityHeader },
    requests: () => records.map((r) => ({ ...r })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
