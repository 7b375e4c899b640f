/**
 * The poster of bench/webhook.ts in a process of its own, as Event Grid is a service of its own: the benchmark's
 * process also runs the Key Vault and Kubernetes emulators, which serve the relays a burst starts, and a poster on that
 * event loop would time the emulators' work as the webhook's. Each IPC message `{ webhook, inFlight, posts, vault? }`
 * is one burst: every post's body is POSTed (`inFlight` at a time), after a read of `read` from the source vault when a
 * post has one (the naive answer path's source read, done by the poster); the answer is `{ times, seconds }` (ms per
 * post as the poster sees it, the burst's wall time) or `{ error }`.
 */
import { SecretClient } from '@azure/keyvault-secrets';

interface Post {
  readonly body: unknown;
  readonly read?: { readonly name: string; readonly version: string };
}

interface BurstMessage {
  readonly webhook: string;
  readonly inFlight: number;
  readonly posts: readonly Post[];
  readonly vault?: { readonly url: string; readonly ca: string };
}

let source: SecretClient | undefined;
let sourceUrl: string | undefined;

function sourceFor(vault: { url: string; ca: string }): SecretClient {
  if (!source || sourceUrl !== vault.url) {
    const credential = { getToken: async () => ({ token: 'bench', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    source = new SecretClient(vault.url, credential, { tlsOptions: { ca: vault.ca }, disableChallengeResourceVerification: true } as never);
    sourceUrl = vault.url;
  }
  return source;
}

async function post(webhook: string, body: unknown): Promise<void> {
  const response = await fetch(webhook, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
    body: JSON.stringify(body),
  });
  await response.text();
  if (response.status < 200 || response.status > 204) throw new Error(`webhook answered ${response.status}`);
}

async function burst(message: BurstMessage): Promise<{ times: number[]; seconds: number }> {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: message.inFlight }, async () => {
      while (next < message.posts.length) {
        const one = message.posts[next]!;
        next += 1;
        const t0 = performance.now();
        if (one.read) {
          // The naive path's read (404 here: synthetic versions).
          await sourceFor(message.vault!)
            .getSecret(one.read.name, { version: one.read.version })
            .catch((error: { statusCode?: number }) => {
              if (error.statusCode !== 404) throw error;
            });
        }
        await post(message.webhook, one.body);
        times.push(performance.now() - t0);
      }
    }),
  );
  return { times, seconds: (performance.now() - started) / 1000 };
}

process.on('message', (message) => {
  if (message === 'close') process.exit(0);
  burst(message as BurstMessage).then(
    (result) => process.send?.(result),
    (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }),
  );
});
process.send?.({ ready: true });
