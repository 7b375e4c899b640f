/** Public surface of the Key Vault emulator (see docs/keyvault-emulator.md). */
export { startKeyVaultEmulator } from './emulator.js';
export type { KeyVaultEmulator, KeyVaultEmulatorOptions } from './emulator.js';
export type { EventDeliveryOptions, KeyVaultSecretEventDataWire, EventGridEventWire, CloudEventWire } from './events.js';
export { vaultTopic, DEFAULT_SUBSCRIPTION_ID, DEFAULT_RESOURCE_GROUP } from './events.js';
export { DEFAULT_TENANT_ID, VAULT_RESOURCE } from './auth.js';
export { CA_CERT_FILE } from './certs.js';
export {
  MAX_VALUE_BYTES,
  MAX_TAGS,
  MAX_TAG_NAME_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_PAGE_SIZE,
  isValidSecretName,
} from './validation.js';
export { OPERATIONS } from './types.js';
export type {
  ActiveFault,
  AdminSecretProperties,
  CreateSecretOptions,
  DeliveryRecord,
  EventSchema,
  EventSubscription,
  FaultEffect,
  FaultError,
  FaultRule,
  KeyVaultSecretEventType,
  OperationName,
  VaultCounters,
  VaultInfo,
} from './types.js';
export { createKeyVaultAdminClient, KeyVaultAdminError } from './admin-client.js';
export type { KeyVaultAdminClient } from './admin-client.js';
