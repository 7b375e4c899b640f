/**
 * The relay's source reader follows Key Vault's paging (`nextLink`) through the SDK: lists longer than one page
 * (25 items, the service's default) are read completely, as against a real vault with many secrets or versions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { createSourceVault, type SourceVault } from '../../../shared/sources/index.js';
import { emulatorClientOptions, staticCredential } from '../keyVault-target/emulatorSupport.js';

const VAULT = 'paged-src';
let emulator: KeyVaultEmulator;
let source: SourceVault;
const versions: string[] = [];

beforeAll(async () => {
  emulator = await startKeyVaultEmulator({ vaults: [VAULT] });
  source = createSourceVault({ sourceId: 'platform', vaultUrl: emulator.vaultUrls[VAULT]!, credential: staticCredential, clientOptions: emulatorClientOptions(emulator) });
  for (let i = 0; i < 30; i += 1) emulator.createSecret(VAULT, `paged-${String(i).padStart(2, '0')}`, `v-${i}`, { emitEvent: false });
  for (let i = 0; i < 30; i += 1) versions.push(emulator.createSecret(VAULT, 'many-versions', `version-${i}`, { emitEvent: false }).version);
});

afterAll(async () => {
  await emulator?.close();
});

describe('relay source reader over paged Key Vault lists', () => {
  it('lists every secret across pages', async () => {
    emulator.resetCounters();
    const names: string[] = [];
    for await (const s of source.listSecrets()) names.push(s.name);
    expect(names.filter((n) => n.startsWith('paged-'))).toHaveLength(30);
    expect(names).toContain('many-versions');
    expect(emulator.counters(VAULT).listSecrets).toBe(2);
  });

  it('finds the first and the latest of 30 versions (pages of 25)', async () => {
    emulator.resetCounters();
    expect((await source.getVersionProperties('many-versions', versions[0]!))?.version).toBe(versions[0]);
    expect(emulator.counters(VAULT).listSecretVersions).toBe(2);
    expect((await source.getVersionProperties('many-versions', versions[29]!))?.version).toBe(versions[29]);
  });
});
