/**
 * Every resource in every .bicep file under infra/ against the Azure management SDK's request models for the API
 * version the Bicep uses (armModels.ts, modelCheck.ts). The packages are devDependencies pinned to those versions:
 * a new resource type or API version needs its `@azure/arm-*` package at the matching version (see
 * docs/deployment.md, "Verified here, and not").
 */
import { describe, expect, it } from 'vitest';
import { loadArmIndex } from './armModels.js';
import { parseBicep, readBicep } from './bicep.js';
import { bicepPaths } from './files.js';
import { checkFile, formatProblems } from './modelCheck.js';

async function problemsOf(source: string) {
  return checkFile(parseBicep(source, `${process.cwd()}/infra/mutated.bicep`), await loadArmIndex());
}

describe('infra/ against the @azure/arm-* models', () => {
  it('every resource type, API version and property path in every .bicep file is in the pinned packages', async () => {
    const index = await loadArmIndex();
    const problems = bicepPaths().flatMap((path) => checkFile(readBicep(path), index));
    expect(formatProblems(problems)).toBe('');
  });

  it('checks a real number of resources (no file is silently skipped)', async () => {
    const files = bicepPaths().map((path) => readBicep(path));
    const declared = files.reduce((n, f) => n + f.resources.length, 0);
    expect(declared).toBeGreaterThanOrEqual(40);
  });

  describe('would catch', () => {
    const storage = `
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st1'
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
  }
}
`;

    it('the unmutated sample passes', async () => {
      expect(formatProblems(await problemsOf(storage))).toBe('');
    });

    it('a misspelt property, naming file:line and the property', async () => {
      const problems = await problemsOf(storage.replace('allowSharedKeyAccess', 'allowSharedKeyAcess'));
      expect(formatProblems(problems)).toContain(
        "infra/mutated.bicep:10: account.properties.allowSharedKeyAcess: not a property of StorageAccountCreateParameters.properties in @azure/arm-storage@18.3.0",
      );
      expect(problems[0]!.message).toContain("did you mean 'allowSharedKeyAccess'");
    });

    it('a property at the wrong nesting level', async () => {
      const moved = storage.replace('    allowSharedKeyAccess: false\n', '').replace("  kind: 'StorageV2'", "  kind: 'StorageV2'\n  allowSharedKeyAccess: false");
      const problems = await problemsOf(moved);
      expect(problems.map((p) => p.property)).toEqual(['account.allowSharedKeyAccess']);
    });

    it('an enum value the package does not list (fixed and extensible enums)', async () => {
      const problems = await problemsOf(storage.replace("'StorageV2'", "'StorageV3'").replace("'TLS1_2'", "'TLS1_4'"));
      expect(problems.map((p) => p.property)).toEqual(['account.kind', 'account.properties.minimumTlsVersion']);
    });

    it('a value of the wrong kind and a read-only property', async () => {
      const problems = await problemsOf(
        `${storage.replace('allowSharedKeyAccess: false', "allowSharedKeyAccess: 'false'")}
resource audit 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  name: 'audit'
  properties: {
    publicAccess: 'None'
    lastModifiedTime: '2026-01-01T00:00:00Z'
  }
}
`,
      );
      expect(problems.map((p) => [p.property, p.message.split(' ')[0]])).toEqual([
        ['account.properties.allowSharedKeyAccess', "'false'"],
        ['audit.properties.lastModifiedTime', 'read-only'],
      ]);
    });

    it('an API version no pinned package carries, and an unknown resource type', async () => {
      const problems = await problemsOf(
        `${storage.replace('2023-05-01', '2023-04-01')}\nresource x 'Microsoft.Storage/storageAcounts@2023-05-01' = {\n  name: 'x'\n}\n`,
      );
      expect(problems.map((p) => p.message)).toEqual([
        expect.stringContaining('the pinned packages carry Microsoft.Storage/storageAccounts only as @azure/arm-storage@18.3.0 at 2023-05-01'),
        expect.stringContaining('carries Microsoft.Storage/storageAcounts'),
      ]);
    });

    it('a wrong polymorphic discriminator and a property of another variant (Event Grid destination)', async () => {
      const subscription = `
resource sub 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  name: 'secret-relay'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: functionId
        maxEventsPerBatch: 1
      }
    }
  }
}
`;
      expect(formatProblems(await problemsOf(subscription))).toBe('');
      const wrongType = await problemsOf(subscription.replace("'AzureFunction'", "'AzureFunctions'"));
      expect(wrongType.map((p) => p.property)).toEqual(['sub.properties.destination.endpointType']);
      const otherVariant = await problemsOf(subscription.replace('maxEventsPerBatch: 1', "endpointUrl: 'https://x'"));
      expect(otherVariant.map((p) => p.property)).toEqual(['sub.properties.destination.properties.endpointUrl']);
    });

    it('a misspelt key in a nested child resource and in a TypeSpec-generated model (diagnostic settings)', async () => {
      const nested = `
resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'f'
  location: location
  properties: {
    httpsOnly: true
  }
  resource web 'config' = {
    name: 'web'
    properties: {
      minTlsVersion: '1.2'
      ftpsStat: 'Disabled'
    }
  }
}
resource diag 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabeld: true
      }
    ]
  }
}
`;
      const problems = await problemsOf(nested);
      expect(problems.map((p) => `${p.where.split(':').pop()} ${p.property}`)).toEqual([
        '12 web.properties.ftpsStat',
        '24 diag.properties.logs[].enabeld',
      ]);
    });
  });
});
