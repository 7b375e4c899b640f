import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The well-known Azurite development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A running Azurite blob service started by {@link startAzurite}. */
export interface AzuriteBlob {
  /** Connection string for `BlobServiceClient.fromConnectionString`. */
  readonly connectionString: string;
  /** Blob service URL including the account, e.g. `http://127.0.0.1:51234/devstoreaccount1`. */
  readonly blobEndpoint: string;
  /** The port the service listens on. */
  readonly port: number;
  /** Azurite's process id (benchmarks read its CPU time). */
  readonly pid: number | undefined;
  /** Stops the child process and waits for it to exit. Calling it again is harmless. */
  stop(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** Keep data on disk in this folder instead of in memory. */
  readonly location?: string;
  /** Port to listen on; 0 (default) lets the OS choose. */
  readonly blobPort?: number;
  /** How long to wait for the "listens on" line (default 30 s). */
  readonly startTimeoutInMs?: number;
  /** Node binary to run Azurite with (default: the running Node, which must be ≥ 22). */
  readonly nodePath?: string;
}

const LISTENING = /Azurite Blob service successfully listens on (http:\/\/[^\s]+?):(\d+)/;

function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

/**
 * Starts an Azurite blob service (from node_modules, in memory unless `location` is given) on 127.0.0.1 and a
 * port chosen by the OS, and resolves once it listens. Each call starts a separate process; call `stop()` when done.
 */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteBlob> {
  const nodePath = options.nodePath ?? process.execPath;
  const major = Number(process.versions.node.split('.')[0]);
  if (options.nodePath === undefined && major < 22) {
    throw new Error(`Azurite 3.37 needs Node >= 22; this process runs Node ${process.versions.node}. Run through npx/npm.`);
  }
  const args = [
    azuriteBlobMain(),
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(options.blobPort ?? 0),
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry',
    '--silent',
  ];
  const child = spawn(nodePath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await waitForPort(child, options.startTimeoutInMs ?? 30_000);
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`;
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
    `BlobEndpoint=${blobEndpoint};`;
  let stopping: Promise<void> | undefined;
  return {
    connectionString,
    blobEndpoint,
    port,
    pid: child.pid,
    stop() {
      stopping ??= stopChild(child);
      return stopping;
    },
  };
}

function waitForPort(child: ChildProcess, timeoutInMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`Azurite did not report a port within ${timeoutInMs} ms; output: ${output.slice(-2000)}`));
    }, timeoutInMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = LISTENING.exec(output);
      if (match) {
        cleanup();
        // Keep draining the pipes so a chatty child never blocks on a full buffer.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(Number(match[2]));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      fail(new Error(`Azurite exited before listening (code ${code}, signal ${signal}); output: ${output.slice(-2000)}`));
    };
    const onError = (error: Error): void => fail(error);
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    function fail(error: Error): void {
      cleanup();
      reject(error);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
