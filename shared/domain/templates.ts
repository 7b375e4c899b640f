/**
 * Name templates: how a route names what it writes in a target (`{customer}--{name}`, `{name|lower}`).
 *
 * Grammar: literal text and placeholders `{variable}` or `{variable|filter|…}`; filters are `lower` and `upper`.
 * There is no escaping: `{` and `}` are never literal (no target name rule allows them anyway).
 * Pure code, no I/O.
 */

export const TEMPLATE_FILTERS = ['lower', 'upper'] as const;
export type TemplateFilter = (typeof TEMPLATE_FILTERS)[number];

export type TemplatePart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'placeholder'; readonly variable: string; readonly filters: readonly TemplateFilter[] };

export interface ParsedTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

/** Constant codes of template problems. */
export const TEMPLATE_PROBLEM_CODES = [
  'TEMPLATE_SYNTAX',
  'TEMPLATE_EMPTY',
  'TEMPLATE_UNKNOWN_VARIABLE',
  'TEMPLATE_UNKNOWN_FILTER',
  'TEMPLATE_ILLEGAL_LITERAL',
  'TEMPLATE_ILLEGAL_VARIABLE_VALUE',
  'TEMPLATE_NEEDS_LOWER',
  'TEMPLATE_INVALID_STRUCTURE',
  'TEMPLATE_MAY_BE_INVALID',
  'TEMPLATE_TOO_LONG',
  'TEMPLATE_MAY_BE_TOO_LONG',
] as const;
export type TemplateProblemCode = (typeof TEMPLATE_PROBLEM_CODES)[number];

export interface TemplateProblem {
  readonly code: TemplateProblemCode;
  readonly message: string;
}

export type ParseTemplateResult =
  | { readonly ok: true; readonly template: ParsedTemplate }
  | { readonly ok: false; readonly problems: readonly TemplateProblem[] };

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a template into literal and placeholder parts; reports every syntax problem found. */
export function parseTemplate(template: string): ParseTemplateResult {
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    const ch = template[i]!;
    if (ch === '}') {
      problems.push({ code: 'TEMPLATE_SYNTAX', message: `unmatched "}" at offset ${i}` });
      i += 1;
      continue;
    }
    if (ch !== '{') {
      literal += ch;
      i += 1;
      continue;
    }
    const end = template.indexOf('}', i + 1);
    const nextOpen = template.indexOf('{', i + 1);
    if (end === -1 || (nextOpen !== -1 && nextOpen < end)) {
      problems.push({ code: 'TEMPLATE_SYNTAX', message: `unclosed "{" at offset ${i}` });
      i += 1;
      continue;
    }
    if (literal) parts.push({ kind: 'literal', text: literal });
    literal = '';
    const [variable = '', ...filters] = template.slice(i + 1, end).split('|').map((s) => s.trim());
    if (!VARIABLE.test(variable)) {
      problems.push({ code: 'TEMPLATE_SYNTAX', message: `placeholder at offset ${i} needs a variable name, e.g. {name}` });
    }
    const known: TemplateFilter[] = [];
    for (const filter of filters) {
      if ((TEMPLATE_FILTERS as readonly string[]).includes(filter)) known.push(filter as TemplateFilter);
      else problems.push({ code: 'TEMPLATE_UNKNOWN_FILTER', message: `unknown filter "${filter}" (known: lower, upper)` });
    }
    parts.push({ kind: 'placeholder', variable, filters: known });
    i = end + 1;
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  if (template.length === 0) problems.push({ code: 'TEMPLATE_EMPTY', message: 'template is empty' });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, template: { source: template, parts } };
}

function applyFilters(value: string, filters: readonly TemplateFilter[]): string {
  return filters.reduce((v, f) => (f === 'lower' ? v.toLowerCase() : v.toUpperCase()), value);
}

/** Names used in a template, in order of first use. */
export function templateVariables(template: ParsedTemplate): string[] {
  const names: string[] = [];
  for (const part of template.parts) {
    if (part.kind === 'placeholder' && !names.includes(part.variable)) names.push(part.variable);
  }
  return names;
}

/**
 * Renders a template with concrete variable values. Throws when the template does not parse or uses a variable
 * that has no value (config validation rules both out before anything renders).
 */
export function renderTemplate(template: string | ParsedTemplate, values: Readonly<Record<string, string>>): string {
  const parsed = typeof template === 'string' ? parseOrThrow(template) : template;
  let out = '';
  for (const part of parsed.parts) {
    if (part.kind === 'literal') {
      out += part.text;
      continue;
    }
    const value = Object.hasOwn(values, part.variable) ? values[part.variable] : undefined;
    if (value === undefined) throw new Error(`template ${JSON.stringify(parsed.source)} uses unknown variable {${part.variable}}`);
    out += applyFilters(value, part.filters);
  }
  return out;
}

function parseOrThrow(template: string): ParsedTemplate {
  const parsed = parseTemplate(template);
  if (!parsed.ok) throw new Error(`invalid template ${JSON.stringify(template)}: ${parsed.problems.map((p) => p.message).join('; ')}`);
  return parsed.template;
}

// ---------------------------------------------------------------------------------------------------------------
// Name rules
// ---------------------------------------------------------------------------------------------------------------

export const KEY_VAULT_NAME_MAX_LENGTH = 127;
export const K8S_NAME_MAX_LENGTH = 253;

const KEY_VAULT_NAME = /^[A-Za-z0-9-]{1,127}$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const K8S_KEY = /^[-._a-zA-Z0-9]+$/;

/** Key Vault secret (and vault object) names: 1–127 letters, digits and dashes; compared case-insensitively. */
export function isValidKeyVaultName(name: string): boolean {
  return KEY_VAULT_NAME.test(name);
}

/** Kubernetes object names (Secrets): a DNS-1123 subdomain, lowercase, at most 253 characters. */
export function isValidK8sSecretName(name: string): boolean {
  return name.length <= K8S_NAME_MAX_LENGTH && DNS1123_SUBDOMAIN.test(name);
}

/** Kubernetes namespace names: a DNS-1123 label, lowercase, at most 63 characters. */
export function isValidK8sNamespace(name: string): boolean {
  return name.length <= 63 && DNS1123_LABEL.test(name);
}

/** Kubernetes Secret data keys: `[-._a-zA-Z0-9]+`, at most 253, not `.`, not starting with `..`. */
export function isValidK8sKey(key: string): boolean {
  return key.length <= K8S_NAME_MAX_LENGTH && K8S_KEY.test(key) && key !== '.' && !key.startsWith('..');
}

// ---------------------------------------------------------------------------------------------------------------
// Static validation
// ---------------------------------------------------------------------------------------------------------------

export type TemplateKind = 'keyVaultName' | 'k8sSecretName' | 'k8sKey';

/**
 * A variable whose value is not known in advance: any Key Vault secret name (letters, digits, dashes, any case) of
 * the given length range. `{name}` of a glob route is one.
 */
export interface OpenVariable {
  readonly open: true;
  readonly minLength: number;
  readonly maxLength: number;
  /** False when every possible value starts with a letter or digit. */
  readonly canStartWithDash: boolean;
  /** False when every possible value ends with a letter or digit. */
  readonly canEndWithDash: boolean;
}

/** Any Key Vault secret name. */
export const ANY_KEY_VAULT_NAME: OpenVariable = {
  open: true,
  minLength: 1,
  maxLength: KEY_VAULT_NAME_MAX_LENGTH,
  canStartWithDash: true,
  canEndWithDash: true,
};

export interface ValidateTemplateOptions {
  readonly kind: TemplateKind;
  /** The variables the template may use: concrete values, or open domains (see {@link OpenVariable}). */
  readonly variables: Readonly<Record<string, string | OpenVariable>>;
}

export interface TemplateValidation {
  /** True when there is no error. Warnings (possible, not certain, problems) do not make it false. */
  readonly ok: boolean;
  readonly errors: readonly TemplateProblem[];
  readonly warnings: readonly TemplateProblem[];
}

type Segment =
  | { readonly kind: 'concrete'; readonly text: string; readonly fromLiteral: boolean }
  | { readonly kind: 'open'; readonly variable: OpenVariable; readonly filters: readonly TemplateFilter[]; readonly label: string };

const RULES: Record<TemplateKind, { readonly chars: RegExp; readonly maxLength: number; readonly what: string }> = {
  keyVaultName: { chars: /^[A-Za-z0-9-]*$/, maxLength: KEY_VAULT_NAME_MAX_LENGTH, what: 'Key Vault names allow letters, digits and dashes' },
  k8sSecretName: { chars: /^[a-z0-9.-]*$/, maxLength: K8S_NAME_MAX_LENGTH, what: 'Kubernetes Secret names allow lowercase letters, digits, "-" and "."' },
  k8sKey: { chars: /^[-._a-zA-Z0-9]*$/, maxLength: K8S_NAME_MAX_LENGTH, what: 'Kubernetes keys allow letters, digits, "-", "_" and "."' },
};

/**
 * Checks statically whether a template can only produce valid names of the given kind. Errors are certain problems
 * (unknown placeholder, illegal literal character, too long for every value); warnings are problems only some values
 * of an open variable can cause (worst-case length, a name that might start or end with a dash). A template with no
 * error and no warning renders a valid name for every value of its variables.
 */
export function validateTemplate(template: string, options: ValidateTemplateOptions): TemplateValidation {
  const parsed = parseTemplate(template);
  if (!parsed.ok) return { ok: false, errors: parsed.problems, warnings: [] };
  const errors: TemplateProblem[] = [];
  const warnings: TemplateProblem[] = [];
  const rule = RULES[options.kind];

  const segments: Segment[] = [];
  for (const part of parsed.template.parts) {
    if (part.kind === 'literal') {
      segments.push({ kind: 'concrete', text: part.text, fromLiteral: true });
      continue;
    }
    const value = Object.hasOwn(options.variables, part.variable) ? options.variables[part.variable] : undefined;
    if (value === undefined) {
      const known = Object.keys(options.variables).map((v) => `{${v}}`).join(', ');
      errors.push({ code: 'TEMPLATE_UNKNOWN_VARIABLE', message: `unknown placeholder {${part.variable}} (known: ${known})` });
    } else if (typeof value === 'string') {
      segments.push({ kind: 'concrete', text: applyFilters(value, part.filters), fromLiteral: false });
    } else {
      segments.push({ kind: 'open', variable: value, filters: part.filters, label: part.variable });
    }
  }

  for (const segment of segments) {
    if (segment.kind === 'concrete' && !rule.chars.test(segment.text)) {
      errors.push(
        segment.fromLiteral
          ? { code: 'TEMPLATE_ILLEGAL_LITERAL', message: `literal text ${JSON.stringify(segment.text)} has characters not allowed: ${rule.what}` }
          : { code: 'TEMPLATE_ILLEGAL_VARIABLE_VALUE', message: `a variable renders ${JSON.stringify(segment.text)}, which has characters not allowed: ${rule.what}` },
      );
    }
    if (segment.kind === 'open' && options.kind === 'k8sSecretName' && segment.filters.at(-1) !== 'lower') {
      errors.push({
        code: 'TEMPLATE_NEEDS_LOWER',
        message: `{${segment.label}} can contain uppercase letters, which Kubernetes names forbid; use {${segment.label}|lower}`,
      });
    }
  }

  const minLength = segments.reduce((n, s) => n + (s.kind === 'concrete' ? s.text.length : s.variable.minLength), 0);
  const maxLength = segments.reduce((n, s) => n + (s.kind === 'concrete' ? s.text.length : s.variable.maxLength), 0);
  if (maxLength === 0 && errors.length === 0) errors.push({ code: 'TEMPLATE_EMPTY', message: 'template renders an empty name' });
  if (minLength > rule.maxLength) {
    errors.push({ code: 'TEMPLATE_TOO_LONG', message: `renders at least ${minLength} characters; the limit is ${rule.maxLength}` });
  } else if (maxLength > rule.maxLength) {
    warnings.push({
      code: 'TEMPLATE_MAY_BE_TOO_LONG',
      message: `renders up to ${maxLength} characters for long source names; the limit is ${rule.maxLength} (such names fail with FailedValidation)`,
    });
  }

  if (errors.length === 0) {
    const merged = mergeConcrete(segments);
    if (options.kind === 'k8sSecretName') checkSubdomainStructure(merged, errors, warnings);
    if (options.kind === 'k8sKey') checkKeyPrefix(merged, errors);
  }
  return { ok: errors.length === 0, errors, warnings };
}

function mergeConcrete(segments: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out.at(-1);
    if (s.kind === 'concrete' && s.text === '') continue;
    if (s.kind === 'concrete' && last?.kind === 'concrete') {
      out[out.length - 1] = { kind: 'concrete', text: last.text + s.text, fromLiteral: last.fromLiteral && s.fromLiteral };
    } else {
      out.push(s);
    }
  }
  return out;
}

const ALNUM = /[a-z0-9]/;

/** DNS-1123 subdomain: labels of [a-z0-9-] starting and ending alphanumeric, joined by single dots. */
function checkSubdomainStructure(segments: readonly Segment[], errors: TemplateProblem[], warnings: TemplateProblem[]): void {
  const structural = (message: string): void => void errors.push({ code: 'TEMPLATE_INVALID_STRUCTURE', message });
  segments.forEach((s, index) => {
    const before = segments[index - 1];
    const after = segments[index + 1];
    if (s.kind === 'concrete') {
      if (/\.\.|\.-|-\./.test(s.text)) structural(`${JSON.stringify(s.text)} has "..", ".-" or "-."; each dot-separated part must start and end with a letter or digit`);
      if (!before && !ALNUM.test(s.text[0]!)) structural('the name must start with a lowercase letter or digit');
      if (!after && !ALNUM.test(s.text.at(-1)!)) structural('the name must end with a lowercase letter or digit');
      return;
    }
    // An open value has no dots; only a leading or trailing dash can break a label, next to a dot or an end.
    const prevChar = before?.kind === 'concrete' ? before.text.at(-1) : before ? 'x' : undefined;
    const nextChar = after?.kind === 'concrete' ? after.text[0] : after ? 'x' : undefined;
    if (s.variable.canStartWithDash && (prevChar === undefined || prevChar === '.')) {
      warnings.push({ code: 'TEMPLATE_MAY_BE_INVALID', message: `{${s.label}} may start with "-", which would break the Kubernetes name` });
    }
    if (s.variable.canEndWithDash && (nextChar === undefined || nextChar === '.')) {
      warnings.push({ code: 'TEMPLATE_MAY_BE_INVALID', message: `{${s.label}} may end with "-", which would break the Kubernetes name` });
    }
  });
}

function checkKeyPrefix(segments: readonly Segment[], errors: TemplateProblem[]): void {
  const first = segments[0];
  if (first?.kind !== 'concrete') return;
  if (first.text.startsWith('..') || (segments.length === 1 && first.text === '.')) {
    errors.push({ code: 'TEMPLATE_INVALID_STRUCTURE', message: 'a Kubernetes key must not be "." or start with ".."' });
  }
}
