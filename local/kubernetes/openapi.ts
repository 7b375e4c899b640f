/**
 * The OpenAPI documents kubectl fetches before `create -f`, `apply -f` and `edit`: `/openapi/v3` (the index of
 * group-version documents) and `/openapi/v3/<group-version>`. kubectl looks in them for the `fieldValidation` query
 * parameter on each kind's PATCH operation; finding it, it leaves validation to the server (`fieldValidation=Strict`)
 * instead of validating against schemas. The documents list the emulator's paths and operations with that parameter;
 * they carry no schemas (`kubectl explain` has nothing to show).
 */
import { createHash } from 'node:crypto';
import { EMULATED_VERSION } from './discovery.js';
import { RESOURCE_DEFS, type ResourceDef } from './store.js';

type GroupVersion = 'api/v1' | 'apis/apps/v1' | 'apis/authorization.k8s.io/v1';
const GROUP_VERSIONS: readonly GroupVersion[] = ['api/v1', 'apis/apps/v1', 'apis/authorization.k8s.io/v1'];

const WRITE_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation'].map((name) => ({
  name,
  in: 'query',
  description: `${name} for the write`,
  schema: { type: 'string', uniqueItems: true },
}));
const PATCH_PARAMETERS = [...WRITE_PARAMETERS, { name: 'force', in: 'query', description: 'force the apply', schema: { type: 'boolean', uniqueItems: true } }];

function gvk(def: ResourceDef): Record<string, string> {
  return { group: def.group, version: 'v1', kind: def.kind };
}

function operation(def: ResourceDef, action: string, parameters: readonly unknown[] = []): Record<string, unknown> {
  return {
    operationId: `${action}${def.kind}`,
    parameters,
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(def),
  };
}

function pathsOf(defs: readonly ResourceDef[], prefix: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const def of defs) {
    const collection = def.namespaced ? `${prefix}/namespaces/{namespace}/${def.resource}` : `${prefix}/${def.resource}`;
    const namespaceParameter = def.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [];
    paths[collection] = {
      get: operation(def, 'list'),
      post: operation(def, 'post', WRITE_PARAMETERS),
      delete: operation(def, 'deletecollection'),
      parameters: namespaceParameter,
    };
    paths[`${collection}/{name}`] = {
      get: operation(def, 'get'),
      put: operation(def, 'put', WRITE_PARAMETERS),
      patch: operation(def, 'patch', PATCH_PARAMETERS),
      delete: operation(def, 'delete'),
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, ...namespaceParameter, ...PATCH_PARAMETERS],
    };
  }
  return paths;
}

/** The OpenAPI v3 document of one group version, or undefined for one the emulator does not serve. */
export function openApiV3Document(groupVersion: string): Record<string, unknown> | undefined {
  let paths: Record<string, unknown>;
  if (groupVersion === 'api/v1') paths = pathsOf(Object.values(RESOURCE_DEFS).filter((d) => d.group === ''), '/api/v1');
  else if (groupVersion === 'apis/apps/v1') paths = pathsOf(Object.values(RESOURCE_DEFS).filter((d) => d.group === 'apps'), '/apis/apps/v1');
  else if (groupVersion === 'apis/authorization.k8s.io/v1') {
    paths = {
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews': {
        post: {
          operationId: 'createAuthorizationV1SelfSubjectAccessReview',
          parameters: WRITE_PARAMETERS,
          responses: { '201': { description: 'Created' } },
          'x-kubernetes-action': 'post',
          'x-kubernetes-group-version-kind': { group: 'authorization.k8s.io', version: 'v1', kind: 'SelfSubjectAccessReview' },
        },
      },
    };
  } else return undefined;
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: EMULATED_VERSION.gitVersion }, paths, components: { schemas: {} } };
}

/** `/openapi/v3`: each group version with a URL whose hash changes when the document does. */
export function openApiV3Index(): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const gv of GROUP_VERSIONS) {
    const hash = createHash('sha512').update(JSON.stringify(openApiV3Document(gv))).digest('hex').slice(0, 128).toUpperCase();
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
  }
  return { paths };
}
