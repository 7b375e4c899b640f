import type { Registration } from './coreStub.js';
import type { RpcBindingInfo, RpcTypedData } from './rpc.js';

/** A registered function as the host lists it. */
export interface FunctionInfo {
  name: string;
  triggerType: string;
  triggerBindingName: string;
  trigger: RpcBindingInfo;
  /** Names of the extra input bindings of type `durableClient` / `orchestrationClient`. */
  durableClientBindings: string[];
}

/** Describes a registration: its trigger binding and durable client inputs. */
export function describe(registration: Registration): FunctionInfo {
  const entries = Object.entries(registration.metadata.bindings);
  const trigger = entries.find(([, binding]) => binding.direction === 'in' && /trigger$/i.test(binding.type ?? ''));
  if (!trigger) throw new Error(`Function "${registration.metadata.name}" has no trigger binding`);
  return {
    name: registration.metadata.name,
    triggerType: trigger[1].type ?? '',
    triggerBindingName: trigger[0],
    trigger: trigger[1],
    durableClientBindings: entries
      .filter(([, b]) => b.direction === 'in' && (b.type === 'durableClient' || b.type === 'orchestrationClient'))
      .map(([name]) => name),
  };
}

/**
 * Builds the invocation input data: the trigger payload under the trigger binding's name, plus the durable client
 * binding data (a JSON string, as the extension sends it) for every durable client input.
 */
export function buildInputData(
  info: FunctionInfo,
  triggerData: RpcTypedData,
  durableClientData: () => unknown,
): { name: string; data: RpcTypedData }[] {
  const inputData = [{ name: info.triggerBindingName, data: triggerData }];
  if (info.durableClientBindings.length === 0) return inputData;
  const json = clientDataJson(durableClientData());
  for (const name of info.durableClientBindings) inputData.push({ name, data: { string: json } });
  return inputData;
}

// The host's client data is one object for its lifetime: serialised once, not per invocation.
const serialised = new WeakMap<object, string>();

function clientDataJson(data: unknown): string {
  if (typeof data !== 'object' || data === null) return JSON.stringify(data);
  let json = serialised.get(data);
  if (json === undefined) {
    json = JSON.stringify(data);
    serialised.set(data, json);
  }
  return json;
}
