/**
 * The one place `@kubernetes/client-node` is loaded at run time. The library and its dependency tree (about 900
 * modules and some 50 MiB of RSS) load on the first call that reaches a cluster (a delivery, an observation, a
 * listing, a `target check`), never at start: a config without a Kubernetes target never pays for it. Every other
 * module of the Kubernetes target imports the library's types only (`import type`), and config validation does not
 * depend on it at all.
 */
import { TransientTargetError } from '../contract.js';

/** The library's module namespace, as `import('@kubernetes/client-node')` resolves it. */
export type KubernetesClientModule = typeof import('@kubernetes/client-node');

/** The npm package the Kubernetes target talks to clusters with (named in the error when it cannot load). */
export const KUBERNETES_CLIENT_PACKAGE = '@kubernetes/client-node';

/** Where a failed import is reported (structurally a `RelayLog`). */
export interface KubernetesClientLoadLog {
  warn(message: string, properties?: Record<string, unknown>): void;
}

let loading: Promise<KubernetesClientModule> | undefined;

/**
 * Loads `@kubernetes/client-node` once per process; concurrent first callers share one import. When the import
 * fails (the package is missing from the deployment, or does not evaluate) it rejects with a `TransientTargetError`
 * (`FailedUnavailable`) whose message names the package and the cause, and logs that at warning (once per failed
 * import, on the caller's `log`), so the delivery that needed it ends with a named status and a hint instead of
 * crashing the host; the failure is not kept, and the next call tries again.
 */
export function loadKubernetesClient(options: { log?: KubernetesClientLoadLog } = {}): Promise<KubernetesClientModule> {
  loading ??= import('@kubernetes/client-node').catch((error: unknown) => {
    loading = undefined;
    const cause = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
    const failure = new TransientTargetError(
      `the Kubernetes client library ${KUBERNETES_CLIENT_PACKAGE} could not be loaded (${cause.slice(0, 300)})`,
      'FailedUnavailable',
      undefined,
      { cause: error },
    );
    const line = `${failure.message}; deliveries to Kubernetes targets fail FailedUnavailable until it loads. Hint: check that the deployed package holds node_modules/${KUBERNETES_CLIENT_PACKAGE}`;
    if (options.log) options.log.warn(line, { status: 'FailedUnavailable', reason: 'client-library-unavailable' });
    else console.warn(`[relay] ${line}`);
    throw failure;
  });
  return loading;
}
