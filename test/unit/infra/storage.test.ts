import { describe, expect, it } from 'vitest';
import { exprText, get, stringValue } from './bicep.js';
import { bicep, moduleOf, paramOf, resourceOf } from './files.js';

const audit = bicep('modules/audit-storage.bicep');
const generic = bicep('modules/storage-account.bicep');
const main = bicep('main.bicep');

describe('audit storage (WORM)', () => {
  const policy = resourceOf(audit, 'auditImmutability');

  it('puts a container-level time-based immutability policy with protected append writes on the audit container', () => {
    expect(policy.type).toBe('Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies');
    expect(exprText(get(policy.body, 'parent'))).toBe('auditContainer');
    expect(stringValue(get(policy.body, 'name'))).toBe('default');
    expect(exprText(get(policy.body, 'properties.allowProtectedAppendWrites'))).toBe('true');
    expect(exprText(get(policy.body, 'properties.immutabilityPeriodSinceCreationInDays'))).toBe('retentionDays');
    // Mutually exclusive with allowProtectedAppendWrites (service-limits 5.3).
    expect(get(policy.body, 'properties.allowProtectedAppendWritesAll')).toBeUndefined();
  });

  it('leaves the WORM policy unlocked (locking is an operator action) and puts a CanNotDelete lock on the account', () => {
    expect(audit.code).not.toMatch(/isLocked/);
    const lock = resourceOf(audit, 'accountLock');
    expect(lock.type).toBe('Microsoft.Authorization/locks');
    expect(exprText(get(lock.body, 'scope'))).toBe('account');
    expect(stringValue(get(lock.body, 'properties.level'))).toBe('CanNotDelete');
  });

  it('takes the retention days from a main.bicep parameter and the container is named audit', () => {
    expect(paramOf(audit, 'retentionDays').type).toBe('int');
    const call = moduleOf(main, 'auditStorage');
    expect(exprText(get(call.body, 'params.retentionDays'))).toBe('auditRetentionDays');
    expect(stringValue(get(call.body, 'params.auditContainerName'))).toBe('audit');
    expect(exprText(get(resourceOf(audit, 'auditContainer').body, 'name'))).toBe('auditContainerName');
    expect(paramOf(main, 'auditRetentionDays').type).toBe('int');
  });

  it('stops managing the policy once an operator has locked it', () => {
    expect(policy.condition).toBe('manageImmutabilityPolicy');
    expect(exprText(get(moduleOf(main, 'auditStorage').body, 'params.manageImmutabilityPolicy'))).toBe(
      'manageAuditImmutabilityPolicy',
    );
  });

  it('puts the audit and seal containers under WORM with protected appends, and the deadletter container outside it', () => {
    const deadLetter = resourceOf(audit, 'deadLetterContainer');
    expect(exprText(get(deadLetter.body, 'parent'))).toBe('blobService');
    const policies = audit.resources.filter((r) => r.type.endsWith('/immutabilityPolicies'));
    expect(policies.map((p) => exprText(get(p.body, 'parent'))).sort()).toEqual(['auditContainer', 'sealContainer']);
    for (const policy of policies) expect(exprText(get(policy.body, 'properties.allowProtectedAppendWrites'))).toBe('true');
  });
});

describe.each([
  ['audit-storage.bicep', audit],
  ['storage-account.bicep', generic],
])('%s account hardening', (_, file) => {
  const account = resourceOf(file, 'account');
  it('allows no shared keys, no public blobs, TLS 1.2 and HTTPS only', () => {
    expect(exprText(get(account.body, 'properties.allowSharedKeyAccess'))).toBe('false');
    expect(exprText(get(account.body, 'properties.allowBlobPublicAccess'))).toBe('false');
    expect(stringValue(get(account.body, 'properties.minimumTlsVersion'))).toBe('TLS1_2');
    expect(exprText(get(account.body, 'properties.supportsHttpsTrafficOnly'))).toBe('true');
  });
});

describe('storage layout', () => {
  it('keeps host, task hub and audit on separate accounts', () => {
    const names = ['hostStorage', 'taskHubStorage', 'auditStorage'].map((m) =>
      exprText(get(moduleOf(main, m).body, 'params.name')),
    );
    expect(new Set(names).size).toBe(3);
    expect(moduleOf(main, 'taskHubStorage').condition).toBe('dedicatedTaskHubStorage');
  });
});
