/**
 * The narrow slice of the Kubernetes API the target uses, owned by the target (tests can fake it), and its
 * implementation over `@kubernetes/client-node`'s `CoreV1Api`/`AppsV1Api`. Wire models (`V1Secret`) are converted here
 * and go no further.
 */
import type { AppsV1Api, CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { loadKubernetesClient } from './client.js';
import { isNotFound } from './errors.js';
import { sdkEventsApi, type KubernetesEventsApi } from './events.js';
import type { SecretState } from './marks.js';

/** Items per list request, as kubectl asks (`limit=500`); large namespaces are read in pages. */
export const LIST_PAGE_SIZE = 500;

/** A Secret to create or replace (data base64). */
export interface SecretWrite {
  readonly name: string;
  readonly type: string;
  /** Required for a replace: the write fails with 409 when the Secret changed since. */
  readonly resourceVersion?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
  /** Fields of the current object the relay does not manage, carried over unchanged on replace. */
  readonly preserve?: Readonly<Record<string, unknown>>;
}

/** What a write answered: the Secret's new resourceVersion and its uid. */
export interface SecretWritten {
  readonly resourceVersion: string;
  readonly uid?: string;
}

/** The calls the target makes, all in one namespace. Errors are the SDK's (`ApiException`) and are classified by the caller. */
export interface KubernetesSecretsApi {
  /** `get secrets`; undefined when absent. */
  readSecret(name: string): Promise<SecretState | undefined>;
  /** `create secrets`. */
  createSecret(secret: SecretWrite): Promise<SecretWritten>;
  /** `update secrets` with the resourceVersion precondition. */
  replaceSecret(secret: SecretWrite): Promise<SecretWritten>;
  /** `delete secrets` with a resourceVersion precondition; false when already absent. */
  deleteSecret(name: string, resourceVersion: string): Promise<boolean>;
  /** `list deployments`: names and annotations, for annotated rollout restarts; reads every page (`limit`/`continue`). */
  listDeployments(): Promise<{ name: string; annotations: Readonly<Record<string, string>> }[]>;
  /** `patch deployments`: merges annotations into `spec.template.metadata.annotations` (a rollout restart). */
  patchPodTemplateAnnotations(name: string, annotations: Readonly<Record<string, string>>): Promise<void>;
  /** `create`/`patch events`: the Events the relay records about its Secrets (best effort). */
  readonly events: KubernetesEventsApi;
}

/** Converts a `V1Secret` into the target's model. */
export function secretStateFrom(secret: V1Secret, namespace: string): SecretState {
  const meta = secret.metadata ?? {};
  return {
    name: meta.name ?? '',
    namespace: meta.namespace ?? namespace,
    type: secret.type ?? 'Opaque',
    resourceVersion: meta.resourceVersion ?? '',
    ...(meta.uid ? { uid: meta.uid } : {}),
    immutable: secret.immutable === true,
    labels: { ...(meta.labels ?? {}) },
    annotations: { ...(meta.annotations ?? {}) },
    data: { ...(secret.data ?? {}) },
    preserve: preservedFields(secret),
  };
}

/** Everything of a read Secret the relay does not manage (ownerReferences, finalizers, uid, immutable, …). */
function preservedFields(secret: V1Secret): Record<string, unknown> {
  const { data: _data, stringData: _stringData, type: _type, metadata, ...rest } = secret;
  const { labels: _l, annotations: _a, resourceVersion: _rv, name: _n, namespace: _ns, ...meta } = metadata ?? {};
  return { ...rest, metadata: meta };
}

function toV1Secret(secret: SecretWrite, namespace: string): V1Secret {
  return {
    ...(secret.preserve ?? {}),
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...((secret.preserve?.metadata as object | undefined) ?? {}),
      name: secret.name,
      namespace,
      labels: { ...secret.labels },
      annotations: { ...secret.annotations },
      ...(secret.resourceVersion ? { resourceVersion: secret.resourceVersion } : {}),
    },
    type: secret.type,
    data: { ...secret.data },
  };
}

/** The `KubernetesSecretsApi` of one namespace over the real SDK clients. */
export function sdkSecretsApi(core: CoreV1Api, apps: AppsV1Api, namespace: string, options: { listPageSize?: number } = {}): KubernetesSecretsApi {
  const limit = options.listPageSize ?? LIST_PAGE_SIZE;
  return {
    async readSecret(name) {
      try {
        return secretStateFrom(await core.readNamespacedSecret({ name, namespace }), namespace);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async createSecret(secret) {
      return writtenOf(await core.createNamespacedSecret({ namespace, body: toV1Secret(secret, namespace) }));
    },
    async replaceSecret(secret) {
      return writtenOf(await core.replaceNamespacedSecret({ name: secret.name, namespace, body: toV1Secret(secret, namespace) }));
    },
    async deleteSecret(name, resourceVersion) {
      try {
        await core.deleteNamespacedSecret({ name, namespace, body: { preconditions: { resourceVersion } } });
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
    async listDeployments() {
      const found: { name: string; annotations: Readonly<Record<string, string>> }[] = [];
      let continueToken: string | undefined;
      do {
        const page = await apps.listNamespacedDeployment({ namespace, limit, ...(continueToken ? { _continue: continueToken } : {}) });
        for (const d of page.items) found.push({ name: d.metadata?.name ?? '', annotations: { ...(d.metadata?.annotations ?? {}) } });
        continueToken = page.metadata?._continue || undefined;
      } while (continueToken);
      return found;
    },
    async patchPodTemplateAnnotations(name, annotations) {
      // Loaded already: `apps` is one of its clients.
      const { PatchStrategy, setHeaderOptions } = await loadKubernetesClient();
      await apps.patchNamespacedDeployment(
        { name, namespace, body: { spec: { template: { metadata: { annotations } } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
    events: sdkEventsApi(core, namespace),
  };
}

function writtenOf(secret: V1Secret): SecretWritten {
  return { resourceVersion: secret.metadata?.resourceVersion ?? '', ...(secret.metadata?.uid ? { uid: secret.metadata.uid } : {}) };
}
