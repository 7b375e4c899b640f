export { blobLeaseLocks } from './blobLeaseLocks.js';
export type { BlobLeaseLocksOptions } from './blobLeaseLocks.js';
