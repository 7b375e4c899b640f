import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SecretClient } from '@azure/keyvault-secrets';
import pg from 'pg';
import { DEMO_DB } from './postgres.js';
import type { StackInfo } from './stack.js';

/** What the demo saw: every login attempt of the client, and the rotation's outcome as the status API reported it. */
export interface DbRotationDemoResult {
  readonly attempts: number;
  /** Failed logins, each with PostgreSQL's error code and the role the client tried (never the password). */
  readonly failures: readonly { readonly role: string; readonly code: string }[];
  /** Roles the client logged in as, in the order first seen (the old slot, then the new one). */
  readonly roles: readonly string[];
  readonly rotationId: string;
  readonly status: { runtimeStatus: string; slot?: string | null; retirement?: { outcome: string; slot?: string; reason?: string } } & Record<string, unknown>;
}

/**
 * The demo step of docs/rotation.md: a client reads the database credential from the customer vault (contoso) and
 * logs in to PostgreSQL with it every `intervalInMs` (default 100 ms), while the relay rotates it through
 * `POST /api/rotations`; the client keeps going until the rotation has finished and it has logged in with the new role.
 */
export async function runDbRotationDemo(info: StackInfo, options: { intervalInMs?: number; log?: (line: string) => void } = {}): Promise<DbRotationDemoResult> {
  const interval = options.intervalInMs ?? 100;
  const log = options.log ?? (() => undefined);
  const vault = new SecretClient(info.keyVault.vaults['contoso']!, { getToken: async () => ({ token: 'demo', expiresOnTimestamp: Date.now() + 3_600_000 }) }, {
    tlsOptions: { ca: readFileSync(info.keyVault.caCertPath, 'utf8') },
    disableChallengeResourceVerification: true,
  });
  const api = `${info.functions.baseUrl}/api`;
  const headers = { 'x-functions-key': info.functions.key, 'content-type': 'application/json' };
  const failures: { role: string; code: string }[] = [];
  const roles: string[] = [];
  let attempts = 0;
  let stop = false;

  const client = (async () => {
    while (!stop) {
      const next = new Promise((r) => setTimeout(r, interval));
      let role = '?';
      try {
        const credential = JSON.parse((await vault.getSecret(DEMO_DB.credentialSecret)).value ?? '{}') as { username: string; password: string; host: string; port: number; database: string };
        role = credential.username;
        attempts++;
        const session = new pg.Client({ host: credential.host, port: credential.port, database: credential.database, user: credential.username, password: credential.password });
        session.on('error', () => undefined);
        try {
          await session.connect();
          const row = (await session.query('SELECT current_user AS role')).rows[0] as { role: string };
          if (!roles.includes(row.role)) {
            roles.push(row.role);
            log(`client logged in as ${row.role}`);
          }
        } finally {
          await session.end().catch(() => undefined);
        }
      } catch (error) {
        const code = String((error as { code?: unknown }).code ?? (error as Error).name);
        failures.push({ role, code });
        log(`client login as ${role} FAILED: ${code}`);
      }
      await next;
    }
  })();

  try {
    await waitFor(() => roles.length > 0, 60_000, 'the client never logged in with the credential in contoso');
    const started = await fetch(`${api}/rotations`, { method: 'POST', headers, body: JSON.stringify({ source: 'platform', name: DEMO_DB.credentialSecret, mode: 'rotate' }) });
    const rotationId = ((await started.json()) as { id: string }).id;
    log(`rotation ${rotationId} started`);
    let status: DbRotationDemoResult['status'] = { runtimeStatus: 'Pending' };
    await waitFor(async () => {
      status = (await (await fetch(`${api}/rotations/${encodeURIComponent(rotationId)}`, { headers })).json()) as DbRotationDemoResult['status'];
      return ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus);
    }, 120_000, `rotation ${rotationId} did not finish`);
    const newRole = status.slot;
    if (newRole) await waitFor(() => roles.includes(newRole), 60_000, `the client never logged in as ${newRole}`);
    // A few more logins after the retirement: the client must not be using the locked role.
    const after = attempts + 3;
    await waitFor(() => attempts >= after, 30_000, 'the client stopped');
    log(`rotation ${status.runtimeStatus}: slot ${status.slot ?? '?'} active, previous slot ${status.retirement?.outcome ?? '?'}`);
    return { attempts, failures, roles, rotationId, status };
  } finally {
    stop = true;
    await client;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutInMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const stateDir = resolve(process.env.RELAY_STATE_DIR ?? '.local');
  const info = JSON.parse(readFileSync(resolve(stateDir, 'stack.json'), 'utf8')) as StackInfo;
  if (!info.postgres) throw new Error('the running stack has no demo database (PostgreSQL is not installed)');
  const result = await runDbRotationDemo(info, { log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${result.attempts} logins, ${result.failures.length} failed; roles used: ${result.roles.join(' → ')}\n`);
  process.exitCode = result.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
