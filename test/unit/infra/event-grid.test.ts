import { describe, expect, it } from 'vitest';
import { exprText, get, stringItems, stringValue } from './bicep.js';
import { bicep, moduleOf, paramOf, resourceOf } from './files.js';

const sourceVault = bicep('modules/source-vault.bicep');
const roles = bicep('modules/roles.bicep');
const main = bicep('main.bicep');
const topic = resourceOf(sourceVault, 'systemTopic');
const subscription = resourceOf(sourceVault, 'relaySubscription');

describe('Event Grid: one system topic per source vault', () => {
  it('is a Key Vault system topic sourced from the vault', () => {
    expect(topic.type).toBe('Microsoft.EventGrid/systemTopics');
    expect(stringValue(get(topic.body, 'properties.topicType'))).toBe('Microsoft.KeyVault.vaults');
    expect(exprText(get(topic.body, 'properties.source'))).toBe('vault.id');
    expect(exprText(get(topic.body, 'location'))).toBe('vault.location');
  });

  it('main deploys the module once per source vault, in the vault\'s resource group', () => {
    const call = moduleOf(main, 'sourceVaultAccess');
    expect(call.loop).toBe(true);
    expect(exprText(get(call.body, 'scope'))).toBe(
      "resourceGroup(split(vault.resourceId, '/')[2], split(vault.resourceId, '/')[4])",
    );
    expect(exprText(get(call.body, 'params.functionAppId'))).toBe('functionApp.outputs.id');
    expect(exprText(get(call.body, 'params.deadLetterStorageId'))).toBe('auditStorage.outputs.id');
  });
});

describe('Event Grid subscription to keyVaultEvents', () => {
  it('delivers to the keyVaultEvents Azure Function, one event per batch', () => {
    expect(subscription.type).toBe('Microsoft.EventGrid/systemTopics/eventSubscriptions');
    // Named under the topic, created or existing; never a redeploy of an existing topic (identity, tags kept).
    expect(exprText(get(subscription.body, 'name'))).toBe("'${systemTopicName}/secret-relay'");
    expect(sourceVault.code).toMatch(/resource systemTopic '[^']+' = if \(!systemTopicExists\)/);
    expect(sourceVault.code).toMatch(/resource existingTopic '[^']+' existing = if \(systemTopicExists\)/);
    const destination = get(subscription.body, 'properties.destination');
    expect(stringValue(get(destination, 'endpointType'))).toBe('AzureFunction');
    expect(exprText(get(destination, 'properties.resourceId'))).toBe("'${functionAppId}/functions/${functionName}'");
    expect(stringValue(paramOf(sourceVault, 'functionName').defaultValue)).toBe('keyVaultEvents');
    expect(exprText(get(destination, 'properties.maxEventsPerBatch'))).toBe('1');
  });

  it('filters on the three secret event types', () => {
    expect(exprText(get(subscription.body, 'properties.filter.includedEventTypes'))).toBe('keyVaultEventTypes');
    expect(sourceVault.imports.flatMap((i) => i.symbols)).toContain('keyVaultEventTypes');
    expect(stringItems(roles.vars.get('keyVaultEventTypes'))).toEqual([
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.SecretNearExpiry',
      'Microsoft.KeyVault.SecretExpired',
    ]);
  });

  it('uses the Event Grid schema, 30 attempts within 24 h', () => {
    expect(stringValue(get(subscription.body, 'properties.eventDeliverySchema'))).toBe('EventGridSchema');
    expect(exprText(get(subscription.body, 'properties.retryPolicy.maxDeliveryAttempts'))).toBe('30');
    expect(exprText(get(subscription.body, 'properties.retryPolicy.eventTimeToLiveInMinutes'))).toBe('1440');
  });

  it('dead-letters to the deadletter container of the audit account with the Event Grid identity', () => {
    expect(exprText(get(subscription.body, 'properties.deadLetterWithResourceIdentity'))).toBe('systemTopicExists ? null : deadLetterWithIdentity');
    const deadLetter = sourceVault.vars.get('deadLetterWithIdentity');
    expect(exprText(get(deadLetter, 'deadLetterDestination'))).toBe('deadLetterDestination');
    const destination = sourceVault.vars.get('deadLetterDestination');
    expect(stringValue(get(deadLetter, 'identity.type'))).toBe('UserAssigned');
    expect(exprText(get(deadLetter, 'identity.userAssignedIdentity'))).toBe('eventGridIdentityId');
    expect(stringValue(get(destination, 'endpointType'))).toBe('StorageBlob');
    expect(exprText(get(destination, 'properties.resourceId'))).toBe('deadLetterStorageId');
    expect(exprText(get(destination, 'properties.blobContainerName'))).toBe(
      'deadLetterContainerName',
    );
    // The topic carries the identity it dead-letters with.
    expect(exprText(get(topic.body, 'identity.userAssignedIdentities'))).toBeUndefined();
    expect(get(topic.body, 'identity.userAssignedIdentities')?.kind).toBe('object');
    // main wires the audit account's deadletter container through.
    expect(stringValue(get(moduleOf(main, 'auditStorage').body, 'params.deadLetterContainerName'))).toBe('deadletter');
    expect(exprText(get(moduleOf(main, 'sourceVaultAccess').body, 'params.deadLetterContainerName'))).toBe(
      'auditStorage.outputs.deadLetterContainerName',
    );
  });

  it('is created only when enabled (the function must exist first), and main wires the switch', () => {
    expect(subscription.condition).toBe('eventSubscriptionEnabled');
    expect(exprText(get(moduleOf(main, 'sourceVaultAccess').body, 'params.eventSubscriptionEnabled'))).toBe(
      'eventSubscriptionsEnabled',
    );
  });
});
