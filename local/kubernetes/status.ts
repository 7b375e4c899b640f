/**
 * `Status` error objects with the message formats of the real API server (k8s.io/apimachinery/pkg/api/errors).
 * An `ApiError` is thrown by handlers and rendered by the server.
 */

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** An API error carrying the Status body to send. */
export class ApiError extends Error {
  constructor(
    readonly body: StatusBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
  get code(): number {
    return this.body.code;
  }
}

/** Identifies the resource an error is about, as apimachinery's `schema.GroupResource`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** `secrets` or `deployments.apps`, as the API server prints a GroupResource. */
export function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function status(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function detailsOf(gr: GroupResource, name?: string): NonNullable<StatusBody['details']> {
  return { ...(name !== undefined ? { name } : {}), ...(gr.group ? { group: gr.group } : {}), kind: gr.resource };
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return new ApiError(status(404, 'NotFound', `${qualified(gr)} "${name}" not found`, detailsOf(gr, name)));
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return new ApiError(status(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, detailsOf(gr, name)));
}

export function conflict(gr: GroupResource, name: string): ApiError {
  return new ApiError(
    status(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(gr)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      detailsOf(gr, name),
    ),
  );
}

/**
 * 409 for a failed precondition (DeleteOptions.preconditions, or the uid of an update body), worded as the storage
 * layer's `StorageError` that the API server wraps: `Operation cannot be fulfilled on secrets "x": StorageError:
 * invalid object, Code: 4, Key: /registry/secrets/apps/x, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed:
 * UID in precondition: a, UID in object meta: b`.
 */
export function preconditionFailed(gr: GroupResource, name: string, storageKey: string, field: 'ResourceVersion' | 'UID', wanted: string, actual: string): ApiError {
  return new ApiError(
    status(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(gr)} "${name}": StorageError: invalid object, Code: 4, Key: ${storageKey}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ${field} in precondition: ${wanted}, ${field} in object meta: ${actual}`,
      detailsOf(gr, name),
    ),
  );
}

/** 403 from the NamespaceLifecycle admission plugin: a create in a namespace being deleted. */
export function namespaceTerminating(gr: GroupResource, name: string, namespace: string): ApiError {
  return new ApiError(
    status(403, 'Forbidden', `${qualified(gr)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
      ...detailsOf(gr, name),
      causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
    }),
  );
}

/** 410 for a continue token older than the retained history. */
export function expiredContinue(): ApiError {
  return new ApiError(
    status(
      410,
      'Expired',
      'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
    ),
  );
}

/** The Status of a watch that asks for a resourceVersion older than the retained history (sent as an ERROR event). */
export function tooOldResourceVersion(requested: number, oldest: number): StatusBody {
  return status(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

/** A field error as apimachinery's `field.Error` prints it. */
export interface FieldError {
  field: string;
  /** `FieldValueInvalid`, `FieldValueRequired`, `FieldValueTooLong`, `FieldValueForbidden`. */
  type: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueTooLong' | 'FieldValueForbidden';
  /** The rendered detail, e.g. `Invalid value: "x": a lowercase RFC 1123 …`. */
  message: string;
}

/** 422 `<Kind> "<name>" is invalid: <field>: <detail>[, <field>: <detail>]` (several errors in brackets). */
export function invalid(kind: string, gr: GroupResource, name: string, errors: readonly FieldError[]): ApiError {
  const rendered = errors.map((e) => `${e.field}: ${e.message}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return new ApiError(
    status(422, 'Invalid', `${gr.group ? `${kind}.${gr.group}` : kind} "${name}" is invalid: ${summary}`, {
      name,
      ...(gr.group ? { group: gr.group } : {}),
      kind,
      causes: errors.map((e) => ({ reason: e.type, message: e.message, field: e.field })),
    }),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(status(400, 'BadRequest', message));
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got ${contentType}`));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
}

export function notFoundPath(): ApiError {
  return new ApiError(status(404, 'NotFound', 'the server could not find the requested resource'));
}

export function unauthorized(): ApiError {
  return new ApiError(status(401, 'Unauthorized', 'Unauthorized'));
}

/**
 * 403 as RBAC denies it, e.g. `secrets "db" is forbidden: User "u" cannot get resource "secrets" in API group "" in the
 * namespace "apps"`; cluster-scoped requests end in `at the cluster scope`.
 */
export function forbidden(
  user: string,
  verb: string,
  gr: GroupResource,
  namespace: string | undefined,
  name: string | undefined,
): ApiError {
  const subject = name !== undefined ? `${qualified(gr)} "${name}"` : qualified(gr);
  const scope = namespace !== undefined ? `in the namespace "${namespace}"` : 'at the cluster scope';
  const message = `${subject} is forbidden: User "${user}" cannot ${verb} resource "${gr.resource}" in API group "${gr.group}" ${scope}`;
  return new ApiError(status(403, 'Forbidden', message, detailsOf(gr, name)));
}

const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** Any status with a Status body; used by fault injection. */
export function generic(code: number, options: { reason?: string; message?: string; retryAfterInSeconds?: number } = {}): ApiError {
  const reason = options.reason ?? REASON_BY_CODE[code] ?? 'Unknown';
  const message =
    options.message ??
    (code === 429
      ? 'Too many requests, please try again later.'
      : code >= 500
        ? 'Internal error occurred: injected fault'
        : `injected fault (${code})`);
  const headers: Record<string, string> = {};
  if (options.retryAfterInSeconds !== undefined) headers['retry-after'] = String(options.retryAfterInSeconds);
  const body = status(code, reason, message, options.retryAfterInSeconds !== undefined ? { retryAfterSeconds: options.retryAfterInSeconds } : undefined);
  return new ApiError(body, headers);
}
