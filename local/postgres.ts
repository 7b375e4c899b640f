import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { scramSha256Verifier } from '../shared/rotation/index.js';

/** A PostgreSQL server started for the local stack or a test: data in a temp dir, a free port, one admin role. */
export interface LocalPostgres {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly adminUser: string;
  /** Password of the admin role (local, random per start). */
  readonly adminPassword: string;
  /** Runs SQL as the admin (test and demo set-up). */
  query(sql: string, values?: unknown[]): Promise<pg.QueryResult>;
  stop(): Promise<void>;
}

/** Where the PostgreSQL binaries are (`initdb`, `pg_ctl`, `postgres`): the PATH, else Debian's /usr/lib/postgresql/N/bin. */
export function findPostgresBinaries(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return join(onPath, '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** Why PostgreSQL cannot be started here, or undefined when it can. */
export function postgresUnavailableReason(): string | undefined {
  return findPostgresBinaries() ? undefined : 'PostgreSQL is not installed (no initdb on the PATH or in /usr/lib/postgresql/*/bin; Debian: apt-get install postgresql)';
}

/**
 * Starts a throw-away PostgreSQL server: `initdb` into a temp dir (SCRAM authentication), then `postgres` on
 * 127.0.0.1 at a free port. As root (containers), the server runs as the `postgres` user, as PostgreSQL requires.
 * Throws when the binaries are missing (check `postgresUnavailableReason()` first).
 */
export async function startPostgres(options: { database?: string } = {}): Promise<LocalPostgres> {
  const bin = findPostgresBinaries();
  if (!bin) throw new Error(postgresUnavailableReason());
  const dir = mkdtempSync(join(tmpdir(), 'relay-pg-'));
  const adminUser = 'relay_admin';
  const adminPassword = randomBytes(18).toString('base64url');
  // PostgreSQL refuses to run as root: in containers, run it as the `postgres` user (a direct child, so signals reach it).
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o700);
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, `${adminPassword}\n`, { mode: 0o600 });
  if (owner) chownSync(pwFile, owner.uid, owner.gid);
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const data = join(dir, 'data');
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', adminUser, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-sync'], {
    encoding: 'utf8',
    cwd: dir,
    ...as,
  });
  rmSync(pwFile, { force: true });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${(init.stderr || init.stdout).slice(-500)}`);
  }

  let child: ChildProcess | undefined;
  let port = 0;
  let lastError = '';
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    const args = ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off'];
    const started = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...as });
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString('utf8')}`.slice(-2000);
    });
    if (await waitReady(port, adminUser, adminPassword, started)) child = started;
    else {
      lastError = stderr;
      started.kill('SIGTERM');
    }
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postgres did not start: ${lastError.slice(-500)}`);
  }
  const server = child;

  const database = options.database ?? 'postgres';
  const query = async (sql: string, values?: unknown[]) => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: adminUser, password: adminPassword, database });
    await client.connect();
    try {
      return await client.query(sql, values);
    } finally {
      await client.end();
    }
  };
  if (database !== 'postgres') {
    const admin = new pg.Client({ host: '127.0.0.1', port, user: adminUser, password: adminPassword, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    await admin.end();
  }
  return {
    host: '127.0.0.1',
    port,
    database,
    adminUser,
    adminPassword,
    query,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise<void>((resolveExit) => server.once('exit', () => resolveExit()));
        // SIGINT = PostgreSQL's "fast" shutdown: sessions are ended, no checkpoint wait.
        server.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (server.exitCode === null) server.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitReady(port: number, user: string, password: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) return false;
    const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres', connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root, but there is no "postgres" user to run PostgreSQL as');
  return { uid, gid };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, rejectPort) => {
    const probe = createServer();
    probe.once('error', rejectPort);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

/** The demo database credential: two login roles (slots) in database `orders`, routed to contoso and edge-1. */
export const DEMO_DB = {
  database: 'orders',
  group: 'orders_app',
  roles: ['orders_app_blue', 'orders_app_green'] as const,
  credentialSecret: 'orders-db-credential',
  adminPasswordSecret: 'orders-db-admin-password',
} as const;

/** The part of the Key Vault emulator the demo set-up uses. */
interface DemoVault {
  createSecret(vault: string, name: string, value: string, options?: { tags?: Record<string, string>; contentType?: string; emitEvent?: boolean }): unknown;
}

/**
 * Starts PostgreSQL for the local stack's demo when it is installed (undefined, with a line on stderr, when not):
 * database `orders`, a NOLOGIN group role and its two login roles, the admin password in the platform vault (the
 * rotator reads it by reference, as in Azure).
 */
export async function startDemoPostgres(keyVault: DemoVault, log: (line: string) => void): Promise<LocalPostgres | undefined> {
  const unavailable = postgresUnavailableReason();
  if (unavailable) {
    log(`demo database credential disabled: ${unavailable}`);
    return undefined;
  }
  const server = await startPostgres({ database: DEMO_DB.database });
  try {
    await server.query(`CREATE ROLE ${DEMO_DB.group} NOLOGIN`);
    await server.query(`GRANT CONNECT ON DATABASE ${DEMO_DB.database} TO ${DEMO_DB.group}`);
    for (const role of DEMO_DB.roles) await server.query(`CREATE ROLE ${role} NOLOGIN IN ROLE ${DEMO_DB.group}`);
    keyVault.createSecret('platform', DEMO_DB.adminPasswordSecret, server.adminPassword, { emitEvent: false });
    return server;
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * Gives the first slot role a password and publishes it as the demo credential's first version (tagged with its
 * slot), after the host listens to the platform vault, so the relay delivers it to every target as usual.
 */
export async function seedDemoCredential(keyVault: DemoVault, server: LocalPostgres): Promise<void> {
  const password = randomBytes(24).toString('base64url');
  const role = DEMO_DB.roles[0];
  // A SCRAM verifier, not the password, so it never shows in pg_stat_activity or the server log (as the rotator does).
  await server.query(`ALTER ROLE ${role} WITH LOGIN PASSWORD '${scramSha256Verifier(password)}'`);
  const value = JSON.stringify({ username: role, password, host: server.host, port: server.port, database: server.database });
  keyVault.createSecret('platform', DEMO_DB.credentialSecret, value, { contentType: 'application/json', tags: { 'relay-slot': role } });
}

/** Fills `{{postgres:host}}` and `"{{postgres:port}}"` (a number) of a config template; without a server, port 5432. */
export function renderPostgresPlaceholders(text: string, server: LocalPostgres | undefined): string {
  return text.replaceAll('{{postgres:host}}', server?.host ?? '127.0.0.1').replaceAll('"{{postgres:port}}"', String(server?.port ?? 5432));
}
