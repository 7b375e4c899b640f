import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import type { Sleep } from '../../../shared/targets/backoff.js';

/** A static token: the emulator checks that a bearer token is present, not what it says. */
export const staticCredential: TokenCredential = {
  getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** A sleep that only records what it was asked to wait (tests never wait real seconds for the ladder). */
export function recordingSleep(): Sleep & { readonly waits: number[] } {
  const waits: number[] = [];
  const sleep = (async (delayInMs: number) => {
    waits.push(delayInMs);
  }) as Sleep & { waits: number[] };
  sleep.waits = waits;
  return sleep;
}

/** SDK options the composition root would pass for the emulator: trust its CA, accept a localhost challenge. */
export function emulatorClientOptions(emulator: KeyVaultEmulator, extra: SecretClientOptions = {}): SecretClientOptions {
  return {
    tlsOptions: { ca: emulator.caCertPem },
    disableChallengeResourceVerification: true,
    // The SDK's own retries of 5xx would wait real seconds; the relay's ladder is what these tests exercise.
    retryOptions: { maxRetries: 0 },
    ...extra,
  };
}

/** A `SecretClient` acting as the vault's owner (the customer), for arranging and inspecting state around the relay. */
export function customerClient(emulator: KeyVaultEmulator, vault: string): SecretClient {
  return new SecretClient(emulator.vaultUrls[vault]!, staticCredential, emulatorClientOptions(emulator));
}

export async function startEmulator(vaults: readonly string[]): Promise<KeyVaultEmulator> {
  return startKeyVaultEmulator({ vaults });
}

/** Waits until the wall clock enters the next second (Key Vault creation times have 1-second resolution). */
export async function nextSecond(): Promise<void> {
  const ms = 1_000 - (Date.now() % 1_000) + 5;
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Writes done on a vault, as the emulator counted them (sets, recoveries, deletions), less those the vault refused
 * with 409 (a set on a soft-deleted name changes nothing).
 */
export function writesOf(emulator: KeyVaultEmulator, vault: string): number {
  const c = emulator.counters(vault);
  return c.setSecret + c.recoverDeletedSecret + c.deleteSecret - c.conflicts;
}
