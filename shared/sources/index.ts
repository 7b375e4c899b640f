export { createSourceVault, sourceVaultFromApi, SourceVaultError } from './sourceVault.js';
export type { SourceCallOptions, SourceSecretProperties, SourceVault, SourceVaultOptions } from './sourceVault.js';
