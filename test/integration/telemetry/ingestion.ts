import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadOrCreateTls } from '../../../local/keyvault/certs.js';

/** One Application Insights envelope as the exporter sends it (the fields the tests read). */
export interface Envelope {
  readonly name: string;
  readonly iKey: string;
  readonly tags: Record<string, string>;
  readonly data: { readonly baseType: string; readonly baseData: Record<string, unknown> & { properties?: Record<string, string> } };
}

/** A POST the endpoint received. */
export interface TrackRequest {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly envelopes: Envelope[];
}

export interface IngestionEndpoint {
  /** `InstrumentationKey=…;IngestionEndpoint=https://127.0.0.1:<port>/` */
  readonly connectionString: string;
  /** The CA the endpoint's certificate chains to (for `RELAY_TRUSTED_CA_PATH`). */
  readonly caCertPath: string;
  readonly requests: TrackRequest[];
  envelopes(): Envelope[];
  close(): Promise<void>;
}

export const INSTRUMENTATION_KEY = '6f1f2b3c-0000-4000-8000-00000000a1b2';

/**
 * A real HTTPS server speaking Application Insights' ingestion protocol (`POST /v2.1/track`, gzip or plain JSON
 * arrays of envelopes; answers 200 with every item accepted). It records what arrives; it checks no token itself,
 * the test reads the Authorization header.
 */
export async function startIngestionEndpoint(): Promise<IngestionEndpoint> {
  const tls = await loadOrCreateTls(mkdtempSync(path.join(tmpdir(), 'relay-ingestion-')), ['127.0.0.1']);
  const requests: TrackRequest[] = [];
  const server = createServer({ cert: tls.serverCertPem, key: tls.serverKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const parsed = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Envelope | Envelope[]) : [];
      const envelopes = Array.isArray(parsed) ? parsed : [parsed];
      requests.push({ path: req.url ?? '', authorization: req.headers.authorization, envelopes });
      const answer = JSON.stringify({ itemsReceived: envelopes.length, itemsAccepted: envelopes.length, errors: [] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: `InstrumentationKey=${INSTRUMENTATION_KEY};IngestionEndpoint=https://127.0.0.1:${port}/`,
    caCertPath: tls.caCertPath,
    requests,
    envelopes: () => requests.flatMap((r) => r.envelopes),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
