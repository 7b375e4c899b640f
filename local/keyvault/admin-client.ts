/**
 * Typed client of the emulator's admin HTTP API, for tests and tools in other processes. Each method is one request;
 * repeating a call repeats its effect (e.g. `createSecret` twice makes two versions).
 */
import type {
  ActiveFault,
  AdminSecretProperties,
  CreateSecretOptions,
  DeliveryRecord,
  EventSchema,
  EventSubscription,
  FaultRule,
  KeyVaultSecretEventType,
  VaultCounters,
  VaultInfo,
} from './types.js';

export interface KeyVaultAdminClient {
  readonly adminUrl: string;
  vaults(): Promise<VaultInfo[]>;
  caCertPem(): Promise<string>;
  counters(): Promise<Record<string, VaultCounters>>;
  counters(vault: string): Promise<VaultCounters>;
  resetCounters(): Promise<void>;
  listFaults(): Promise<ActiveFault[]>;
  setFaults(rules: readonly FaultRule[]): Promise<ActiveFault[]>;
  addFault(rule: FaultRule): Promise<ActiveFault>;
  removeFault(id: string): Promise<void>;
  clearFaults(): Promise<void>;
  createSecret(vault: string, name: string, value: string, options?: CreateSecretOptions): Promise<AdminSecretProperties>;
  setSecretEnabled(vault: string, name: string, enabled: boolean, options?: { version?: string }): Promise<AdminSecretProperties>;
  listSecretProperties(vault: string): Promise<AdminSecretProperties[]>;
  subscribe(vault: string, endpoint: string, schema?: EventSchema): Promise<EventSubscription>;
  unsubscribe(id: string): Promise<void>;
  subscriptions(vault: string): Promise<EventSubscription[]>;
  emitEvent(vault: string, name: string, eventType: KeyVaultSecretEventType, options?: { version?: string }): Promise<string>;
  deliveries(): Promise<DeliveryRecord[]>;
  whenEventsDelivered(): Promise<void>;
}

/** Error of an admin call: HTTP status and the admin (or Key Vault) error code. */
export class KeyVaultAdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'KeyVaultAdminError';
  }
}

/** Creates a client for `adminUrl` (e.g. `emulator.adminUrl` or the `adminUrl` printed by `main.ts`). */
export function createKeyVaultAdminClient(adminUrl: string): KeyVaultAdminClient {
  const base = adminUrl.replace(/\/+$/, '');
  const seg = encodeURIComponent;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
    });
    const text = await response.text();
    if (!response.ok) {
      let code = 'Unknown';
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch {
        // not JSON: keep the raw text
      }
      throw new KeyVaultAdminError(response.status, code, `${method} ${path} → ${response.status} ${code}: ${message}`);
    }
    if (text === '') return undefined as T;
    return (response.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as T) : (text as T);
  }

  function counters(): Promise<Record<string, VaultCounters>>;
  function counters(vault: string): Promise<VaultCounters>;
  function counters(vault?: string): Promise<Record<string, VaultCounters> | VaultCounters> {
    return vault === undefined ? call('GET', '/counters') : call('GET', `/vaults/${seg(vault)}/counters`);
  }

  return {
    adminUrl: base,
    vaults: () => call('GET', '/vaults'),
    caCertPem: () => call('GET', '/ca'),
    counters,
    resetCounters: () => call('POST', '/counters/reset'),
    listFaults: () => call('GET', '/faults'),
    setFaults: (rules) => call('PUT', '/faults', rules),
    addFault: (rule) => call('POST', '/faults', rule),
    removeFault: (id) => call('DELETE', `/faults/${seg(id)}`),
    clearFaults: () => call('DELETE', '/faults'),
    createSecret: (vault, name, value, options = {}) => call('PUT', `/vaults/${seg(vault)}/secrets/${seg(name)}`, { ...options, value }),
    setSecretEnabled: (vault, name, enabled, options = {}) =>
      call('PATCH', `/vaults/${seg(vault)}/secrets/${seg(name)}`, { enabled, ...options }),
    listSecretProperties: (vault) => call('GET', `/vaults/${seg(vault)}/secrets`),
    subscribe: (vault, endpoint, schema = 'eventGrid') => call('POST', `/vaults/${seg(vault)}/subscriptions`, { endpoint, schema }),
    unsubscribe: (id) => call('DELETE', `/subscriptions/${seg(id)}`),
    subscriptions: (vault) => call('GET', `/vaults/${seg(vault)}/subscriptions`),
    emitEvent: async (vault, name, eventType, options = {}) =>
      (await call<{ eventId: string }>('POST', `/vaults/${seg(vault)}/events`, { eventType, name, ...options })).eventId,
    deliveries: () => call('GET', '/deliveries'),
    whenEventsDelivered: () => call('POST', '/deliveries/wait'),
  };
}
