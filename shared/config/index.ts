export { createConfigStore, ConfigNotLoadedError } from './store.js';
export type { ConfigDocument, ConfigDocumentPort, ConfigRefresh, ConfigStore, ConfigStoreOptions, ConfigStoreStatus } from './store.js';
export { blobConfigDocument, ConfigConflictError } from './blobDocument.js';
export type { ConfigBlobApi } from './blobDocument.js';
export { diffConfigs } from './diff.js';
export type { ConfigChange } from './diff.js';
