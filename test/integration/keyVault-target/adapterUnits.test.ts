import { describe, expect, it } from 'vitest';
import { retryAfterInMsFrom, withBackoff } from '../../../shared/targets/backoff.js';
import { TransientTargetError } from '../../../shared/targets/contract.js';
import {
  classifyKeyVaultError,
  keyVaultRetryHint,
  latestVersionOf,
  marksFromTags,
  TargetFailure,
  type SecretVersionInfo,
} from '../../../shared/targets/keyVault/index.js';
import { sharedWriteBudget, WriteBudget } from '../../../shared/targets/writeBudget.js';
import { recordingSleep } from './emulatorSupport.js';

/** A RestError-shaped failure as the SDK throws it (status, code, camel-cased details, headers). */
function restError(statusCode: number | undefined, code?: string, innerCode?: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error('server text that must not be echoed'), {
    name: 'RestError',
    statusCode,
    code,
    details: { error: { code, innerError: innerCode ? { code: innerCode } : undefined } },
    response: { headers: { get: (n: string) => headers[n.toLowerCase()] } },
  });
}

const ctx = { operation: 'setSecret', location: 'contoso.vault.azure.net/db' };

describe('classifyKeyVaultError', () => {
  it.each([
    [restError(403, 'Forbidden', 'ForbiddenByRbac'), TargetFailure, 'FailedAccessDenied', 'ForbiddenByRbac'],
    [restError(401, 'Unauthorized'), TargetFailure, 'FailedAccessDenied', '401'],
    [restError(400, 'BadParameter'), TargetFailure, 'FailedValidation', 'BadParameter'],
    [restError(409, 'Conflict', 'ObjectIsDeletedButRecoverable'), TargetFailure, 'FailedValidation', 'ObjectIsDeletedButRecoverable'],
    [restError(409, 'Conflict', 'ObjectIsBeingRecovered'), TransientTargetError, 'FailedUnavailable', 'ObjectIsBeingRecovered'],
    [restError(429, 'Throttled'), TransientTargetError, 'FailedThrottled', 'Throttled'],
    [restError(503, 'ServiceUnavailable'), TransientTargetError, 'FailedUnavailable', '503'],
    [restError(undefined, 'ECONNREFUSED'), TransientTargetError, 'FailedUnavailable', 'network'],
  ])('%#: classifies into the right class and status, naming codes, never the server text', (error, type, status, needle) => {
    const classified = classifyKeyVaultError(error, ctx);
    expect(classified).toBeInstanceOf(type);
    expect((classified as TargetFailure | TransientTargetError).status).toBe(status);
    expect(classified.message).toContain(needle);
    expect(classified.message).toContain('contoso.vault.azure.net/db');
    expect(classified.message).not.toContain('must not be echoed');
    expect(JSON.stringify(classified.cause)).not.toContain('must not be echoed');
  });

  it('reads Retry-After into the transient error and the retry hint', () => {
    const error = restError(429, 'Throttled', undefined, { 'retry-after': '3' });
    expect(keyVaultRetryHint(error)).toEqual({ retryAfterInMs: 3_000 });
    expect((classifyKeyVaultError(error, ctx) as TransientTargetError).retryAfterInMs).toBe(3_000);
    expect(keyVaultRetryHint(restError(429, 'Throttled'))).toEqual({});
    expect(keyVaultRetryHint(restError(403, 'Forbidden'))).toBeUndefined();
  });
});

describe('backoff', () => {
  it('parses retry hints in ms, seconds and HTTP dates', () => {
    const headers = (h: Record<string, string>) => (n: string) => h[n];
    expect(retryAfterInMsFrom(headers({ 'retry-after-ms': '250' }))).toBe(250);
    expect(retryAfterInMsFrom(headers({ 'retry-after': '2' }))).toBe(2_000);
    expect(retryAfterInMsFrom(headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6_000);
    expect(retryAfterInMsFrom(headers({}))).toBeUndefined();
  });

  it('does not wait out a Retry-After longer than the in-call maximum', async () => {
    const sleep = recordingSleep();
    let calls = 0;
    const error = await withBackoff(
      async () => {
        calls++;
        throw new Error('busy');
      },
      () => ({ retryAfterInMs: 120_000 }),
      { sleep },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('busy');
    expect(calls).toBe(1);
    expect(sleep.waits).toEqual([]);
  });

  it('rethrows a non-retryable error at once', async () => {
    let calls = 0;
    await expect(
      withBackoff(async () => {
        calls++;
        throw new Error('final');
      }, () => undefined),
    ).rejects.toThrow('final');
    expect(calls).toBe(1);
  });
});

describe('write budget', () => {
  it('one bucket per vault host, whatever the case', () => {
    expect(sharedWriteBudget('Contoso.vault.azure.net')).toBe(sharedWriteBudget('contoso.vault.azure.net'));
    expect(sharedWriteBudget('a.vault.azure.net')).not.toBe(sharedWriteBudget('b.vault.azure.net'));
  });

  it('refills over time and an aborted waiter leaves without a token', async () => {
    let now = 0;
    const budget = new WriteBudget({ writes: 2, perSeconds: 10, clock: () => now, sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      now += ms;
    } });
    await budget.take();
    await budget.take();
    expect(budget.available()).toBe(0);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(budget.take({ abortSignal: controller.signal })).rejects.toThrow('stop');
    now += 5_000;
    expect(budget.available()).toBe(1);
    await budget.take();
    expect(now).toBe(5_000);
  });

  it('rejects nonsense settings', () => {
    expect(() => new WriteBudget({ writes: 0 })).toThrow(RangeError);
    expect(() => new WriteBudget({ perSeconds: 0 })).toThrow(RangeError);
  });
});

describe('transformations', () => {
  const ours = { 'managed-by': 'secret-relay', 'relay-source': 'SRC.vault.azure.net/db', 'relay-source-version': 'v1', 'relay-source-created': '100' };
  const v = (version: string, createdOn: number, tags: Record<string, string> = {}): SecretVersionInfo => ({
    name: 'db',
    version,
    createdOn,
    enabled: true,
    tags,
  });

  it('reads marks only with managed-by and source fields; lower-cases the owner', () => {
    expect(marksFromTags(ours)).toEqual({ source: 'src.vault.azure.net/db', sourceVersion: 'v1', sourceCreatedOn: 100 });
    expect(marksFromTags({ ...ours, 'managed-by': 'someone' })).toBeUndefined();
    expect(marksFromTags({ 'managed-by': 'secret-relay' })).toBeUndefined();
  });

  it('latest: newest second wins; a tie goes to the foreign version unless ours records it replaced it', () => {
    expect(latestVersionOf([v('a', 1), v('b', 2, ours)])?.version).toBe('b');
    expect(latestVersionOf([v('ours', 5, ours), v('foreign', 5)])?.version).toBe('foreign');
    expect(latestVersionOf([v('foreign', 5), v('ours', 5, { ...ours, 'relay-replaces': 'foreign' })])?.version).toBe('ours');
    expect(latestVersionOf([v('ours', 5, { ...ours, 'relay-replaces': 'foreign' }), v('foreign', 5)])?.version).toBe('ours');
    expect(latestVersionOf([])).toBeUndefined();
  });

  it('latest: a same-second chain of relay writes resolves to its head, in any listing order', () => {
    const chain = [
      v('w1', 7, { ...ours, 'relay-source-version': 's1' }),
      v('w2', 7, { ...ours, 'relay-source-version': 's2', 'relay-replaces': 'w1' }),
      v('w3', 7, { ...ours, 'relay-source-version': 's3', 'relay-replaces': 'w2' }),
    ];
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]]) {
      expect(latestVersionOf(order.map((i) => chain[i]!))?.version).toBe('w3');
    }
  });
});
