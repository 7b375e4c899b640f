/**
 * Event Grid stand-in for Key Vault secret events (platform-facts.md §4): per-vault webhook subscribers, the real
 * wire shape (PascalCase `data`), at-least-once delivery with a short bounded exponential backoff. Publishing never
 * blocks the caller; `idle()` lets tests wait until every delivery settled.
 */
import { randomUUID } from 'node:crypto';
import { delay } from './http.js';
import type { DeliveryRecord, EventSchema, EventSubscription, KeyVaultSecretEventType } from './types.js';

export interface EventDeliveryOptions {
  /** Attempts per event and subscriber, first one included (default 5). */
  maxAttempts?: number;
  /** Wait before the second attempt; doubles each time (default 100). */
  initialBackoffInMs?: number;
  /** Cap of the wait between attempts (default 2000). */
  maxBackoffInMs?: number;
  /** Per-attempt timeout (default 5000). */
  timeoutInMs?: number;
  /** Azure subscription id in `topic` (default a fixed local GUID). */
  subscriptionId?: string;
  /** Resource group in `topic` (default `secret-relay-local`). */
  resourceGroup?: string;
}

/** `data` of a Key Vault secret event, exactly as Event Grid sends it (PascalCase). */
export interface KeyVaultSecretEventDataWire {
  Id: string;
  VaultName: string;
  ObjectType: 'Secret';
  ObjectName: string;
  Version: string;
  NBF: number | null;
  EXP: number | null;
}

export interface EventGridEventWire {
  id: string;
  topic: string;
  subject: string;
  eventType: KeyVaultSecretEventType;
  data: KeyVaultSecretEventDataWire;
  dataVersion: string;
  metadataVersion: string;
  eventTime: string;
}

export interface CloudEventWire {
  specversion: '1.0';
  id: string;
  source: string;
  subject: string;
  type: KeyVaultSecretEventType;
  time: string;
  datacontenttype: 'application/json';
  data: KeyVaultSecretEventDataWire;
}

export interface SecretEventInput {
  vault: string;
  vaultUrl: string;
  eventType: KeyVaultSecretEventType;
  name: string;
  version: string;
  /** Unix seconds. */
  notBefore?: number;
  /** Unix seconds. */
  expiresOn?: number;
}

export const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_RESOURCE_GROUP = 'secret-relay-local';

/** Event Grid does not retry these webhook answers (service-limits.md §2.5); the event is dead-lettered/dropped. */
const NOT_RETRIED = new Set([400, 401, 403, 413]);

export function vaultTopic(vault: string, options: Pick<EventDeliveryOptions, 'subscriptionId' | 'resourceGroup'> = {}): string {
  const sub = options.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
  const rg = options.resourceGroup ?? DEFAULT_RESOURCE_GROUP;
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${vault}`;
}

export class EventPublisher {
  private readonly subscriptions = new Map<string, EventSubscription>();
  /** Endpoint keys by subscription id: sent with each delivery, never shown (see `subscribe`). */
  private readonly endpointKeys = new Map<string, string>();
  private readonly records: DeliveryRecord[] = [];
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: EventDeliveryOptions = {}) {}

  /**
   * Registers a webhook for a vault's events. Registering the same endpoint and schema again returns the existing one.
   * A `code` query parameter is the endpoint's key (a Functions host's `eventgrid_extension` key): like Azure's
   * `AzureFunction` endpoint type, the subscription keeps it, sends it with every delivery and never shows it.
   */
  subscribe(vault: string, endpoint: string, schema: EventSchema = 'eventGrid'): EventSubscription {
    const url = new URL(endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('endpoint must be an http(s) URL');
    if (schema !== 'eventGrid' && schema !== 'cloudEvents') throw new TypeError("schema must be 'eventGrid' or 'cloudEvents'");
    const key = url.searchParams.get('code');
    url.searchParams.delete('code');
    const shown = key === null ? endpoint : url.href;
    const existing = [...this.subscriptions.values()].find((s) => s.vault === vault && s.endpoint === shown && s.schema === schema);
    if (existing) {
      if (key !== null) this.endpointKeys.set(existing.id, key);
      return { ...existing };
    }
    const sub: EventSubscription = { id: randomUUID(), vault, endpoint: shown, schema };
    this.subscriptions.set(sub.id, sub);
    if (key !== null) this.endpointKeys.set(sub.id, key);
    return { ...sub };
  }

  unsubscribe(id: string): boolean {
    this.endpointKeys.delete(id);
    return this.subscriptions.delete(id);
  }

  list(vault?: string): EventSubscription[] {
    return [...this.subscriptions.values()].filter((s) => vault === undefined || s.vault === vault).map((s) => ({ ...s }));
  }

  deliveries(): DeliveryRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Sends the event to every subscriber of the vault, in the background. Returns the event id. */
  publish(input: SecretEventInput): string {
    const eventId = randomUUID();
    const time = new Date().toISOString();
    const data: KeyVaultSecretEventDataWire = {
      Id: `${input.vaultUrl}/secrets/${input.name}/${input.version}`,
      VaultName: input.vault,
      ObjectType: 'Secret',
      ObjectName: input.name,
      Version: input.version,
      NBF: input.notBefore ?? null,
      EXP: input.expiresOn ?? null,
    };
    const topic = vaultTopic(input.vault, this.options);
    for (const sub of this.subscriptions.values()) {
      if (sub.vault !== input.vault || this.closed) continue;
      const body =
        sub.schema === 'eventGrid'
          ? [{ id: eventId, topic, subject: input.name, eventType: input.eventType, data, dataVersion: '1', metadataVersion: '1', eventTime: time } satisfies EventGridEventWire]
          : ({ specversion: '1.0', id: eventId, source: topic, subject: input.name, type: input.eventType, time, datacontenttype: 'application/json', data } satisfies CloudEventWire);
      const record: DeliveryRecord = {
        subscriptionId: sub.id,
        vault: input.vault,
        eventId,
        eventType: input.eventType,
        secretName: input.name,
        version: input.version,
        attempts: 0,
        state: 'pending',
      };
      this.records.push(record);
      const job = this.deliver(sub, body, record).finally(() => this.pending.delete(job));
      this.pending.add(job);
    }
    return eventId;
  }

  /** Resolves once every delivery started so far (and any started meanwhile) has been delivered or given up. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops retrying; pending deliveries end as failed after their current attempt. */
  close(): void {
    this.closed = true;
  }

  private deliveryUrl(sub: EventSubscription): string {
    const key = this.endpointKeys.get(sub.id);
    if (key === undefined) return sub.endpoint;
    const url = new URL(sub.endpoint);
    url.searchParams.set('code', key);
    return url.href;
  }

  private async deliver(sub: EventSubscription, body: unknown, record: DeliveryRecord): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    const text = JSON.stringify(body);
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      record.attempts = attempt;
      try {
        const response = await fetch(this.deliveryUrl(sub), {
          method: 'POST',
          headers: {
            'Content-Type': sub.schema === 'eventGrid' ? 'application/json; charset=utf-8' : 'application/cloudevents+json; charset=utf-8',
            'aeg-event-type': 'Notification',
            'aeg-subscription-name': sub.id.toUpperCase(),
            'aeg-delivery-count': String(attempt - 1),
            'aeg-data-version': '1',
            'aeg-metadata-version': '1',
          },
          body: text,
          signal: AbortSignal.timeout(this.options.timeoutInMs ?? 5000),
        });
        await response.arrayBuffer().catch(() => undefined);
        record.lastStatus = response.status;
        delete record.lastError;
        if (response.status >= 200 && response.status <= 204) {
          record.state = 'delivered';
          return;
        }
        if (NOT_RETRIED.has(response.status)) break;
      } catch (error) {
        record.lastError = error instanceof Error ? error.message : String(error);
      }
      if (this.closed || attempt === maxAttempts) break;
      const initial = this.options.initialBackoffInMs ?? 100;
      await delay(Math.min(initial * 2 ** (attempt - 1), this.options.maxBackoffInMs ?? 2000));
    }
    record.state = 'failed';
  }
}
