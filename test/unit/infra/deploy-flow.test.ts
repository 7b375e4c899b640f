import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SECRET_CLIENT_RETRY } from '../../../shared/composition.js';
import { exprText, get, stringValue } from './bicep.js';
import { bicep, moduleOf, repoRoot, resourceOf } from './files.js';
import { emulatorClientOptions } from '../../integration/keyVault-target/emulatorSupport.js';

const yaml = readFileSync(join(repoRoot, 'azure.yaml'), 'utf8');
const topic = bicep('modules/rotation-topic.bicep');
const main = bicep('main.bicep');

describe('azure.yaml: one-step azd up', () => {
  it('deploys a prebuilt package (no remote build)', () => {
    expect(yaml).toMatch(/^\s+remoteBuild: false$/m);
    expect(yaml).toMatch(/prepackage:[\s\S]*npm prune --omit=dev/);
  });

  it.each(['preprovision', 'postprovision', 'postdeploy'])('%s has a POSIX and a Windows hook whose scripts exist', (hook) => {
    const block = new RegExp(`^  ${hook}:\\n((?:    .*\\n)+)`, 'm').exec(yaml)?.[1] ?? '';
    expect(block).toContain('posix:');
    expect(block).toContain('windows:');
    for (const script of block.matchAll(/run: (\.\/infra\/scripts\/\S+)/g)) expect(existsSync(join(repoRoot, script[1]!)), script[1]).toBe(true);
  });
});

describe('credential-rotation custom topic', () => {
  const t = resourceOf(topic, 'topic');
  const sub = resourceOf(topic, 'subscription');

  it('accepts CloudEvents 1.0 with Entra ID only and delivers them in the same schema to credentialRotationEvents', () => {
    expect(stringValue(get(t.body, 'properties.inputSchema'))).toBe('CloudEventSchemaV1_0');
    expect(exprText(get(t.body, 'properties.disableLocalAuth'))).toBe('true');
    expect(stringValue(get(sub.body, 'properties.eventDeliverySchema'))).toBe('CloudEventSchemaV1_0');
    expect(stringValue(get(sub.body, 'properties.destination.endpointType'))).toBe('AzureFunction');
    expect(stringValue(topic.params.find((p) => p.name === 'functionName')!.defaultValue)).toBe('credentialRotationEvents');
    expect(exprText(get(sub.body, 'properties.deadLetterWithResourceIdentity.deadLetterDestination.properties.blobContainerName'))).toBe('deadLetterContainerName');
  });

  it('gives publishers EventGrid Data Sender on the topic only', () => {
    const r = resourceOf(topic, 'publishers');
    expect(exprText(get(r.body, 'scope'))).toBe('topic');
    expect(exprText(get(r.body, 'properties.roleDefinitionId'))).toContain('builtInRoles.eventGridDataSender');
    expect(exprText(get(moduleOf(main, 'rotationTopic').body, 'params.eventSubscriptionEnabled'))).toBe('eventSubscriptionsEnabled');
  });
});

describe('Key Vaults', () => {
  it.each(['modules/relay-vault.bicep', 'modules/source-vault.bicep'])('%s sends the audit log category to Log Analytics and storage', (file) => {
    const d = resourceOf(bicep(file), 'vaultDiagnostics');
    expect(d.type).toBe('Microsoft.Insights/diagnosticSettings');
    expect(exprText(get(d.body, 'scope'))).toBe('vault');
    expect(exprText(get(d.body, 'properties.workspaceId'))).toBe('diagnosticsWorkspaceId');
    const logs = get(d.body, 'properties.logs');
    const first = logs?.kind === 'array' ? logs.items[0] : undefined;
    expect(stringValue(get(first, 'categoryGroup'))).toBe('audit');
    expect(exprText(get(first, 'enabled'))).toBe('true');
  });

  it('the relay vault can be recovered after azd down (createMode from the preprovision check)', () => {
    const vault = resourceOf(bicep('modules/relay-vault.bicep'), 'vault');
    expect(exprText(get(vault.body, 'properties.createMode'))).toBe('createMode');
    expect(exprText(get(moduleOf(main, 'relayVault').body, 'params.createMode'))).toBe('relayVaultCreateMode');
    expect(readFileSync(join(repoRoot, 'infra/main.parameters.json'), 'utf8')).toContain('${RELAY_VAULT_CREATE_MODE=default}');
  });

  it('source vaults come from the azd environment, not a hard-coded list', () => {
    const parameters = readFileSync(join(repoRoot, 'infra/main.parameters.json'), 'utf8');
    expect(parameters).toContain('${RELAY_SOURCE_VAULT_IDS=}');
    expect(parameters).toContain('${RELAY_SOURCE_VAULT_TOPICS=}');
  });
});

describe('production SecretClient retry options', () => {
  it('are the options the tests exercise: no SDK retries under the relay’s ladder', () => {
    expect(SECRET_CLIENT_RETRY.retryOptions).toEqual({ maxRetries: 0 });
    expect(emulatorClientOptions({ caCertPem: '' } as never).retryOptions).toEqual(SECRET_CLIENT_RETRY.retryOptions);
  });
});
