/**
 * Wire models of the Key Vault secrets REST API (platform-facts.md §3.2) and the one place stored state is converted
 * into them. Ids are built from the origin the client used, so the SDK parses back the vault URL it called.
 */
import type { DeletedSecret, StoredSecret, StoredVersion } from './store.js';

export const RECOVERY_LEVEL = 'Recoverable+Purgeable';

export interface SecretAttributesWire {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  recoveryLevel: string;
  recoverableDays: number;
}

export interface SecretBundleWire {
  value?: string;
  id: string;
  contentType?: string;
  attributes: SecretAttributesWire;
  tags?: Record<string, string>;
}

export interface DeletedSecretBundleWire extends SecretBundleWire {
  recoveryId: string;
  deletedDate: number;
  scheduledPurgeDate: number;
}

export interface SecretItemWire {
  id: string;
  contentType?: string;
  attributes: SecretAttributesWire;
  tags?: Record<string, string>;
}

export interface DeletedSecretItemWire extends SecretItemWire {
  recoveryId: string;
  deletedDate: number;
  scheduledPurgeDate: number;
}

export interface PageWire<T> {
  value: T[];
  nextLink: string | null;
}

export interface WireContext {
  /** `https://127.0.0.1:port`, no trailing slash. */
  origin: string;
  recoverableDays: number;
}

export function secretId(origin: string, name: string, version?: string): string {
  return version ? `${origin}/secrets/${name}/${version}` : `${origin}/secrets/${name}`;
}

function attributes(v: StoredVersion, ctx: WireContext): SecretAttributesWire {
  return {
    enabled: v.enabled,
    ...(v.notBefore === undefined ? {} : { nbf: v.notBefore }),
    ...(v.expiresOn === undefined ? {} : { exp: v.expiresOn }),
    created: v.createdOn,
    updated: v.updatedOn,
    recoveryLevel: RECOVERY_LEVEL,
    recoverableDays: ctx.recoverableDays,
  };
}

function common(v: StoredVersion, ctx: WireContext): Pick<SecretBundleWire, 'contentType' | 'attributes' | 'tags'> {
  return {
    ...(v.contentType === undefined ? {} : { contentType: v.contentType }),
    attributes: attributes(v, ctx),
    ...(v.tags === undefined ? {} : { tags: { ...v.tags } }),
  };
}

/** A SecretBundle; the value is included only for get/set answers. */
export function toSecretBundle(secret: StoredSecret, v: StoredVersion, ctx: WireContext, options: { includeValue: boolean }): SecretBundleWire {
  return {
    ...(options.includeValue ? { value: v.value } : {}),
    id: secretId(ctx.origin, secret.name, v.version),
    ...common(v, ctx),
  };
}

/** A SecretItem: versionless id for `/secrets`, versioned id for `/secrets/{n}/versions`. */
export function toSecretItem(secret: StoredSecret, v: StoredVersion, ctx: WireContext, options: { withVersion: boolean }): SecretItemWire {
  return { id: secretId(ctx.origin, secret.name, options.withVersion ? v.version : undefined), ...common(v, ctx) };
}

function deletedFields(d: DeletedSecret, ctx: WireContext): Pick<DeletedSecretBundleWire, 'recoveryId' | 'deletedDate' | 'scheduledPurgeDate'> {
  return {
    recoveryId: `${ctx.origin}/deletedsecrets/${d.secret.name}`,
    deletedDate: d.deletedOn,
    scheduledPurgeDate: d.scheduledPurgeOn,
  };
}

function latest(secret: StoredSecret): StoredVersion {
  const v = secret.versions.at(-1);
  if (!v) throw new Error(`secret ${secret.name} has no versions`);
  return v;
}

/** A DeletedSecretBundle of the latest version, without the value. */
export function toDeletedBundle(d: DeletedSecret, ctx: WireContext): DeletedSecretBundleWire {
  return { ...deletedFields(d, ctx), ...toSecretBundle(d.secret, latest(d.secret), ctx, { includeValue: false }) };
}

export function toDeletedItem(d: DeletedSecret, ctx: WireContext): DeletedSecretItemWire {
  return { ...deletedFields(d, ctx), ...toSecretItem(d.secret, latest(d.secret), ctx, { withVersion: false }) };
}

export function latestVersion(secret: StoredSecret): StoredVersion {
  return latest(secret);
}
