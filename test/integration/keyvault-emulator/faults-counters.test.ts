import type { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createKeyVaultAdminClient,
  KeyVaultAdminError,
  startKeyVaultEmulator,
  type KeyVaultAdminClient,
  type KeyVaultEmulator,
} from '../../../local/keyvault/index.js';
import { innerCode, restErrorOf, secretClient } from './helpers.js';

let emulator: KeyVaultEmulator;
let admin: KeyVaultAdminClient;
let contoso: SecretClient;
let fabrikam: SecretClient;

beforeAll(async () => {
  emulator = await startKeyVaultEmulator({ vaults: ['contoso', 'fabrikam'] });
  admin = createKeyVaultAdminClient(emulator.adminUrl);
  contoso = secretClient(emulator, 'contoso');
  fabrikam = secretClient(emulator, 'fabrikam');
  await contoso.setSecret('warm-up', 'x');
  await fabrikam.setSecret('warm-up', 'x');
});

afterEach(async () => {
  await admin.clearFaults();
});

afterAll(async () => {
  await emulator?.close();
});

describe('counters', () => {
  it('counts per vault and operation, and resets', async () => {
    await admin.resetCounters();
    await contoso.setSecret('counted', 'a');
    await contoso.getSecret('counted');
    await contoso.getSecret('counted');
    for await (const _ of contoso.listPropertiesOfSecrets()) void _;
    const c = await admin.counters('contoso');
    expect(c).toMatchObject({ setSecret: 1, getSecret: 2, listSecrets: 1, total: 4, challenges: 0 });
    expect((await admin.counters()).fabrikam?.total).toBe(0);
    await admin.resetCounters();
    expect(emulator.counters('contoso').total).toBe(0);
  });

  it('counts the unauthenticated challenge request separately from the operation', async () => {
    const fresh = secretClient(emulator, 'contoso');
    await admin.resetCounters();
    await fresh.getSecret('counted');
    expect(emulator.counters('contoso')).toMatchObject({ challenges: 1, getSecret: 1, total: 2 });
  });
});

describe('faults', () => {
  it('a 429 with Retry-After is retried by the SDK itself and the caller sees success', async () => {
    await admin.addFault({ vault: 'contoso', operation: 'getSecret', times: 1, effect: { kind: 'throttle', retryAfterInSeconds: 1 } });
    await admin.resetCounters();
    const got = await contoso.getSecret('counted');
    expect(got.value).toBe('a');
    expect(emulator.counters('contoso')).toMatchObject({ getSecret: 2, faults: 1 });
  });

  it('"next 3 setSecret on contoso → 429 without Retry-After" reaches the caller, unretried, three times', async () => {
    await admin.addFault({ vault: 'contoso', operation: 'setSecret', times: 3, effect: { kind: 'throttle' } });
    await admin.resetCounters();
    for (let i = 0; i < 3; i += 1) {
      const error = await restErrorOf(() => contoso.setSecret('throttled', 'v'));
      expect(error.statusCode).toBe(429);
      expect(error.code).toBe('Throttled');
      expect(error.response?.headers.get('retry-after')).toBeUndefined();
    }
    expect(emulator.counters('contoso').setSecret).toBe(3);
    expect((await contoso.setSecret('throttled', 'v')).value).toBe('v');
    expect(await admin.listFaults()).toEqual([]);
    // Other vaults were never affected.
    expect((await fabrikam.setSecret('throttled', 'v')).value).toBe('v');
  });

  it('"all getSecret on fabrikam → 403 ForbiddenByRbac" leaves other operations and vaults alone', async () => {
    await admin.setFaults([{ vault: 'fabrikam', operation: 'getSecret', effect: { kind: 'forbidden' } }]);
    for (let i = 0; i < 2; i += 1) {
      const error = await restErrorOf(() => fabrikam.getSecret('warm-up'));
      expect(error.statusCode).toBe(403);
      expect(error.code).toBe('Forbidden');
      expect(innerCode(error)).toBe('ForbiddenByRbac');
    }
    expect((await fabrikam.setSecret('still-writable', 'v')).value).toBe('v');
    expect((await contoso.getSecret('warm-up')).value).toBe('x');
  });

  it('"reject tokens" answers 401 with the challenge even with a token', async () => {
    emulator.addFault({ vault: 'contoso', effect: { kind: 'rejectToken' } });
    const error = await restErrorOf(() => contoso.getSecret('warm-up'));
    expect(error.statusCode).toBe(401);
    expect(error.response?.headers.get('www-authenticate')).toContain('resource="https://vault.azure.net"');
  });

  it('an error rate with probability 0 never fires and with probability 1 always does', async () => {
    await admin.setFaults([
      { vault: 'contoso', probability: 0, effect: { kind: 'error', error: { status: 500, code: 'InternalServerError' } } },
      { vault: 'fabrikam', operation: 'listSecrets', probability: 1, effect: { kind: 'error', error: { status: 400, code: 'BadParameter', innerCode: 'Injected' } } },
    ]);
    expect((await contoso.getSecret('warm-up')).value).toBe('x');
    const error = await restErrorOf(async () => {
      for await (const _ of fabrikam.listPropertiesOfSecrets()) void _;
    });
    expect(error.statusCode).toBe(400);
    // Paged list calls surface status and code, but the SDK's paging helper attaches no `details`.
    expect(error.code).toBe('BadParameter');
  });

  it('latency delays the answer and still serves it', async () => {
    emulator.setFaults([{ vault: 'contoso', operation: 'getSecret', times: 1, effect: { kind: 'latency', latencyInMs: 50 } }]);
    expect((await contoso.getSecret('warm-up')).value).toBe('x');
    expect(emulator.listFaults()).toEqual([]);
  });

  it('a reset drops the connection (a network error for the client)', async () => {
    const client = secretClient(emulator, 'contoso', undefined, { retryOptions: { maxRetries: 0 } });
    await client.getSecret('warm-up');
    emulator.addFault({ vault: 'contoso', operation: 'getSecret', times: 1, effect: { kind: 'reset' } });
    const error = await restErrorOf(() => client.getSecret('warm-up'));
    expect(error.statusCode).toBeUndefined();
  });

  it('rejects malformed fault rules at the admin API', async () => {
    const error = await admin.addFault({ operation: 'nope' as never, effect: { kind: 'throttle' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyVaultAdminError);
    expect((error as KeyVaultAdminError).status).toBe(400);
  });
});

describe('admin test setup', () => {
  it('creates and disables secrets directly, never returning values', async () => {
    const created = await admin.createSecret('contoso', 'seeded', 'seed-value-123', { contentType: 'text/plain', tags: { k: 'v' } });
    expect(created).toMatchObject({ vault: 'contoso', name: 'seeded', enabled: true, contentType: 'text/plain', tags: { k: 'v' } });
    expect(JSON.stringify(created)).not.toContain('seed-value-123');
    expect((await contoso.getSecret('seeded')).value).toBe('seed-value-123');

    await admin.setSecretEnabled('contoso', 'seeded', false);
    const error = await restErrorOf(() => contoso.getSecret('seeded'));
    expect(innerCode(error)).toBe('SecretDisabled');
    const listed = await admin.listSecretProperties('contoso');
    expect(listed.find((p) => p.name === 'seeded')?.enabled).toBe(false);
    expect(JSON.stringify(listed)).not.toContain('seed-value-123');

    const bad = await admin.createSecret('contoso', 'bad_name', 'v').catch((e: unknown) => e);
    expect((bad as KeyVaultAdminError).status).toBe(400);
    expect((await admin.vaults()).map((v) => v.name)).toEqual(['contoso', 'fabrikam']);
    expect(await admin.caCertPem()).toBe(emulator.caCertPem);
  });
});
