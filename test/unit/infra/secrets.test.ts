import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { infraFiles, infraDir, localSettings, repoRoot } from './files.js';

const FORBIDDEN = [
  /AccountKey/i,
  /listKeys\s*\(/i,
  /listAccountSas|listServiceSas|SharedAccessSignature|\bsig=/i,
  /DefaultEndpointsProtocol=/i,
  /InstrumentationKey=/i,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

describe('no secret material in infra', () => {
  const files = [...infraFiles(), join(repoRoot, 'azure.yaml')];

  it.each(files.map((f) => [relative(repoRoot, f), f] as const))('%s has no key, SAS or connection-string literal', (_, path) => {
    const text = readFileSync(path, 'utf8');
    for (const pattern of FORBIDDEN) expect(text, String(pattern)).not.toMatch(pattern);
  });

  it('declares no @secure() parameter with a default value', () => {
    for (const path of infraFiles().filter((f) => f.endsWith('.bicep'))) {
      const text = readFileSync(path, 'utf8');
      expect(text, relative(infraDir, path)).not.toMatch(/@secure\(\)\s*(@[^\n]*\s*)*param\s+\w+\s+\w+\s*=/);
    }
  });

  it('the local sample uses the development-storage shorthand, not an account key', () => {
    const values = localSettings();
    expect(values['AzureWebJobsStorage']).toBe('UseDevelopmentStorage=true');
    expect(values['AUDIT_STORAGE_CONNECTION_STRING']).toBe('UseDevelopmentStorage=true');
    expect(JSON.stringify(values)).not.toMatch(/AccountKey/i);
  });

  it('the local sample fingerprint key is the public development key (≥ 32 bytes), labelled as such', () => {
    const key = Buffer.from(localSettings()['RELAY_FINGERPRINT_KEY'] ?? '', 'base64');
    expect(key.length).toBeGreaterThanOrEqual(32);
    expect(key.toString('utf8')).toMatch(/^local-development-only-not-a-secret/);
  });
});
