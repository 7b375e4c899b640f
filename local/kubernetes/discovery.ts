/**
 * Legacy (unaggregated) discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/apps/v1`. kubectl asks for
 * aggregated discovery first and falls back to these when the server answers with plain `application/json`.
 */
import { RESOURCE_DEFS, type ResourceDef } from './store.js';

/** The Kubernetes version the emulator reports. */
export const EMULATED_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-secret-relay-emulator' } as const;

export function versionInfo(): Record<string, string> {
  return {
    ...EMULATED_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'go1.23.4',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function resourceList(groupVersion: string, defs: readonly ResourceDef[]): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: defs.map((d) => ({
      name: d.resource,
      singularName: d.singular,
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: d.verbs,
      ...(d.shortNames ? { shortNames: d.shortNames } : {}),
      storageVersionHash: Buffer.from(d.kind).toString('base64').slice(0, 11),
    })),
  };
}

export function coreV1Resources(): Record<string, unknown> {
  return resourceList('v1', Object.values(RESOURCE_DEFS).filter((d) => d.group === ''));
}

export function appsV1Resources(): Record<string, unknown> {
  return resourceList('apps/v1', Object.values(RESOURCE_DEFS).filter((d) => d.group === 'apps'));
}

export function authorizationV1Resources(): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'authorization.k8s.io/v1',
    resources: [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }],
  };
}

export function apiGroups(): Record<string, unknown> {
  const group = (name: string) => {
    const version = { groupVersion: `${name}/v1`, version: 'v1' };
    return { name, versions: [version], preferredVersion: version };
  };
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [group('apps'), group('authorization.k8s.io')] };
}
