import type { BlobClient } from '@azure/storage-blob';
import type { ConfigDocument, ConfigDocumentPort } from './store.js';

/** The part of a `BlobClient` the config document uses (a real `BlockBlobClient` satisfies it structurally). */
export type ConfigBlobApi = Pick<BlobClient, 'download' | 'accountName' | 'containerName' | 'name'> & {
  upload(body: string, contentLength: number, options?: Parameters<import('@azure/storage-blob').BlockBlobClient['upload']>[2]): Promise<{ etag?: string }>;
};

/** Writing the config lost a race: someone changed it since it was read (the plan shown is stale). */
export class ConfigConflictError extends Error {
  override readonly name = 'ConfigConflictError';
}

/**
 * The relay config kept as one JSON blob. Reading needs `Storage Blob Data Reader` on the container
 * (`Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read`); writing (`config push`) needs
 * `Storage Blob Data Contributor` (`…/blobs/write`). A conditional read answers 304 without a body.
 */
export function blobConfigDocument(blob: ConfigBlobApi): ConfigDocumentPort & {
  /** Uploads a new document only if the stored one still has `expectedEtag` (undefined: only if none exists). */
  write(text: string, options: { readonly expectedEtag: string | undefined }): Promise<{ etag: string }>;
} {
  return {
    location: `${blob.accountName}/${blob.containerName}/${blob.name}`,
    async read(options = {}): Promise<ConfigDocument> {
      try {
        const response = await blob.download(0, undefined, options.ifNoneMatch ? { conditions: { ifNoneMatch: options.ifNoneMatch } } : {});
        const text = await streamText(response.readableStreamBody);
        return { state: 'found', text, etag: response.etag ?? '' };
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 304) return { state: 'unchanged' };
        if (status === 404) return { state: 'missing' };
        throw error;
      }
    },
    async write(text, options) {
      try {
        const response = await blob.upload(text, Buffer.byteLength(text), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
          conditions: options.expectedEtag ? { ifMatch: options.expectedEtag } : { ifNoneMatch: '*' },
        });
        return { etag: response.etag ?? '' };
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 412 || status === 409) {
          throw new ConfigConflictError(`the config at ${blob.accountName}/${blob.containerName}/${blob.name} changed since it was read; run the push again to see the new plan`);
        }
        throw error;
      }
    },
  };
}

async function streamText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
