/**
 * Runs one emulated cluster standalone and prints one JSON line:
 * `{"cluster","server","adminUrl","caCertPath","tokens":{…},"kubeconfigs":{…}}`.
 * Usage: `npx tsx local/kubernetes/main.ts [--cluster edge-1] [--state-dir .local/k8s/edge-1] [--port 0]
 * [--namespace apps]…`. Stops on SIGINT/SIGTERM.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startKubernetesEmulator } from './emulator.js';

const { values } = parseArgs({
  options: {
    cluster: { type: 'string', default: 'emulated' },
    'state-dir': { type: 'string' },
    port: { type: 'string', default: '0' },
    'admin-port': { type: 'string', default: '0' },
    namespace: { type: 'string', multiple: true, default: [] },
  },
});

const stateDir = values['state-dir'];
const emulator = await startKubernetesEmulator({
  cluster: values.cluster,
  port: Number(values.port),
  adminPort: Number(values['admin-port']),
  namespaces: values.namespace,
  ...(stateDir ? { stateDir } : {}),
});

const kubeconfigs: Record<string, string> = {};
if (stateDir) {
  for (const [name, token] of Object.entries(emulator.tokens)) {
    kubeconfigs[name] = emulator.writeKubeconfig(join(stateDir, `kubeconfig-${name}.yaml`), token);
  }
}
process.stdout.write(
  `${JSON.stringify({ cluster: emulator.cluster, server: emulator.server, adminUrl: emulator.adminUrl, caCertPath: emulator.caCertPath, tokens: emulator.tokens, kubeconfigs })}\n`,
);

const stop = (): void => {
  void emulator.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
