import { randomBytes } from 'node:crypto';
import type { TargetConfig } from '../domain/config.js';

/** The name of the probe secret `target check` writes and deletes in a Key Vault target. */
export const KEY_VAULT_PROBE_NAME = 'secret-relay-preflight';

/** The result of one permission probe. */
export type PermissionResult = 'allowed' | 'denied' | 'failed' | 'not-probed';

export interface PermissionCheck {
  /** The permission, as its platform names it: `secrets/setSecret` (Key Vault), `create secrets` (Kubernetes). */
  readonly permission: string;
  readonly result: PermissionResult;
  /** Whether deliveries need it (a missing optional one only disables a feature, named in `detail`). */
  readonly required: boolean;
  /** Why: the service's code or reason, or what the permission is for (never a value). */
  readonly detail?: string;
}

/** `target check`'s answer. `ok` when every required permission is `allowed`. */
export interface TargetCheckResult {
  readonly targetId: string;
  readonly kind: 'keyVault' | 'kubernetes';
  /** `contoso.vault.azure.net` or `edge-1/apps`. */
  readonly location: string;
  readonly ok: boolean;
  readonly checks: readonly PermissionCheck[];
}

/**
 * The Key Vault calls a preflight makes, over the target's own `SecretClient` (the relay identity's). Each throws
 * the SDK's error (with `statusCode` and `code`) when the vault refuses.
 */
export interface KeyVaultPreflightApi {
  /** Reads one page (one item) of secret properties. Permission: secrets/readMetadata (access policy list). */
  listOnePage(options?: { abortSignal?: AbortSignal }): Promise<void>;
  /** Writes a version. Permission: secrets/setSecret. */
  setSecret(name: string, value: string, options: { tags: Record<string, string>; contentType: string; abortSignal?: AbortSignal }): Promise<void>;
  /** Sends the soft delete (does not wait for it). Permission: secrets/delete. */
  deleteSecret(name: string, options?: { abortSignal?: AbortSignal }): Promise<void>;
}

/** A SelfSubjectAccessReview in the target's cluster, with the relay's credential for it. */
export interface KubernetesAccessReviewer {
  review(attributes: { verb: string; group: string; resource: string; namespace: string }, options?: { abortSignal?: AbortSignal }): Promise<{ allowed: boolean; reason?: string }>;
}

/** What `checkTarget` reaches the target through (built by the composition root). */
export interface PreflightPorts {
  readonly keyVault?: KeyVaultPreflightApi;
  readonly kubernetes?: KubernetesAccessReviewer;
}

export interface CheckTargetOptions {
  /** Some route restarts Deployments after a delivery to this target: `get`/`patch deployments` become required. */
  readonly needsRestarts?: boolean;
  readonly abortSignal?: AbortSignal;
}

/**
 * Preflight of one target with the relay's identity, before (or after) anything is routed there; one named result per
 * permission. Key Vault: lists one page of metadata, writes the probe secret {@link KEY_VAULT_PROBE_NAME} (tagged
 * `managed-by=secret-relay`, `relay-probe=true`, a random value) and soft-deletes it. The probe stays soft-deleted
 * for the vault's retention period (the relay has no purge permission); a later check's write then answers 409
 * "deleted but recoverable", which proves the write was authorized, and writes nothing. Recover is not probed (it
 * would bring the probe back). Kubernetes: one SelfSubjectAccessReview per verb the relay uses in the namespace;
 * nothing is written. Never throws for a refusal or an unreachable target: those are results.
 */
export async function checkTarget(target: TargetConfig, ports: PreflightPorts, options: CheckTargetOptions = {}): Promise<TargetCheckResult> {
  const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  if (target.kind === 'keyVault') {
    const location = new URL(target.vaultUrl).host;
    const api = ports.keyVault;
    if (!api) throw new Error(`no Key Vault preflight port for target ${target.id}`);
    const checks: PermissionCheck[] = [];
    checks.push(await probe('secrets/readMetadata', true, () => api.listOnePage(signal)));
    const tags = { 'managed-by': 'secret-relay', 'relay-probe': 'true' };
    const written = await probe('secrets/setSecret', true, () =>
      api.setSecret(KEY_VAULT_PROBE_NAME, randomBytes(16).toString('base64url'), { tags, contentType: 'secret-relay/probe', ...signal }),
      { 409: 'allowed: the probe name is soft-deleted from an earlier check and the vault authorized the write (nothing written)' },
    );
    checks.push(written);
    const wrote = written.result === 'allowed' && written.detail === undefined;
    const deleted = await probe('secrets/delete', false, () => api.deleteSecret(KEY_VAULT_PROBE_NAME, signal), {
      404: 'allowed: nothing to delete and the vault authorized the delete',
    });
    checks.push(
      deleted.result !== 'allowed' && wrote
        ? { ...deleted, detail: `${deleted.detail ?? deleted.result}; the probe ${KEY_VAULT_PROBE_NAME} was written and stays: delete it by hand` }
        : deleted.detail === undefined
          ? { ...deleted, detail: 'removes the probe; deliveries need it only for deleteIfOwned' }
          : deleted,
    );
    checks.push({ permission: 'secrets/recover', result: 'not-probed', required: false, detail: 'needed to recover soft-deleted copies (routes with recoverDeleted); not probed: it would restore the probe' });
    return finish(target, location, checks);
  }
  const location = `${target.cluster.name}/${target.namespace}`;
  const reviewer = ports.kubernetes;
  if (!reviewer) throw new Error(`no Kubernetes preflight port for target ${target.id}`);
  const wanted: { verb: string; group: string; resource: string; required: boolean; detail?: string }[] = [
    { verb: 'get', group: '', resource: 'secrets', required: true },
    { verb: 'create', group: '', resource: 'secrets', required: true },
    { verb: 'update', group: '', resource: 'secrets', required: true },
    { verb: 'delete', group: '', resource: 'secrets', required: false, detail: 'deleteIfOwned only' },
    { verb: 'get', group: 'apps', resource: 'deployments', required: options.needsRestarts === true, detail: 'rollout restarts (restartDeployments)' },
    { verb: 'patch', group: 'apps', resource: 'deployments', required: options.needsRestarts === true, detail: 'rollout restarts (restartDeployments)' },
    { verb: 'create', group: '', resource: 'events', required: false, detail: 'Events on the Secrets (best effort)' },
    { verb: 'patch', group: '', resource: 'events', required: false, detail: 'Events on the Secrets (best effort)' },
  ];
  const checks: PermissionCheck[] = [];
  for (const want of wanted) {
    const permission = `${want.verb} ${want.group ? `${want.resource}.${want.group}` : want.resource}`;
    try {
      const answer = await reviewer.review({ verb: want.verb, group: want.group, resource: want.resource, namespace: target.namespace }, signal);
      checks.push({
        permission,
        result: answer.allowed ? 'allowed' : 'denied',
        required: want.required,
        ...(want.detail ? { detail: want.detail } : answer.reason && !answer.allowed ? { detail: answer.reason.slice(0, 200) } : {}),
      });
    } catch (error) {
      checks.push({ permission, result: 'failed', required: want.required, detail: errorDetail(error) });
    }
  }
  return finish(target, location, checks);
}

async function probe(
  permission: string,
  required: boolean,
  call: () => Promise<void>,
  authorizedRefusals: Partial<Record<number, string>> = {},
  note?: string,
): Promise<PermissionCheck> {
  const base = { permission, required, ...(note ? { detail: note } : {}) };
  try {
    await call();
    return { ...base, result: 'allowed' };
  } catch (error) {
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && authorizedRefusals[status]) return { permission, required, result: 'allowed', detail: authorizedRefusals[status] };
    if (status === 403 || status === 401) return { ...base, result: 'denied', detail: errorDetail(error) };
    return { ...base, result: 'failed', detail: errorDetail(error) };
  }
}

function finish(target: TargetConfig, location: string, checks: PermissionCheck[]): TargetCheckResult {
  return { targetId: target.id, kind: target.kind, location, ok: checks.every((c) => !c.required || c.result === 'allowed'), checks };
}

/** The service's status and code of a failure, without its free text (which may quote request content). */
function errorDetail(error: unknown): string {
  const e = (error ?? {}) as { statusCode?: unknown; code?: unknown; name?: unknown; reason?: unknown };
  const parts = [
    typeof e.statusCode === 'number' ? `HTTP ${e.statusCode}` : undefined,
    typeof e.code === 'string' ? e.code : typeof e.reason === 'string' ? e.reason : undefined,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' ') : typeof e.name === 'string' ? e.name : 'error';
}
