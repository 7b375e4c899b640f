import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/identity';
import { RestError, SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { KeyVaultEmulator } from '../../../local/keyvault/index.js';

/** A credential that hands out a fixed token (the emulator accepts any bearer token). */
export const staticCredential: TokenCredential = {
  getToken: async () => ({ token: 'local-test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** The real SecretClient against an emulated vault, trusting the emulator's CA. */
export function secretClient(
  emulator: KeyVaultEmulator,
  vault: string,
  credential: TokenCredential = staticCredential,
  options: SecretClientOptions = {},
): SecretClient {
  const url = emulator.vaultUrls[vault];
  if (!url) throw new Error(`no vault ${vault}`);
  return new SecretClient(url, credential, {
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: emulator.caCertPem },
    ...options,
  });
}

/** Runs `fn` and returns the RestError it throws (fails the test when it does not throw one). */
export async function restErrorOf(fn: () => Promise<unknown>): Promise<RestError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof RestError) return error;
    throw error;
  }
  throw new Error('expected a RestError, but the call succeeded');
}

/** `details.error.innerError.code` as the SDK surfaces it. */
export function innerCode(error: RestError): string | undefined {
  return (error.details as { error?: { innerError?: { code?: string } } } | undefined)?.error?.innerError?.code;
}

export interface CapturedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A small webhook that records what it receives and answers with scripted statuses (then 200). */
export interface Webhook {
  url: string;
  received: CapturedRequest[];
  /** Statuses for the next requests, in order. */
  script: number[];
  /** When set, requests wait for this promise before being answered. */
  hold?: Promise<void>;
  /** Resolves when `count` requests have been received. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhook(): Promise<Webhook> {
  const waiters: { count: number; resolve: () => void }[] = [];
  const hook: Webhook = {
    url: '',
    received: [],
    script: [],
    waitFor(count) {
      if (hook.received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hook.received.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const w of waiters.filter((x) => hook.received.length >= x.count)) w.resolve();
      const status = hook.script.shift() ?? 200;
      const answer = (): void => {
        res.writeHead(status);
        res.end();
      };
      if (hook.hold) hook.hold.then(answer, answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  hook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  return hook;
}
