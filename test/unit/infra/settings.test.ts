import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../../shared/composition.js';
import { AUDIT_SETTING_NAMES } from '../../../shared/audit/index.js';

const sample = JSON.parse(readFileSync(new URL('../../../local.settings.sample.json', import.meta.url), 'utf8')) as {
  Values: Record<string, string>;
};
const deployment = readFileSync(new URL('../../../docs/deployment.md', import.meta.url), 'utf8');

describe('settings the app reads', () => {
  const read = [...Object.values(SETTINGS), ...Object.values(AUDIT_SETTING_NAMES), 'RECONCILE_SCHEDULE'];

  it.each(read)('%s is documented in docs/deployment.md', (name) => {
    expect(deployment).toContain(`\`${name}\``);
  });

  it('every local setting the app reads has a value in local.settings.sample.json', () => {
    // The config blob settings switch the relay from the file to the blob: unset locally, the stack uses the file.
    const azureOnly = new Set<string>([
      AUDIT_SETTING_NAMES.blobServiceUri,
      AUDIT_SETTING_NAMES.identityClientId,
      SETTINGS.configBlobServiceUri,
      SETTINGS.configStorageConnectionString,
      SETTINGS.configBlob,
    ]);
    const missing = read.filter((name) => !azureOnly.has(name) && !(name in sample.Values));
    expect(missing).toEqual([]);
  });
});
