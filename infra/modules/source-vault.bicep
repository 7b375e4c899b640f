// One source vault (deployed at the vault's resource group): the relay identity's role on the vault, the vault's
// Event Grid system topic, and the subscription that delivers secret events to the `keyVaultEvents` function.

import { keyVaultEventTypes } from 'roles.bicep'

@description('Name of the source Key Vault (RBAC mode) in this resource group.')
param vaultName string

@description('Principal id of the relay identity.')
param relayPrincipalId string

@description('Name of the vault\'s Event Grid system topic. A vault can have only one system topic.')
param systemTopicName string

@description('True when the topic already exists (found by the preprovision check): it is referenced, never redeployed, so its identity and tags stay as they are; dead-lettering then uses the topic without the relay\'s Event Grid identity.')
param systemTopicExists bool = false

@description('Resource id of the "Secret Relay Source" custom role definition (get, set, readMetadata).')
param sourceRoleDefinitionId string

@description('Log Analytics workspace and storage account receiving the vault\'s audit logs (diagnostic settings). Empty: none.')
param diagnosticsWorkspaceId string = ''
param diagnosticsStorageId string = ''

@description('Resource id of the Event Grid user-assigned identity (writes dead-lettered events).')
param eventGridIdentityId string

@description('Resource id of the relay Function App.')
param functionAppId string

@description('Name of the Event Grid-triggered function.')
param functionName string = 'keyVaultEvents'

@description('Resource id of the audit storage account that holds the dead-letter container.')
param deadLetterStorageId string
param deadLetterContainerName string

@description('Create the event subscription. Needs the function to exist already (deploy the code first).')
param eventSubscriptionEnabled bool

param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

// The relay reads values and metadata and, when it rotates, writes new versions: the custom source role grants
// exactly getSecret, setSecret and readMetadata (no built-in role does without delete, purge and backup).
resource relayAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, relayPrincipalId, sourceRoleDefinitionId)
  scope: vault
  properties: {
    roleDefinitionId: sourceRoleDefinitionId
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

var deadLetterDestination = {
  endpointType: 'StorageBlob'
  properties: {
    resourceId: deadLetterStorageId
    blobContainerName: deadLetterContainerName
  }
}

var deadLetterWithIdentity = {
  identity: {
    type: 'UserAssigned'
    userAssignedIdentity: eventGridIdentityId
  }
  deadLetterDestination: deadLetterDestination
}

resource existingTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = if (systemTopicExists) {
  name: systemTopicName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = if (!systemTopicExists) {
  name: systemTopicName
  location: vault.location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource relaySubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (eventSubscriptionEnabled) {
  name: '${systemTopicName}/secret-relay'
  dependsOn: [
    systemTopic
    existingTopic
  ]
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        // One event per delivery: per-event failure isolation beats batching at rotation volumes (service-limits 2.9).
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: keyVaultEventTypes
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    // A topic this deployment owns carries the Event Grid identity and dead-letters with it (the audit account
    // accepts no shared keys); an existing topic keeps its own identity, so its subscription cannot use ours.
    deadLetterWithResourceIdentity: systemTopicExists ? null : deadLetterWithIdentity
    deadLetterDestination: systemTopicExists ? deadLetterDestination : null
  }
}

// Key Vault audit logs (who read or wrote which secret) to Log Analytics and to the audit storage account.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(diagnosticsWorkspaceId)) {
  name: 'secret-relay-audit'
  scope: vault
  properties: {
    workspaceId: diagnosticsWorkspaceId
    storageAccountId: empty(diagnosticsStorageId) ? null : diagnosticsStorageId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output systemTopicId string = systemTopicExists ? existingTopic.id : systemTopic.id
