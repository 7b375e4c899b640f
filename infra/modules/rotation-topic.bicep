// The credential-rotation custom topic: platform tools publish CloudEvents 1.0 (Entra ID only, no access keys) and
// the `credentialRotationEvents` function receives them; undeliverable events go to the dead-letter container.
// Publishers get EventGrid Data Sender on this topic only.

import { builtInRoles } from 'roles.bicep'

param name string
param location string
param tags object = {}

@description('Resource id of the Event Grid user-assigned identity (writes dead-lettered events).')
param eventGridIdentityId string

param functionAppId string
param functionName string = 'credentialRotationEvents'

param deadLetterStorageId string
param deadLetterContainerName string

@description('Create the subscription. Needs the function to exist already (azd up creates it in its postdeploy step).')
param eventSubscriptionEnabled bool

@description('Principal (object) ids of the publishers (service principals or managed identities).')
param publisherPrincipalIds string[] = []

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource subscription 'Microsoft.EventGrid/topics/eventSubscriptions@2022-06-15' = if (eventSubscriptionEnabled) {
  parent: topic
  name: 'secret-relay'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'CloudEventSchemaV1_0'
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

resource publishers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in publisherPrincipalIds: {
  name: guid(topic.id, principalId, builtInRoles.eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.eventGridDataSender)
    principalId: principalId
  }
}]

output id string = topic.id
output endpoint string = topic.properties.endpoint
