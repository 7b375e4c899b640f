import type { NewCredential, RetireOptions, Rotator, SetCredentialOptions, SlotPair } from '../contract.js';
import { RotatorError } from '../contract.js';
import { scramSha256Verifier } from './scram.js';

/** The calls the rotator makes on a PostgreSQL session (a `pg.Client` in production): consumer-owned and narrow. */
export interface PgSession {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

export interface PostgresRotatorOptions {
  /** The two login roles (slots). */
  readonly roles: SlotPair;
  /** Where the credential lives, for messages and for the value consumers receive. */
  readonly server: { readonly host: string; readonly port: number; readonly database: string };
  /** Opens a session as the admin role (its password read by reference from a source vault). */
  readonly connectAdmin: (options: { abortSignal?: AbortSignal }) => Promise<PgSession>;
  /** Opens a session as `user` with `password`: the connection check before a value is published. */
  readonly connectAs: (user: string, password: string, options: { abortSignal?: AbortSignal }) => Promise<PgSession>;
}

/** The value a PostgreSQL credential is stored as in the source vault (JSON): what a client needs to log in. */
export interface PostgresCredentialValue {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/**
 * Rotates a PostgreSQL password over two login roles. `setCredential` runs `ALTER ROLE <slot> WITH LOGIN PASSWORD
 * '<SCRAM verifier>'` as the admin role, then logs in as the slot with the new password (`SELECT 1`) before the value
 * is handed back; `retire` runs `ALTER ROLE <slot> NOLOGIN` (sessions already open keep working; new logins fail).
 * Permission: the admin role has CREATEROLE with ADMIN OPTION on both roles (PostgreSQL 16+) or is their owner or a
 * superuser (15). Both roles must exist; the rotator never creates or drops roles.
 */
export function createPostgresRotator(options: PostgresRotatorOptions): Rotator {
  const where = `${options.server.host}:${options.server.port}/${options.server.database}`;

  async function withAdmin<T>(what: string, slot: string, fn: (session: PgSession) => Promise<T>, abortSignal?: AbortSignal): Promise<T> {
    let session: PgSession;
    try {
      session = await options.connectAdmin(abortSignal ? { abortSignal } : {});
    } catch (error) {
      throw classifyPgError(error, `connect as admin to ${where}`);
    }
    try {
      return await fn(session);
    } catch (error) {
      throw classifyPgError(error, `${what} role "${slot}" on ${where}`);
    } finally {
      await session.end().catch(() => undefined);
    }
  }

  async function ensureRole(session: PgSession, slot: string): Promise<void> {
    const found = await session.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [slot]);
    if (found.rows.length === 0) {
      throw new RotatorError(`role "${slot}" does not exist on ${where}; create both slot roles first`, 'FailedValidation', 'slot-role-missing', false);
    }
  }

  return {
    kind: 'postgres',
    slots: options.roles,
    async setCredential(slot: string, call: SetCredentialOptions): Promise<NewCredential> {
      assertSlot(options.roles, slot);
      const password = call.generate();
      await withAdmin('set the password of', slot, async (session) => {
        await ensureRole(session, slot);
        await session.query(`ALTER ROLE ${quoteIdentifier(slot)} WITH LOGIN PASSWORD ${quoteLiteral(scramSha256Verifier(password))}`);
      }, call.abortSignal);
      // The connection check: the value is published only once it is known to log in.
      let check: PgSession;
      try {
        check = await options.connectAs(slot, password, call.abortSignal ? { abortSignal: call.abortSignal } : {});
      } catch (error) {
        throw classifyPgError(error, `connection check as "${slot}" on ${where}`, 'connection-check-failed');
      }
      try {
        await check.query('SELECT 1');
      } catch (error) {
        throw classifyPgError(error, `connection check as "${slot}" on ${where}`, 'connection-check-failed');
      } finally {
        await check.end().catch(() => undefined);
      }
      const value: PostgresCredentialValue = { username: slot, password, ...options.server };
      return { value: JSON.stringify(value) };
    },
    async retire(slot: string, call: RetireOptions): Promise<void> {
      assertSlot(options.roles, slot);
      await withAdmin('lock', slot, async (session) => {
        await ensureRole(session, slot);
        await session.query(`ALTER ROLE ${quoteIdentifier(slot)} NOLOGIN`);
      }, call.abortSignal);
    },
  };
}

function assertSlot(roles: SlotPair, slot: string): void {
  if (!roles.includes(slot)) throw new RotatorError(`"${slot}" is not one of the roles ${roles.join(', ')}`, 'FailedValidation', 'slot-unknown', false);
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Classifies a `pg` error by SQLSTATE or socket code. Authentication and privilege errors are final; a server that is
 * starting, overloaded or unreachable is transient. The message keeps PostgreSQL's text, which never holds the
 * password (the statement carries a verifier, and errors do not echo statements).
 */
export function classifyPgError(error: unknown, what: string, finalReason?: string): RotatorError {
  if (error instanceof RotatorError) return error;
  // A failure reading the admin password from the source vault keeps the source's own status and retryability.
  const carried = error as { status?: unknown; reason?: unknown; retryable?: unknown; message?: unknown } | null;
  if (carried && typeof carried.status === 'string' && carried.status.startsWith('Failed') && typeof carried.reason === 'string') {
    const retryable = carried.retryable === true || carried.status === 'FailedUnavailable' || carried.status === 'FailedThrottled';
    const status: RotatorError['status'] = retryable ? 'FailedUnavailable' : carried.status === 'FailedAccessDenied' ? 'FailedAccessDenied' : 'FailedValidation';
    return new RotatorError(`${what}: ${String(carried.message)}`.slice(0, 400), status, carried.reason, retryable, { cause: error });
  }
  const code = typeof error === 'object' && error !== null ? String((error as { code?: unknown }).code ?? '') : '';
  const text = error instanceof Error ? error.message : String(error);
  const message = `${what}: ${code ? `${code} ` : ''}${text}`.slice(0, 400);
  if (code === '28P01' || code === '28000') return new RotatorError(message, 'FailedAccessDenied', finalReason ?? 'login-refused', false, { cause: error });
  if (code === '42501') return new RotatorError(message, 'FailedAccessDenied', 'insufficient-privilege', false, { cause: error });
  if (code === '3D000') return new RotatorError(message, 'FailedValidation', 'database-missing', false, { cause: error });
  if (code === '42704') return new RotatorError(message, 'FailedValidation', 'slot-role-missing', false, { cause: error });
  const transient = code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || /^E[A-Z]+$/.test(code) || /timeout|terminated|ECONN/i.test(text);
  if (transient) return new RotatorError(message, 'FailedUnavailable', 'owner-unavailable', true, { cause: error });
  // Other server errors (e.g. a syntax error "at or near" a token of the statement) are named by SQLSTATE only.
  const bare = code ? `${what}: SQLSTATE ${code}` : message;
  return new RotatorError(bare, 'FailedValidation', finalReason ?? 'owner-rejected', false, { cause: error });
}
