import { describe, expect, it } from 'vitest';
import { AuditSettingsError, auditContainerFromSettings, auditSettingsFrom } from '../../../shared/audit/index.js';

const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const CONNECTION = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;`;

describe('audit settings', () => {
  it.each([
    [{ AUDIT_STORAGE_CONNECTION_STRING: CONNECTION }, { mode: 'connectionString', container: 'audit' }],
    [{ AUDIT_STORAGE_CONNECTION_STRING: CONNECTION, AUDIT_BLOB_SERVICE_URI: 'https://a.blob.core.windows.net' }, { mode: 'connectionString' }],
    [{ AUDIT_BLOB_SERVICE_URI: 'https://a.blob.core.windows.net', AUDIT_CONTAINER: 'trail' }, { mode: 'identity', container: 'trail' }],
    [{ AUDIT_BLOB_SERVICE_URI: 'https://a.blob.core.windows.net', AUDIT_IDENTITY_CLIENT_ID: '00000000-0000-0000-0000-000000000001', AUDIT_SHARDS: '8' }, { mode: 'identity', identityClientId: '00000000-0000-0000-0000-000000000001', shards: 8 }],
  ])('reads %j', (env, expected) => {
    expect(auditSettingsFrom(env)).toMatchObject(expected);
  });

  it.each([
    [{}, 'AUDIT_STORAGE_CONNECTION_STRING'],
    [{ AUDIT_BLOB_SERVICE_URI: 'not a url' }, 'AUDIT_BLOB_SERVICE_URI'],
    [{ AUDIT_STORAGE_CONNECTION_STRING: CONNECTION, AUDIT_CONTAINER: 'Bad_Name' }, 'AUDIT_CONTAINER'],
    [{ AUDIT_STORAGE_CONNECTION_STRING: CONNECTION, AUDIT_SHARDS: '0' }, 'AUDIT_SHARDS'],
  ])('refuses %j naming the setting, never a value', (env, name) => {
    expect(() => auditSettingsFrom(env)).toThrow(AuditSettingsError);
    expect(() => auditSettingsFrom(env)).toThrow(name);
    try {
      auditSettingsFrom(env);
    } catch (error) {
      expect((error as Error).message).not.toContain(ACCOUNT_KEY);
    }
  });

  it('builds container clients for both modes without any request', () => {
    expect(auditContainerFromSettings({ AUDIT_STORAGE_CONNECTION_STRING: CONNECTION }).url).toBe('http://127.0.0.1:1/devstoreaccount1/audit');
    const viaIdentity = auditContainerFromSettings({ AUDIT_BLOB_SERVICE_URI: 'https://acct.blob.core.windows.net', AUDIT_IDENTITY_CLIENT_ID: '00000000-0000-0000-0000-000000000001' });
    expect(viaIdentity.url).toBe('https://acct.blob.core.windows.net/audit');
  });
});
