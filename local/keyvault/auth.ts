/**
 * Key Vault challenge authentication (platform-facts.md §3.4). The first SDK request has no Authorization header
 * and no body; it must get a 401 with a `WWW-Authenticate` challenge before anything else is looked at.
 */
import type { IncomingMessage } from 'node:http';
import { KeyVaultHttpError } from './errors.js';

/** Tenant the challenge names (a fixed, obviously local GUID unless configured). */
export const DEFAULT_TENANT_ID = '72f988bf-0000-4000-8000-00000000c0de';
export const VAULT_RESOURCE = 'https://vault.azure.net';

export function challengeHeader(tenantId: string): string {
  return `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="${VAULT_RESOURCE}"`;
}

/** A 401 carrying the challenge. */
export function unauthorized(tenantId: string, message = 'AKV10000: Request is missing a Bearer or PoP token.'): KeyVaultHttpError {
  return new KeyVaultHttpError(401, 'Unauthorized', message, { headers: { 'WWW-Authenticate': challengeHeader(tenantId) } });
}

/** The bearer token of the request, or undefined when there is none. Any non-empty token is accepted here. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}
