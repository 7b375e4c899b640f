export { startAzurite, AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from '../../local/azurite.js';
export type { AzuriteBlob, StartAzuriteOptions } from '../../local/azurite.js';
