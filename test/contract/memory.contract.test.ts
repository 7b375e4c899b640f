import { randomBytes } from 'node:crypto';
import { MemoryTarget } from '../fakes/memoryTarget.js';
import { describeTargetContract, type ContractHarness } from './targetContract.js';

let counter = 0;

describeTargetContract('memory fake', async (): Promise<ContractHarness> => {
  const target = new MemoryTarget({ targetId: 'memory-contract' });
  return {
    target,
    features: { softDelete: true, repairsForeignOverwrite: true },
    placement: () => ({ name: `contract-${++counter}` }),
    invalidPlacement: { name: 'not_a/valid.name' },
    oversizedValue: randomBytes(13_000).toString('hex'),
    seedForeign: async (placement, value) => {
      target.seedForeign(placement, value);
    },
    softDelete: async (placement) => target.softDelete(placement),
    readRaw: async (placement) => {
      const raw = target.readRaw(placement);
      return raw && { value: raw.value, owned: raw.owned, ...(raw.sourceVersion ? { sourceVersion: raw.sourceVersion } : {}) };
    },
    writeCount: async () => target.counters().writes,
    teardown: async () => undefined,
  };
});
