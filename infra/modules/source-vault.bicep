// One source vault (deployed at the vault's resource group): the relay identity's role on the vault, the vault's
// Event Grid system topic, and the subscription that delivers secret events to the `keyVaultEvents` function.

import { builtInRoles, keyVaultEventTypes } from 'roles.bicep'

@description('Name of the source Key Vault (RBAC mode) in this resource group.')
param vaultName string

@description('Principal id of the relay identity.')
param relayPrincipalId string

@description('Name of the vault\'s Event Grid system topic. A vault can have only one system topic: pass the existing topic\'s name when there is one (the deployment then updates it in place).')
param systemTopicName string

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

// The relay reads secret values and, when it rotates, writes new versions: Secrets Officer is the least-privileged
// built-in role that does both (it also allows delete and purge, which the relay never calls).
resource relayAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, relayPrincipalId, builtInRoles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.keyVaultSecretsOfficer)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
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
  parent: systemTopic
  name: 'secret-relay'
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
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicId string = systemTopic.id
