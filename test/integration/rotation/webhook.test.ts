import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLocalToken, startTokenEndpoint, type TokenEndpoint } from '../../../local/identity/index.js';
import { startKeyVaultEmulator, type KeyVaultEmulator } from '../../../local/keyvault/index.js';
import { createTlsMaterial } from '../../../local/kubernetes/tls.js';
import { createActivities, type Activities } from '../../../shared/activities.js';
import { createRuntime } from '../../../shared/composition.js';
import { startAzurite, type AzuriteBlob } from '../../support/azurite.js';
import { signWebhookBody } from '../../../shared/rotation/index.js';
import type { RelayRuntime } from '../../../shared/runtime.js';

// The webhook rotator through the real composition root against a local HTTPS server that implements the owner side
// of the contract in docs/rotation.md: HMAC-signed requests, nonces echoed, values inline or by reference into the
// owner's vault (the Key Vault emulator).

interface Received {
  readonly body: { action: string; credentialId: string; slot: string; nonce: string };
  readonly signatureValid: boolean;
  /** Audience of the bearer token, when the request carried one. */
  readonly audience?: string;
}

let keyVault: KeyVaultEmulator;
let identity: TokenEndpoint;
let azurite: AzuriteBlob;
let owner: Server;
let runtime: RelayRuntime;
let activities: Activities;
let dir: string;
const savedEnv = { ...process.env };
const hmacKey = randomBytes(32).toString('hex');
const received: Received[] = [];
const values: string[] = [];
/** What the owner does with the next requests: answer, fail with 503 once, or hang. */
let behaviour: 'answer' | 'unavailable-once' | 'hang' | 'huge' = 'answer';
const HUGE_MARKER = `huge-${randomUUID()}`;

function startOwner(tls: { certPem: string; keyPem: string }, ownerVaultUrl: () => string): Promise<Server> {
  const server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['x-relay-timestamp'] ?? '');
      const expected = Buffer.from(signWebhookBody(hmacKey, timestamp, text));
      const given = Buffer.from(String(req.headers['x-relay-signature'] ?? ''));
      const signatureValid = expected.length === given.length && timingSafeEqual(expected, given) && Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
      const body = JSON.parse(text) as Received['body'];
      const bearer = /^Bearer (.+)$/.exec(String(req.headers['authorization'] ?? ''))?.[1];
      const audience = bearer ? decodeLocalToken(bearer)?.aud : undefined;
      received.push({ body, signatureValid, ...(audience ? { audience } : {}) });
      if (behaviour === 'hang') return;
      if (behaviour === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nonce: body.nonce, value: HUGE_MARKER.repeat(8_000) }));
        return;
      }
      if (behaviour === 'unavailable-once') {
        behaviour = 'answer';
        res.writeHead(503, { 'retry-after': '1' }).end();
        return;
      }
      if (!signatureValid && audience !== 'api://bmc-rotator') {
        res.writeHead(401).end();
        return;
      }
      if (body.action === 'retire') {
        res.writeHead(204).end();
        return;
      }
      const value = `owner-${randomUUID()}`;
      values.push(value);
      if (body.slot === 'primary') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nonce: body.nonce, value }));
        return;
      }
      // The secondary slot's value is answered by reference: the owner wrote it to its own vault.
      const name = `bmc-${body.slot}`;
      const created = keyVault.createSecret('owner', name, value, { emitEvent: false });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ nonce: body.nonce, reference: { vaultUrl: ownerVaultUrl(), name, version: created.version } }));
    });
  });
  return new Promise((resolveListen) => server.listen(0, '127.0.0.1', () => resolveListen(server)));
}

describe('the webhook rotator against an owner endpoint over HTTPS', () => {
  beforeAll(async () => {
    keyVault = await startKeyVaultEmulator({ vaults: ['platform', 'contoso', 'owner'] });
    keyVault.createSecret('platform', 'bmc-hmac-key', hmacKey, { emitEvent: false });
    keyVault.createSecret('platform', 'bmc-hmac-key-wrong', randomBytes(32).toString('hex'), { emitEvent: false });
    identity = await startTokenEndpoint();
    // Deliveries take a blob-lease lock per vault and source secret (reports container), so the runtime needs real Blob Storage.
    azurite = await startAzurite();
    Object.assign(process.env, identity.env);
    const tls = createTlsMaterial({ commonName: 'localhost', extraHosts: ['127.0.0.1'] });
    owner = await startOwner(tls, () => keyVault.vaultUrls['owner']!);
    const url = `https://127.0.0.1:${(owner.address() as AddressInfo).port}/rotate`;
    dir = mkdtempSync(join(tmpdir(), 'relay-webhook-'));
    // One CA file trusted by the relay: the Key Vault emulator's and the owner endpoint's.
    writeFileSync(join(dir, 'ca.pem'), `${readFileSync(keyVault.caCertPath, 'utf8')}\n${tls.caCertPem}`);
    const webhook = (key: string, extra: Record<string, unknown> = {}) => ({
      kind: 'webhook',
      url,
      auth: { type: 'hmac', key: { source: 'platform', secret: key } },
      ownerVaultUrl: keyVault.vaultUrls['owner'],
      ...extra,
    });
    const route = (id: string, name: string, rotator: unknown) => ({
      id,
      source: 'platform',
      match: { names: [name] },
      targets: [{ target: 'contoso' }],
      rotation: { generator: 'password', length: 24, rotator },
    });
    const config = {
      mode: 'local',
      sources: [{ id: 'platform', vaultUrl: keyVault.vaultUrls['platform'] }],
      targets: [{ id: 'contoso', kind: 'keyVault', vaultUrl: keyVault.vaultUrls['contoso'] }],
      routes: [
        route('bmc', 'bmc-1', webhook('bmc-hmac-key')),
        route('bmc-wrong-key', 'bmc-2', webhook('bmc-hmac-key-wrong')),
        route('bmc-slow', 'bmc-3', webhook('bmc-hmac-key', { timeoutInMs: 300, maxAttempts: 1 })),
        route('bmc-huge', 'bmc-5', webhook('bmc-hmac-key', { maxAttempts: 1 })),
        route('bmc-mi', 'bmc-4', webhook('bmc-hmac-key', { auth: { type: 'managedIdentity', scope: 'api://bmc-rotator/.default' } })),
      ],
    };
    writeFileSync(join(dir, 'relay.config.json'), JSON.stringify(config));
    runtime = createRuntime(
      {
        ...process.env,
        RELAY_CONFIG_PATH: join(dir, 'relay.config.json'),
        RELAY_FINGERPRINT_KEY: randomBytes(32).toString('base64'),
        AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        RELAY_TRUSTED_CA_PATH: join(dir, 'ca.pem'),
        RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: 'true',
        RELAY_SOURCE_CACHE_TTL_MS: '0',
      },
      { log: { info: () => undefined, warn: () => undefined, error: () => undefined } },
    );
    activities = createActivities(runtime);
  });

  afterAll(async () => {
    owner?.closeAllConnections();
    await new Promise((r) => owner?.close(r));
    await keyVault?.close();
    await identity?.close();
    await azurite?.stop();
    process.env = savedEnv;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sourceValue = async (name: string, version: string) => (await runtime.source('platform').readVersion(name, version, runtime.fingerprintKey)).value;

  it('asks the owner for the inactive slot with a signed request and publishes the value it answers', async () => {
    behaviour = 'unavailable-once';
    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'bmc-1', rotationId: 'w-1' });
    expect(result).toMatchObject({ ok: true, slot: 'primary', reused: false });
    if (!result.ok) return;
    // The 503 was retried with the same nonce (the owner's idempotency key).
    const rotates = received.filter((r) => r.body.action === 'rotate');
    expect(rotates).toHaveLength(2);
    expect(rotates[0]!.body).toEqual({ action: 'rotate', credentialId: 'platform/bmc-1', slot: 'primary', nonce: rotates[1]!.body.nonce });
    expect(rotates.every((r) => r.signatureValid)).toBe(true);
    expect(await sourceValue('bmc-1', result.ref.version)).toBe(values.at(-1));
  });

  it('reads a value answered by reference from the owner vault, and retires the previous slot', async () => {
    const first = (await runtime.source('platform').getLatestProperties('bmc-1'))!;
    const ref = { sourceId: 'platform', vaultUrl: keyVault.vaultUrls['platform']!, name: 'bmc-1', version: first.version };
    const cause = { actor: { kind: 'operator', id: 'test' }, trigger: 'manual' } as const;
    const plan = await activities.planRelay({ ref, cause });
    expect((await activities.deliverSecret({ ref, delivery: plan.deliveries[0]!, cause })).status).toBe('Created');

    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'bmc-1', rotationId: 'w-2' });
    expect(result).toMatchObject({ ok: true, slot: 'secondary', previousSlot: 'primary' });
    if (!result.ok) return;
    expect(await sourceValue('bmc-1', result.ref.version)).toBe(values.at(-1));

    expect(await activities.retireRotationSlot({ sourceId: 'platform', name: 'bmc-1', rotationId: 'w-2', routeId: 'bmc', slot: 'primary' })).toEqual({ ok: true, slot: 'primary' });
    const retire = received.at(-1)!;
    expect(retire.body).toMatchObject({ action: 'retire', credentialId: 'platform/bmc-1', slot: 'primary' });
    expect(retire.signatureValid).toBe(true);
  });

  it('authenticates with a managed-identity token for the configured scope instead of a signature', async () => {
    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'bmc-4', rotationId: 'w-5' });
    expect(result).toMatchObject({ ok: true, slot: 'primary' });
    const request = received.at(-1)!;
    expect(request.body).toMatchObject({ action: 'rotate', credentialId: 'platform/bmc-4', slot: 'primary' });
    expect(request.audience).toBe('api://bmc-rotator');
    expect(request.signatureValid).toBe(false);
  });

  it('a refused signature is final (FailedAccessDenied) and publishes nothing', async () => {
    const result = await activities.rotateAtOwner({ sourceId: 'platform', name: 'bmc-2', rotationId: 'w-3' });
    expect(result).toMatchObject({ ok: false, step: 'owner', status: 'FailedAccessDenied', reason: 'owner-refused-auth' });
    expect(received.at(-1)!.signatureValid).toBe(false);
    expect(await runtime.source('platform').getLatestProperties('bmc-2')).toBeUndefined();
  });

  it('a request that times out is transient: the activity throws so the orchestration retries it', async () => {
    behaviour = 'hang';
    try {
      await expect(activities.rotateAtOwner({ sourceId: 'platform', name: 'bmc-3', rotationId: 'w-4' })).rejects.toThrow(/^FailedUnavailable: .*timed out after 300 ms/);
    } finally {
      behaviour = 'answer';
    }
    expect(await runtime.source('platform').getLatestProperties('bmc-3')).toBeUndefined();
  });

  it('an oversized owner answer is refused without quoting it, and publishes nothing', async () => {
    behaviour = 'huge';
    try {
      const failure = await activities.rotateAtOwner({ sourceId: 'platform', name: 'bmc-5', rotationId: 'w-6' }).then(
        (result) => JSON.stringify(result),
        (error: unknown) => String(error),
      );
      expect(failure).toMatch(/larger than 262144 bytes/);
      expect(failure).not.toContain(HUGE_MARKER);
    } finally {
      behaviour = 'answer';
    }
    expect(await runtime.source('platform').getLatestProperties('bmc-5')).toBeUndefined();
  });
});
