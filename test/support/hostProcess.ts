import { spawn, type ChildProcess } from 'node:child_process';

/** What the local host prints once it listens (`Local host ready {…}`). */
export interface HostReady {
  baseUrl: string;
  rpcBaseUrl: string;
}

/**
 * Starts the local host with the given apps as one Node process (`node --import tsx`, so a SIGKILL hits the host
 * itself, not a launcher) and resolves once it is ready. `children` gets the process, for the caller's clean-up.
 */
export function spawnLocalHost(options: {
  readonly apps: readonly string[];
  readonly durableDir: string;
  readonly settingsFile: string;
  readonly children: ChildProcess[];
}): Promise<{ child: ChildProcess; ready: HostReady }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'local/host/main.ts', ...options.apps.flatMap((app) => ['--app', app]), '--durable-dir', options.durableDir, '--settings', options.settingsFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  options.children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /Local host ready (\{.*\})/.exec(out);
      if (match?.[1]) resolve({ child, ready: JSON.parse(match[1]) as HostReady });
    });
    child.once('exit', (code) => reject(new Error(`host exited early (${code}): ${err.slice(-2000)}`)));
  });
}
