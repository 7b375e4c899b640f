import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startHost } from '../../local/host/index.js';
import type { LocalHost } from '../../local/host/index.js';

/**
 * A local host running test/host/sample-app in this process for the current test file (timers parked), in a durable
 * folder of its own under the OS temp dir; the returned function gives the host once `beforeAll` has run.
 */
export function useSampleHost(prefix: string): () => LocalHost {
  let host: LocalHost | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    host = await startHost({ app: ['test/host/sample-app/index.ts'], durableDir: dir, settings: { TICK_SCHEDULE: '0 0 0 1 1 *' }, log: () => undefined });
  });
  afterAll(async () => {
    await host?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!host) throw new Error('the sample host is not started yet (use it inside a test)');
    return host;
  };
}
