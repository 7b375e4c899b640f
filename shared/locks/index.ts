export { blobLeaseLocks, LockAccessDeniedError } from './blobLeaseLocks.js';
export type { BlobLeaseLocksOptions } from './blobLeaseLocks.js';
