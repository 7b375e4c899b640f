export { blobLeaseLocks, LockAccessDeniedError } from './blobLeaseLocks.js';
export type { BlobLeaseLocks, BlobLeaseLocksOptions } from './blobLeaseLocks.js';
