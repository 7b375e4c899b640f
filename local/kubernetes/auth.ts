/**
 * Bearer-token authentication and RBAC-like authorization: each token carries rules of verbs × resources ×
 * namespaces. Unknown or missing tokens get 401; a known token without a matching rule gets 403 with the real message.
 */
import { randomBytes } from 'node:crypto';
import { forbidden, unauthorized } from './status.js';
import { groupResource, RESOURCE_DEFS } from './store.js';
import { RESOURCES, type PermissionRule, type Resource, type TokenSpec, type Verb } from './types.js';

/** An authenticated caller. */
export interface Principal {
  name: string;
  user: string;
  rules: readonly PermissionRule[];
}

/** Every verb on every resource in every namespace. */
export const ADMIN_RULES: readonly PermissionRule[] = [{ verbs: ['*'], resources: ['*'], namespaces: ['*'] }];

/**
 * What the relay needs (the RBAC Role in docs/kubernetes.md): Secrets get/list/create/update/patch/delete,
 * Deployments get/list/patch and Events create/patch, in every namespace.
 */
export const RELAY_RULES: readonly PermissionRule[] = [
  { verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'], resources: ['secrets'], namespaces: ['*'] },
  { verbs: ['get', 'list', 'patch'], resources: ['deployments'], namespaces: ['*'] },
  { verbs: ['create', 'patch'], resources: ['events'], namespaces: ['*'] },
];

/** Default tokens when none are given: `admin` (everything) and `relay` (RELAY_RULES). */
export const DEFAULT_TOKENS: readonly TokenSpec[] = [
  { name: 'admin', user: 'kubernetes-admin', rules: ADMIN_RULES },
  { name: 'relay', user: 'system:serviceaccount:secret-relay:relay', rules: RELAY_RULES },
];

/** The token registry of one emulated cluster. */
export class TokenRegistry {
  private readonly byToken = new Map<string, Principal>();
  readonly tokens: Record<string, string> = {};

  constructor(specs: readonly TokenSpec[]) {
    for (const spec of specs) this.add(spec);
  }

  /** Registers a token and returns its string. Re-adding a name replaces that name's token. */
  add(spec: TokenSpec): string {
    const token = spec.token ?? `${spec.name}-${randomBytes(24).toString('base64url')}`;
    const previous = this.tokens[spec.name];
    if (previous !== undefined) this.byToken.delete(previous);
    this.tokens[spec.name] = token;
    this.byToken.set(token, { name: spec.name, user: spec.user ?? `system:serviceaccount:default:${spec.name}`, rules: spec.rules });
    return token;
  }

  /** Revokes a token by name (later requests with it get 401). */
  revoke(name: string): void {
    const token = this.tokens[name];
    if (token !== undefined) this.byToken.delete(token);
    delete this.tokens[name];
  }

  /** Resolves the `Authorization` header, or throws 401. */
  authenticate(authorization: string | undefined): Principal {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const principal = match ? this.byToken.get(match[1]!) : undefined;
    if (!principal) throw unauthorized();
    return principal;
  }
}

/**
 * Whether the principal's rules allow `verb` on `group`/`resource` in `namespace` (undefined = cluster scope), for
 * SelfSubjectAccessReview. A resource the emulator does not serve is allowed only by `'*'` rules.
 */
export function isAllowed(principal: Principal, verb: string, group: string, resource: string, namespace: string | undefined): boolean {
  const known = (RESOURCES as readonly string[]).includes(resource) && RESOURCE_DEFS[resource as Resource].group === group;
  return principal.rules.some(
    (rule) =>
      (rule.verbs.includes('*') || rule.verbs.includes(verb as Verb)) &&
      (rule.resources.includes('*') || (known && rule.resources.includes(resource as Resource))) &&
      (rule.namespaces.includes('*') || (namespace !== undefined && rule.namespaces.includes(namespace))),
  );
}

/** Throws 403 unless a rule of the principal allows `verb` on `resource` in `namespace` (undefined = cluster scope). */
export function authorize(principal: Principal, verb: Verb, resource: Resource, namespace: string | undefined, name: string | undefined): void {
  const allowed = principal.rules.some(
    (rule) =>
      (rule.verbs.includes('*') || rule.verbs.includes(verb)) &&
      (rule.resources.includes('*') || rule.resources.includes(resource)) &&
      (rule.namespaces.includes('*') || (namespace !== undefined && rule.namespaces.includes(namespace))),
  );
  if (!allowed) throw forbidden(principal.user, verb, groupResource(resource), namespace, name);
}
