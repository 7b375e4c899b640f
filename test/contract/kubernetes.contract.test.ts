import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../../local/kubernetes/index.js';
import { isRelayManaged, keyMarksOf, secretStateFrom } from '../../shared/targets/kubernetes/index.js';
import { adminClients, targetOn, writesOf } from '../integration/kubernetes/support.js';
import { describeTargetContract, type ContractHarness } from './targetContract.js';

const NS = 'contract';
let emulator: KubernetesEmulator;
let core: CoreV1Api;
let counter = 0;

beforeAll(async () => {
  emulator = await startKubernetesEmulator({ cluster: 'contract', namespaces: [NS] });
  ({ core } = adminClients(emulator));
});
afterAll(async () => {
  await emulator?.close();
});

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

async function read(name: string) {
  try {
    return secretStateFrom(await core.readNamespacedSecret({ name, namespace: NS }), NS);
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

describeTargetContract('Kubernetes target on the emulator', async (): Promise<ContractHarness> => ({
  target: targetOn(emulator, NS),
  // Kubernetes has no soft delete; an edit of a relay-owned key is detected by the stored value's fingerprint.
  features: { softDelete: false, repairsForeignOverwrite: true },
  placement: () => ({ name: `contract-${Date.now().toString(36)}-${++counter}`, key: 'value' }),
  invalidPlacement: { name: 'Not_A_DNS_Subdomain', key: 'value' },
  oversizedValue: randomBytes(512 * 1024 + 1).toString('hex'),
  seedForeign: async (placement, value) => {
    const key = placement.key ?? 'value';
    if (await read(placement.name)) {
      // A foreign writer edits the value of an existing Secret (kubectl edit, another syncer).
      await core.patchNamespacedSecret(
        { name: placement.name, namespace: NS, body: { data: { [key]: b64(value) } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } else {
      await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: placement.name, labels: { owner: 'someone-else' } }, data: { [key]: b64(value) } } });
    }
  },
  softDelete: async (placement) => {
    await core.deleteNamespacedSecret({ name: placement.name, namespace: NS });
  },
  readRaw: async (placement) => {
    const secret = await read(placement.name);
    const key = placement.key ?? 'value';
    const stored = secret?.data[key];
    if (!secret || stored === undefined) return undefined;
    const mark = isRelayManaged(secret) ? keyMarksOf(secret)[key] : undefined;
    return { value: Buffer.from(stored, 'base64').toString('utf8'), owned: mark !== undefined, ...(mark ? { sourceVersion: mark.version } : {}) };
  },
  writeCount: async () => writesOf(emulator),
  teardown: async () => undefined,
}));
