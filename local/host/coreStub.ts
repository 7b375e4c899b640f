import Module from 'node:module';
import type { FunctionMetadata, ProgrammingModel } from './rpc.js';

/** A function callback exactly as `@azure/functions` hands it to the worker. */
export type FunctionCallback = (...args: unknown[]) => unknown;

/** One `app.*` / `df.app.*` registration, as the worker would receive it. */
export interface Registration {
  readonly metadata: FunctionMetadata;
  readonly callback: FunctionCallback;
}

/** Everything the stubbed `@azure/functions-core` has recorded in this process. */
export interface CoreRegistry {
  readonly functions: Map<string, Registration>;
  programmingModel: ProgrammingModel | undefined;
  readonly hooks: Map<string, unknown[]>;
  /** Shared by every hook of the app (the worker's `appHookData`). */
  readonly appHookData: Record<string, unknown>;
}

const REGISTRY_KEY = Symbol.for('secret-relay.local-host.functions-core');
const VIRTUAL_FILENAME = '/__secret-relay-local-host__/@azure/functions-core.js';

interface ModuleInternals {
  _resolveFilename: (request: string, ...rest: unknown[]) => string;
  _cache: Record<string, unknown>;
}

/** The process-global registry (one host per process: the registrations are global, as in the worker). */
export function getCoreRegistry(): CoreRegistry {
  const holder = globalThis as unknown as Record<symbol, CoreRegistry | undefined>;
  let registry = holder[REGISTRY_KEY];
  if (!registry) {
    registry = { functions: new Map(), programmingModel: undefined, hooks: new Map(), appHookData: {} };
    holder[REGISTRY_KEY] = registry;
  }
  return registry;
}

function createCoreApi(registry: CoreRegistry): Record<string, unknown> {
  class Disposable {
    readonly #onDispose: (() => void) | undefined;
    constructor(onDispose?: () => void) {
      this.#onDispose = onDispose;
    }
    dispose(): void {
      this.#onDispose?.();
    }
  }
  return {
    version: 'secret-relay-local-host',
    Disposable,
    setProgrammingModel(model: ProgrammingModel): void {
      registry.programmingModel = model;
    },
    getProgrammingModel(): ProgrammingModel | undefined {
      return registry.programmingModel;
    },
    registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
      if (registry.functions.has(metadata.name)) {
        throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
      }
      registry.functions.set(metadata.name, { metadata, callback });
      return new Disposable(() => registry.functions.delete(metadata.name));
    },
    registerHook(hookName: string, callback: unknown): Disposable {
      const list = registry.hooks.get(hookName) ?? [];
      list.push(callback);
      registry.hooks.set(hookName, list);
      return new Disposable(() => {
        const index = list.indexOf(callback);
        if (index >= 0) list.splice(index, 1);
      });
    },
    log(): void {},
  };
}

/**
 * Makes `require('@azure/functions-core')` (done lazily by `@azure/functions` at its first registration) resolve to a
 * recording stub, so every registration is captured with its metadata and wrapped handler. Must run before the app's
 * first `app.*` call. Repeated calls are harmless (installed once per process).
 */
export function installFunctionsCoreStub(): CoreRegistry {
  const registry = getCoreRegistry();
  const internals = Module as unknown as ModuleInternals;
  if (internals._cache[VIRTUAL_FILENAME] !== undefined) return registry;

  const stub = new Module(VIRTUAL_FILENAME);
  stub.filename = VIRTUAL_FILENAME;
  stub.exports = createCoreApi(registry);
  stub.loaded = true;
  internals._cache[VIRTUAL_FILENAME] = stub;

  const original = internals._resolveFilename;
  internals._resolveFilename = function resolveWithStub(this: unknown, request: string, ...rest: unknown[]): string {
    if (request === '@azure/functions-core') return VIRTUAL_FILENAME;
    return original.call(this, request, ...rest);
  };
  return registry;
}
