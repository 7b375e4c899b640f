/**
 * Cluster access: builds a `KubeConfig` for a configured cluster, by one of three modes.
 * - `aad`: a Microsoft Entra token for the API server application (AKS: `6dae42f8-4368-4678-94ff-3960e28e3630`) from
 *   a `TokenCredential` (the relay's managed identity), cached and refreshed before it expires.
 * - `tokenSecret`: a bearer token stored in a source vault secret, read through the injected `readSecretValue` port
 *   and kept for `storedCredentialTtlInMs` (the composition root passes `STORED_CREDENTIAL_TTL_IN_MS`, 5 minutes), so
 *   deliveries do not read the vault each time; a rotated token is picked up when that expires, or at once when the
 *   cluster answers 401 (`invalidate()`).
 * - `kubeconfigSecret`: a whole kubeconfig stored in a source vault secret, read and kept the same way. Users that run `exec`
 *   plugins or auth providers are refused: a stored kubeconfig must not make the relay run programs.
 * The cluster CA comes from the config (`caCert` PEM or `caCertPath`); TLS verification is never disabled.
 * Credentials are never logged or put in error messages. `@kubernetes/client-node` is loaded by the first
 * `kubeConfig()` call (client.ts), not when the access is created.
 */
import { readFileSync } from 'node:fs';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { Cluster, KubeConfig, RequestContext, User } from '@kubernetes/client-node';
import type { KubernetesTargetConfig } from '../../domain/config.js';
import { loadKubernetesClient, type KubernetesClientModule } from './client.js';

/** The cluster part of a Kubernetes target's config. */
export type KubernetesClusterConfig = KubernetesTargetConfig['cluster'];

/** The AKS AAD server application (the same for every AKS cluster with Entra ID integration). */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';

/** How long the relay keeps a cluster credential read from a source vault (a 401 drops it sooner). */
export const STORED_CREDENTIAL_TTL_IN_MS = 5 * 60_000;

/** Reads a secret's current value from a configured source vault (the relay's source reader). Never logged. */
export type ReadSecretValue = (sourceId: string, name: string) => Promise<string>;

export interface ClusterAccessOptions {
  readonly cluster: KubernetesClusterConfig;
  /** Required for `aad`. */
  readonly credential?: TokenCredential;
  /** Required for `tokenSecret` and `kubeconfigSecret`. */
  readonly readSecretValue?: ReadSecretValue;
  /** Refresh an Entra token this long before it expires. Default 5 minutes. */
  readonly refreshMarginInMs?: number;
  /** How long a credential read from a source vault is kept. Default 0: read at every connection. */
  readonly storedCredentialTtlInMs?: number;
  /** Milliseconds clock; injectable for tests. */
  readonly clock?: () => number;
}

/** Hands out a `KubeConfig` that is valid now. */
export interface ClusterAccess {
  readonly clusterName: string;
  /**
   * Builds (or reuses) a `KubeConfig`; throws `ClusterAccessError` when the credential cannot be obtained, and a
   * `TransientTargetError` (`FailedUnavailable`) when the Kubernetes client library cannot be loaded.
   */
  kubeConfig(options?: { abortSignal?: AbortSignal }): Promise<KubeConfig>;
  /** Drops the kept credential (the cluster answered 401): the next `kubeConfig()` reads or requests a new one. */
  invalidate(): void;
}

/** The credential for a cluster could not be obtained or is unusable. The message never contains the credential. */
export class ClusterAccessError extends Error {
  override readonly name = 'ClusterAccessError';
}

function caOf(cluster: KubernetesClusterConfig): string | undefined {
  if (cluster.caCert) return cluster.caCert;
  if (cluster.caCertPath) {
    try {
      return readFileSync(cluster.caCertPath, 'utf8');
    } catch (error) {
      throw new ClusterAccessError(`cluster ${cluster.name}: cannot read caCertPath ${cluster.caCertPath}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return undefined;
}

/**
 * Makes every request of `kc` share one connection pool. `@kubernetes/client-node` 2.x builds a new undici Agent for
 * each request (`applySecurityAuthentication` → `createDispatcher`), so each request opened its own TLS connection
 * (a handshake of CPU and a round trip, per call). The TLS options of one KubeConfig never change (cluster CA, client
 * certificate; the token is a header), so its first dispatcher serves all its requests.
 */
function pooledConnections(kc: KubeConfig): KubeConfig {
  const apply = kc.applySecurityAuthentication.bind(kc);
  let shared: ReturnType<RequestContext['getDispatcher']>;
  kc.applySecurityAuthentication = async (context: RequestContext) => {
    await apply(context);
    const own = context.getDispatcher();
    if (own === undefined) return;
    shared ??= own;
    if (own !== shared) context.setDispatcher(shared);
  };
  return kc;
}

function kubeConfigWithToken(k8s: KubernetesClientModule, cluster: KubernetesClusterConfig, token: string): KubeConfig {
  const ca = caOf(cluster);
  const kc = new k8s.KubeConfig();
  const c: Cluster = {
    name: cluster.name,
    server: cluster.server,
    skipTLSVerify: false,
    ...(ca ? { caData: Buffer.from(ca, 'utf8').toString('base64') } : {}),
  };
  const user: User = { name: 'secret-relay', token };
  kc.loadFromOptions({ clusters: [c], users: [user], contexts: [{ name: cluster.name, cluster: cluster.name, user: user.name }], currentContext: cluster.name });
  return pooledConnections(kc);
}

function kubeConfigFromText(k8s: KubernetesClientModule, cluster: KubernetesClusterConfig, text: string): KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromString(text);
  } catch {
    throw new ClusterAccessError(`cluster ${cluster.name}: the stored kubeconfig does not parse`);
  }
  const current = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!current || !user) throw new ClusterAccessError(`cluster ${cluster.name}: the stored kubeconfig has no usable current context`);
  if (user.exec || user.authProvider) {
    throw new ClusterAccessError(`cluster ${cluster.name}: the stored kubeconfig uses an exec plugin or auth provider, which the relay refuses to run`);
  }
  if (current.skipTLSVerify) throw new ClusterAccessError(`cluster ${cluster.name}: the stored kubeconfig disables TLS verification`);
  const ca = caOf(cluster);
  if (!ca) return pooledConnections(kc);
  const patched: Cluster = { ...current, caData: Buffer.from(ca, 'utf8').toString('base64') };
  delete (patched as { caFile?: string }).caFile;
  const contextName = kc.getCurrentContext();
  kc.loadFromOptions({
    clusters: [patched],
    users: [user],
    contexts: [{ name: contextName, cluster: patched.name, user: user.name }],
    currentContext: contextName,
  });
  return pooledConnections(kc);
}

async function readStored(options: ClusterAccessOptions, source: string, secret: string): Promise<string> {
  if (!options.readSecretValue) throw new ClusterAccessError(`cluster ${options.cluster.name}: no secret reader configured for ${options.cluster.auth.type}`);
  try {
    return await options.readSecretValue(source, secret);
  } catch (error) {
    throw new ClusterAccessError(`cluster ${options.cluster.name}: cannot read secret "${secret}" from source "${source}"`, { cause: error });
  }
}

/**
 * Creates the access of one cluster. Permission: for `aad`, the identity needs a Kubernetes RBAC binding in the
 * cluster (Azure RBAC for Kubernetes or a RoleBinding to its object id); for the secret modes, Key Vault Secrets User
 * on the stored credential. Repeated calls to `kubeConfig()` reuse an Entra token until shortly before it expires,
 * and a stored credential for `storedCredentialTtlInMs`.
 */
export function createClusterAccess(options: ClusterAccessOptions): ClusterAccess {
  const { cluster } = options;
  const clock = options.clock ?? Date.now;
  const margin = options.refreshMarginInMs ?? 5 * 60_000;
  const storedTtlInMs = Math.max(0, options.storedCredentialTtlInMs ?? 0);
  let cached: { token: AccessToken; kc: KubeConfig } | undefined;
  // A stored credential being read: concurrent deliveries share one read; kept until `expiresAt`.
  let stored: { expiresAt: number; kc: Promise<KubeConfig> } | undefined;

  const keepStored = (build: () => Promise<KubeConfig>): Promise<KubeConfig> => {
    const now = clock();
    if (stored && stored.expiresAt > now) return stored.kc;
    const kc = build();
    const entry = { expiresAt: now + storedTtlInMs, kc };
    stored = storedTtlInMs > 0 ? entry : undefined;
    kc.catch(() => {
      if (stored === entry) stored = undefined;
    });
    return kc;
  };

  return {
    clusterName: cluster.name,
    invalidate() {
      cached = undefined;
      stored = undefined;
    },
    async kubeConfig(callOptions = {}) {
      const auth = cluster.auth;
      switch (auth.type) {
        case 'aad': {
          if (cached && cached.token.expiresOnTimestamp - margin > clock()) return cached.kc;
          const k8s = await loadKubernetesClient();
          if (!options.credential) throw new ClusterAccessError(`cluster ${cluster.name}: no credential for Entra ID access`);
          let token: AccessToken | null;
          try {
            token = await options.credential.getToken(`${auth.serverAppId}/.default`, callOptions.abortSignal ? { abortSignal: callOptions.abortSignal } : {});
          } catch (error) {
            throw new ClusterAccessError(`cluster ${cluster.name}: cannot get an Entra token for ${auth.serverAppId}`, { cause: error });
          }
          if (!token) throw new ClusterAccessError(`cluster ${cluster.name}: the credential returned no token for ${auth.serverAppId}`);
          cached = { token, kc: kubeConfigWithToken(k8s, cluster, token.token) };
          return cached.kc;
        }
        case 'tokenSecret':
          return keepStored(async () => {
            const k8s = await loadKubernetesClient();
            const token = (await readStored(options, auth.source, auth.secret)).trim();
            if (!token) throw new ClusterAccessError(`cluster ${cluster.name}: secret "${auth.secret}" is empty`);
            return kubeConfigWithToken(k8s, cluster, token);
          });
        case 'kubeconfigSecret':
          return keepStored(async () => {
            const k8s = await loadKubernetesClient();
            return kubeConfigFromText(k8s, cluster, await readStored(options, auth.source, auth.secret));
          });
      }
    },
  };
}
