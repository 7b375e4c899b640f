import type { Command } from 'commander';
import type { CliContext } from '../router.js';
import { CliError, EXIT_UNAVAILABLE, EXIT_USAGE } from '../router.js';
import { DEFAULT_STACK_FILE, readRunningStack } from '../stack.js';

/** Settings of the commands that call the function app's HTTP API. */
export const API_SETTINGS = { url: 'SECRET_RELAY_URL', key: 'SECRET_RELAY_KEY' } as const;

export interface ApiOptions {
  stack?: string | true;
  url?: string;
  key?: string;
}

/** One answer of the app: status and parsed JSON body (undefined when empty). */
export interface ApiAnswer {
  readonly status: number;
  readonly json: any;
}

/** Calls the app's HTTP API with the function key. */
export interface ApiClient {
  readonly baseUrl: string;
  /** `path` below `/api` (`/plan`), or an absolute URL the app returned (a status URL on the same origin). */
  call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer>;
}

/** Adds `--stack [file]`, `--url`, `--key` to a command that calls the app. */
export function apiOptions(command: Command): Command {
  return command
    .option('--stack [stack.json]', `call the running local stack (npm start), read from ${DEFAULT_STACK_FILE}`)
    .option('--url <baseUrl>', `the function app's base URL, e.g. https://relay.azurewebsites.net (default: ${API_SETTINGS.url})`)
    .option('--key <functionKey>', `a function key of the app (default: ${API_SETTINGS.key})`);
}

/**
 * The API client of a command: the local stack with `--stack`, else `--url`/`--key` or their settings. Exit 2 when
 * neither names the app, 3 when the stack is not running; each call's network failure is exit 3.
 */
export async function apiFrom(options: ApiOptions, ctx: CliContext, command?: Command): Promise<ApiClient> {
  let baseUrl = options.url ?? ctx.env[API_SETTINGS.url];
  let key = options.key ?? ctx.env[API_SETTINGS.key];
  if (options.stack !== undefined) {
    const file = options.stack === true ? DEFAULT_STACK_FILE : options.stack;
    const stack = await readRunningStack(file, { needs: ['functions'] });
    baseUrl = options.url ?? stack.functions?.baseUrl;
    key = options.key ?? stack.functions?.key;
  }
  if (!baseUrl) throw new CliError(EXIT_USAGE, `which app? use --stack for the local stack, or --url (or ${API_SETTINGS.url}) and --key (or ${API_SETTINGS.key})`, command);
  let origin: string;
  try {
    origin = new URL(baseUrl).origin;
  } catch {
    throw new CliError(EXIT_USAGE, `--url: not a URL: ${JSON.stringify(baseUrl.slice(0, 200))}`, command);
  }
  const base = baseUrl.replace(/\/+$/, '');
  return {
    baseUrl: base,
    async call(method, path, body) {
      const url = new URL(/^https?:\/\//.test(path) ? path : `${base}/api${path}`);
      if (url.origin !== origin) throw new CliError(EXIT_UNAVAILABLE, `the app answered with a URL on another origin (${url.origin}); not following it`);
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: { 'content-type': 'application/json', ...(key ? { 'x-functions-key': key } : {}) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        throw new CliError(EXIT_UNAVAILABLE, `cannot reach the app at ${url.origin} (${code})`);
      }
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (response.status === 401 || response.status === 403) {
        throw new CliError(EXIT_UNAVAILABLE, `the app refused the request (HTTP ${response.status}): check the function key`);
      }
      if (response.status >= 500) {
        const message = (json as { message?: string } | undefined)?.message;
        throw new CliError(EXIT_UNAVAILABLE, `the app failed (HTTP ${response.status})${message ? `: ${message}` : ''}`);
      }
      return { status: response.status, json };
    },
  };
}

/** A 400/404 answer as a usage error naming what the app said. */
export function refused(answer: ApiAnswer, command: Command): CliError {
  const body = (answer.json ?? {}) as { message?: string; error?: string };
  return new CliError(EXIT_USAGE, body.message ?? `the app answered HTTP ${answer.status}${body.error ? ` ${body.error}` : ''}`, command);
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
