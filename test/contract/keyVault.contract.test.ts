import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import type { KeyVaultEmulator } from '../../local/keyvault/index.js';
import { createKeyVaultTarget, marksFromTags } from '../../shared/targets/keyVault/index.js';
import { WriteBudget } from '../../shared/targets/writeBudget.js';
import {
  customerClient,
  emulatorClientOptions,
  recordingSleep,
  startEmulator,
  staticCredential,
  writesOf,
} from '../integration/keyVault-target/emulatorSupport.js';
import { describeTargetContract, type ContractHarness } from './targetContract.js';

const VAULT = 'contract-kv';
let emulator: KeyVaultEmulator;
let counter = 0;

beforeAll(async () => {
  emulator = await startEmulator([VAULT]);
});
afterAll(async () => {
  await emulator?.close();
});

describeTargetContract('Key Vault target on the emulator', async (): Promise<ContractHarness> => {
  const customer = customerClient(emulator, VAULT);
  const target = createKeyVaultTarget({
    targetId: 'kv-contract',
    vaultUrl: emulator.vaultUrls[VAULT]!,
    credential: staticCredential,
    clientOptions: emulatorClientOptions(emulator),
    writeBudget: new WriteBudget({ writes: 1_000, perSeconds: 1 }),
    sleep: recordingSleep(),
    recoverPollIntervalInMs: 20,
  });
  return {
    target,
    features: { softDelete: true, repairsForeignOverwrite: true },
    placement: () => ({ name: `contract-${Date.now().toString(36)}-${++counter}` }),
    invalidPlacement: { name: 'not_a/valid.name' },
    oversizedValue: randomBytes(13_000).toString('hex'),
    seedForeign: async (placement, value) => {
      emulator.createSecret(VAULT, placement.name, value, { tags: { owner: 'someone-else' }, emitEvent: false });
    },
    softDelete: async (placement) => {
      await (await customer.beginDeleteSecret(placement.name, { intervalInMs: 20 })).pollUntilDone();
    },
    readRaw: async (placement) => {
      try {
        const secret = await customer.getSecret(placement.name);
        const marks = marksFromTags(secret.properties.tags);
        return { value: secret.value ?? '', owned: marks !== undefined, ...(marks ? { sourceVersion: marks.sourceVersion } : {}) };
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    },
    writeCount: async () => writesOf(emulator, VAULT),
    teardown: async () => undefined,
  };
});
