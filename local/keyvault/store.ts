/**
 * In-memory state of one emulated vault: secrets with their versions, soft-deleted secrets, backups.
 * Names are case-insensitive: entries are keyed by the lower-cased name and keep the casing they were created with.
 * Every method validates its input against Key Vault's limits before it changes anything.
 */
import { randomBytes } from 'node:crypto';
import {
  alreadyExists,
  badParameter,
  beingDeleted,
  beingRecovered,
  deletedButRecoverable,
  deletedSecretNotFound,
  secretNotFound,
} from './errors.js';
import { assertContentType, assertSecretName, assertTags, assertValue } from './validation.js';

export interface StoredVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  /** Unix seconds. */
  notBefore?: number;
  /** Unix seconds. */
  expiresOn?: number;
  /** Unix seconds. */
  createdOn: number;
  /** Unix seconds. */
  updatedOn: number;
}

export interface StoredSecret {
  /** The casing the secret was first created with. */
  name: string;
  /** Oldest first. */
  versions: StoredVersion[];
}

export interface DeletedSecret {
  secret: StoredSecret;
  /** Unix seconds. */
  deletedOn: number;
  /** Unix seconds. */
  scheduledPurgeOn: number;
}

export interface SetSecretInput {
  value: unknown;
  contentType?: unknown;
  tags?: unknown;
  enabled?: boolean;
  notBefore?: number;
  expiresOn?: number;
}

export interface UpdatePropertiesInput {
  contentType?: unknown;
  tags?: unknown;
  enabled?: boolean;
  notBefore?: number;
  expiresOn?: number;
}

export interface VaultStoreOptions {
  /** Delay before a deletion becomes visible at `GET /deletedsecrets/{n}` (default 0). Meanwhile 409 ObjectIsBeingDeleted. */
  deleteDelayInMs?: number;
  /** Delay before a recovered secret becomes visible at `GET /secrets/{n}` (default 0). Meanwhile 409 ObjectIsBeingRecovered. */
  recoverDelayInMs?: number;
  /** Soft-delete retention (default 90). */
  recoverableDays?: number;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
}

interface LiveEntry {
  secret: StoredSecret;
  visibleAtMs: number;
}

interface DeletedEntry extends DeletedSecret {
  visibleAtMs: number;
}

const BACKUP_FORMAT = 'secret-relay-keyvault-emulator-backup/1';

export class VaultStore {
  readonly recoverableDays: number;
  private readonly live = new Map<string, LiveEntry>();
  private readonly deleted = new Map<string, DeletedEntry>();
  private readonly deleteDelayInMs: number;
  private readonly recoverDelayInMs: number;
  private readonly nowMs: () => number;

  constructor(options: VaultStoreOptions = {}) {
    this.deleteDelayInMs = options.deleteDelayInMs ?? 0;
    this.recoverDelayInMs = options.recoverDelayInMs ?? 0;
    this.recoverableDays = options.recoverableDays ?? 90;
    this.nowMs = options.now ?? Date.now;
  }

  /** Creates a new version (and the secret when it does not exist). */
  setSecret(name: string, input: SetSecretInput): { secret: StoredSecret; version: StoredVersion } {
    assertSecretName(name);
    assertValue(input.value);
    assertContentType(input.contentType);
    assertTags(input.tags);
    const key = name.toLowerCase();
    this.assertNameUsable(key, name);
    const now = this.nowSeconds();
    const version: StoredVersion = {
      version: randomBytes(16).toString('hex'),
      value: input.value,
      enabled: input.enabled ?? true,
      createdOn: now,
      updatedOn: now,
      ...(typeof input.contentType === 'string' ? { contentType: input.contentType } : {}),
      ...(input.tags ? { tags: { ...(input.tags as Record<string, string>) } } : {}),
      ...(input.notBefore === undefined ? {} : { notBefore: input.notBefore }),
      ...(input.expiresOn === undefined ? {} : { expiresOn: input.expiresOn }),
    };
    let entry = this.live.get(key);
    if (!entry) {
      entry = { secret: { name, versions: [] }, visibleAtMs: 0 };
      this.live.set(key, entry);
    }
    entry.secret.versions.push(version);
    return { secret: entry.secret, version };
  }

  /** The given version, or the latest one when `version` is empty. 404 when missing. */
  getVersion(name: string, version?: string): { secret: StoredSecret; version: StoredVersion } {
    assertSecretName(name);
    const secret = this.getVisible(name);
    const found = version ? secret.versions.find((v) => v.version === version.toLowerCase()) : secret.versions.at(-1);
    if (!found) throw secretNotFound(version ? `${name}/${version}` : name);
    return { secret, version: found };
  }

  updateProperties(name: string, version: string | undefined, patch: UpdatePropertiesInput): { secret: StoredSecret; version: StoredVersion } {
    assertContentType(patch.contentType);
    assertTags(patch.tags);
    const found = this.getVersion(name, version);
    const target = found.version;
    if (patch.enabled !== undefined) target.enabled = patch.enabled;
    if (patch.notBefore !== undefined) target.notBefore = patch.notBefore;
    if (patch.expiresOn !== undefined) target.expiresOn = patch.expiresOn;
    if (typeof patch.contentType === 'string') target.contentType = patch.contentType;
    if (patch.tags) target.tags = { ...(patch.tags as Record<string, string>) };
    target.updatedOn = this.nowSeconds();
    return found;
  }

  /** Visible secrets, sorted by lower-cased name. */
  listSecrets(): StoredSecret[] {
    const now = this.nowMs();
    return [...this.live.entries()]
      .filter(([, e]) => e.visibleAtMs <= now)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e.secret);
  }

  /** The versions of a secret; a missing (or deleted) secret has none, as Key Vault answers 200 with an empty list. */
  listVersions(name: string): { secret?: StoredSecret; versions: StoredVersion[] } {
    assertSecretName(name);
    const entry = this.live.get(name.toLowerCase());
    if (!entry || entry.visibleAtMs > this.nowMs()) return { versions: [] };
    return { secret: entry.secret, versions: [...entry.secret.versions] };
  }

  /** Soft-deletes the secret (all versions). */
  deleteSecret(name: string): DeletedSecret {
    assertSecretName(name);
    const key = name.toLowerCase();
    const entry = this.live.get(key);
    if (!entry) throw secretNotFound(name);
    if (entry.visibleAtMs > this.nowMs()) throw beingRecovered(entry.secret.name);
    this.live.delete(key);
    const now = this.nowSeconds();
    const deleted: DeletedEntry = {
      secret: entry.secret,
      deletedOn: now,
      scheduledPurgeOn: now + this.recoverableDays * 86_400,
      visibleAtMs: this.nowMs() + this.deleteDelayInMs,
    };
    this.deleted.set(key, deleted);
    return deleted;
  }

  /** 404 until the deletion is visible. */
  getDeleted(name: string): DeletedSecret {
    assertSecretName(name);
    const entry = this.deleted.get(name.toLowerCase());
    if (!entry || entry.visibleAtMs > this.nowMs()) throw deletedSecretNotFound(name);
    return entry;
  }

  listDeleted(): DeletedSecret[] {
    const now = this.nowMs();
    return [...this.deleted.entries()]
      .filter(([, e]) => e.visibleAtMs <= now)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => e);
  }

  recover(name: string): StoredSecret {
    assertSecretName(name);
    const key = name.toLowerCase();
    const entry = this.deleted.get(key);
    if (!entry) throw deletedSecretNotFound(name);
    if (entry.visibleAtMs > this.nowMs()) throw beingDeleted(entry.secret.name);
    this.deleted.delete(key);
    this.live.set(key, { secret: entry.secret, visibleAtMs: this.nowMs() + this.recoverDelayInMs });
    return entry.secret;
  }

  purge(name: string): void {
    assertSecretName(name);
    const key = name.toLowerCase();
    const entry = this.deleted.get(key);
    if (!entry) throw deletedSecretNotFound(name);
    if (entry.visibleAtMs > this.nowMs()) throw beingDeleted(entry.secret.name);
    this.deleted.delete(key);
  }

  /** An opaque blob (base64url) that `restore` of any emulated vault accepts. It contains the values. */
  backup(name: string): string {
    assertSecretName(name);
    const secret = this.getVisible(name);
    return Buffer.from(JSON.stringify({ format: BACKUP_FORMAT, secret }), 'utf8').toString('base64url');
  }

  restore(blob: unknown): StoredSecret {
    const secret = decodeBackup(blob);
    const key = secret.name.toLowerCase();
    this.assertNameUsable(key, secret.name);
    if (this.live.has(key)) throw alreadyExists(secret.name);
    const copy: StoredSecret = { name: secret.name, versions: secret.versions.map((v) => ({ ...v })) };
    this.live.set(key, { secret: copy, visibleAtMs: 0 });
    return copy;
  }

  private getVisible(name: string): StoredSecret {
    const entry = this.live.get(name.toLowerCase());
    if (!entry || entry.visibleAtMs > this.nowMs()) throw secretNotFound(name);
    return entry.secret;
  }

  private assertNameUsable(key: string, name: string): void {
    const deleted = this.deleted.get(key);
    if (deleted) {
      throw deleted.visibleAtMs > this.nowMs() ? beingDeleted(deleted.secret.name) : deletedButRecoverable(deleted.secret.name);
    }
    const live = this.live.get(key);
    if (live && live.visibleAtMs > this.nowMs()) throw beingRecovered(live.secret.name ?? name);
  }

  private nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }
}

function decodeBackup(blob: unknown): StoredSecret {
  const invalid = badParameter('Malformed backup blob');
  if (typeof blob !== 'string' || blob.length === 0) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(blob, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!parsed || typeof parsed !== 'object') throw invalid;
  const { format, secret } = parsed as { format?: unknown; secret?: unknown };
  if (format !== BACKUP_FORMAT || !secret || typeof secret !== 'object') throw invalid;
  const { name, versions } = secret as { name?: unknown; versions?: unknown };
  if (typeof name !== 'string' || !Array.isArray(versions) || versions.length === 0) throw invalid;
  return secret as StoredSecret;
}
