import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exprText, get, stringValue } from './bicep.js';
import { bicep, bicepPaths, localSettings, moduleOf, paramOf, repoRoot, resourceOf } from './files.js';

/** Settings that only make sense on one machine; Azure gets identity-based equivalents or platform values. */
const LOCAL_ONLY = [
  'FUNCTIONS_WORKER_RUNTIME', // Flex Consumption: runtime lives in functionAppConfig.runtime
  'AzureWebJobsStorage', // Azure: AzureWebJobsStorage__* identity-based settings
  'AUDIT_STORAGE_CONNECTION_STRING', // Azure: AUDIT_BLOB_SERVICE_URI + AUDIT_IDENTITY_CLIENT_ID
  'RELAY_TRUSTED_CA_PATH',
  'RELAY_DISABLE_CHALLENGE_RESOURCE_VERIFICATION',
  'IDENTITY_ENDPOINT', // set by the platform in Azure
  'IDENTITY_HEADER',
  'RELAY_CONFIG_PATH', // Azure: the config blob (RELAY_CONFIG_BLOB_SERVICE_URI, RELAY_CONFIG_BLOB), changeable without a redeploy
];

/** App settings Flex Consumption rejects or ignores (functions-app-settings "Flex Consumption plan deprecations"). */
const FLEX_FORBIDDEN = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
];

const app = bicep('modules/function-app.bicep');
const main = bicep('main.bicep');
const site = resourceOf(app, 'site');
const settingsResource = resourceOf(app, 'appSettings');

/** Every app setting the Function App gets: the keys of the objects unioned into the appsettings resource. */
function azureSettings(): Map<string, string> {
  const union = exprText(get(settingsResource.body, 'properties')) ?? '';
  const parts = /^union\((.*)\)$/.exec(union)?.[1]?.split(',').map((s) => s.trim()) ?? [];
  const out = new Map<string, string>();
  for (const part of parts) {
    const value = app.vars.get(part);
    const object = value?.kind === 'object' ? value : /^\w+ \? (\{[\s\S]*\}) : \{\}$/.test(exprText(value) ?? '') ? 'conditional' : undefined;
    if (object === undefined) throw new Error(`cannot read settings from ${part}`);
    if (object === 'conditional') {
      for (const m of (exprText(value) ?? '').matchAll(/^\s*(\w+):\s*(.+)$/gm)) out.set(m[1]!, m[2]!.trim());
    } else {
      for (const [k, v] of object.entries) out.set(k, exprText(v) ?? '');
    }
  }
  return out;
}

describe('Function App on Flex Consumption', () => {
  it('runs on an FC1 Linux plan with Node 22 in functionAppConfig.runtime', () => {
    const plan = resourceOf(app, 'plan');
    expect(stringValue(get(plan.body, 'sku.name'))).toBe('FC1');
    expect(stringValue(get(plan.body, 'sku.tier'))).toBe('FlexConsumption');
    expect(exprText(get(plan.body, 'properties.reserved'))).toBe('true');
    expect(stringValue(get(site.body, 'kind'))).toBe('functionapp,linux');
    expect(stringValue(get(site.body, 'properties.functionAppConfig.runtime.name'))).toBe('node');
    expect(stringValue(get(site.body, 'properties.functionAppConfig.runtime.version'))).toBe('22');
  });

  it('deploys from a blob container authenticated by the relay user-assigned identity', () => {
    const storage = get(site.body, 'properties.functionAppConfig.deployment.storage');
    expect(stringValue(get(storage, 'type'))).toBe('blobContainer');
    expect(exprText(get(storage, 'value'))).toBe("'${hostBlobEndpoint}${deploymentContainerName}'");
    expect(stringValue(get(storage, 'authentication.type'))).toBe('UserAssignedIdentity');
    expect(exprText(get(storage, 'authentication.userAssignedIdentityResourceId'))).toBe('identityId');
    expect(stringValue(get(site.body, 'identity.type'))).toBe('UserAssigned');
    expect(exprText(get(site.body, 'properties.keyVaultReferenceIdentity'))).toBe('identityId');
  });

  it('scales with instanceMemoryMB 2048 and a maximumInstanceCount parameter', () => {
    const scale = get(site.body, 'properties.functionAppConfig.scaleAndConcurrency');
    expect(exprText(get(scale, 'instanceMemoryMB'))).toBe('instanceMemoryMB');
    expect(exprText(get(scale, 'maximumInstanceCount'))).toBe('maximumInstanceCount');
    expect(exprText(paramOf(main, 'instanceMemoryMB').defaultValue)).toBe('2048');
    expect(paramOf(main, 'maximumInstanceCount').type).toBe('int');
    const call = moduleOf(main, 'functionApp');
    expect(exprText(get(call.body, 'params.maximumInstanceCount'))).toBe('maximumInstanceCount');
    expect(exprText(get(call.body, 'params.instanceMemoryMB'))).toBe('instanceMemoryMB');
  });

  it('carries azd-service-name=api so `azd deploy` finds it', () => {
    expect(exprText(get(site.body, 'tags'))).toMatch(/'azd-service-name': 'api'/);
    expect(readFileSync(join(repoRoot, 'azure.yaml'), 'utf8')).toMatch(
      /services:\n {2}api:\n {4}project: \.\n {4}language: ts\n {4}host: function\n/,
    );
  });
});

describe('app settings', () => {
  const settings = azureSettings();

  it('include every setting of local.settings.sample.json that applies in Azure', () => {
    const expected = Object.keys(localSettings()).filter((k) => !LOCAL_ONLY.includes(k));
    expect(expected.length).toBeGreaterThan(8);
    for (const key of expected) expect([...settings.keys()], key).toContain(key);
  });

  it('set none of the local-only settings', () => {
    for (const key of LOCAL_ONLY) expect(settings.has(key), key).toBe(false);
  });

  it('never mention a setting Flex Consumption rejects, anywhere in infra code', () => {
    for (const path of bicepPaths()) {
      const code = bicep(path.slice(path.indexOf('infra/') + 6)).code;
      for (const key of FLEX_FORBIDDEN) expect(code, `${path}: ${key}`).not.toContain(key);
    }
  });

  it('connect to host storage with the managed identity over blob, queue and table endpoints', () => {
    expect(settings.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(settings.get('AzureWebJobsStorage__clientId')).toBe('identityClientId');
    expect(settings.get('AzureWebJobsStorage__blobServiceUri')).toBe('hostBlobEndpoint');
    expect(settings.get('AzureWebJobsStorage__queueServiceUri')).toBe('hostQueueEndpoint');
    expect(settings.get('AzureWebJobsStorage__tableServiceUri')).toBe('hostTableEndpoint');
  });

  it('point the durable task hub at its dedicated account when there is one', () => {
    expect(settings.get('AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionName')).toBe(
      "'DurableStorage'",
    );
    expect(settings.get('DurableStorage__credential')).toBe("'managedidentity'");
    for (const service of ['blob', 'queue', 'table']) {
      const cap = service[0]!.toUpperCase() + service.slice(1);
      expect(settings.get(`DurableStorage__${service}ServiceUri`)).toBe(`taskHub${cap}Endpoint`);
    }
    expect(exprText(paramOf(main, 'dedicatedTaskHubStorage').defaultValue)).toBe('true');
  });

  it('resolve the fingerprint key through a Key Vault reference, never a literal', () => {
    expect(settings.get('RELAY_FINGERPRINT_KEY')).toBe("'@Microsoft.KeyVault(SecretUri=${fingerprintKeySecretUri})'");
    expect(exprText(get(moduleOf(main, 'functionApp').body, 'params.fingerprintKeySecretUri'))).toBe(
      "'${relayVault.outputs.uri}secrets/${fingerprintKeySecretName}/'",
    );
  });

  it('authenticate Application Insights with Entra ID; local auth is disabled on the component', () => {
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      "'ClientId=${identityClientId};Authorization=AAD'",
    );
    const component = resourceOf(bicep('modules/monitoring.bicep'), 'applicationInsights');
    expect(exprText(get(component.body, 'properties.DisableLocalAuth'))).toBe('true');
  });

  it('use the documented defaults', () => {
    expect(settings.get('RELAY_CONFIG_BLOB_SERVICE_URI')).toBe('configBlobServiceUri');
    expect(stringValue(paramOf(app, 'configBlob').defaultValue)).toBe('config/relay.config.json');
    expect(stringValue(paramOf(main, 'reconcileSchedule').defaultValue)).toBe('0 */15 * * * *');
    expect(stringValue(paramOf(main, 'fingerprintKeyId').defaultValue)).toBe('fp1');
    expect(exprText(paramOf(main, 'maxConcurrentDeliveries').defaultValue)).toBe('50');
    expect(exprText(paramOf(main, 'maxConcurrentPerTarget').defaultValue)).toBe('4');
    expect(settings.get('AZURE_CLIENT_ID')).toBe('identityClientId');
    expect(settings.get('AUDIT_IDENTITY_CLIENT_ID')).toBe('identityClientId');
    expect(settings.get('AUDIT_BLOB_SERVICE_URI')).toBe('auditBlobEndpoint');
  });

  it('disable SCM and FTP basic publishing credentials', () => {
    const policies = app.resources.filter((r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((r) => stringValue(get(r.body, 'name'))).sort()).toEqual(['ftp', 'scm']);
    for (const r of policies) expect(exprText(get(r.body, 'properties.allow'))).toBe('false');
  });

  it('are each documented in docs/deployment.md', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'deployment.md'), 'utf8');
    for (const key of new Set([...settings.keys(), ...Object.keys(localSettings())])) {
      expect(doc, key).toContain(`\`${key}\``);
    }
  });
});
