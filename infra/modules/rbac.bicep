// Role assignments on the resources the deployment owns (all in the relay's resource group). Assignments on source
// vaults live in source-vault.bicep; customer target vaults are granted by customer-vault-access.bicep.

import { builtInRoles } from 'roles.bicep'

@description('Principal (object) id of the relay identity.')
param relayPrincipalId string

@description('Principal id of the Event Grid identity (dead-letter writer).')
param eventGridPrincipalId string

param hostStorageName string

@description('Task hub storage account name; empty when the task hub shares the host storage account.')
param taskHubStorageName string = ''

param auditStorageName string
param auditContainerName string = 'audit'
param reportsContainerName string = 'reports'
param sealContainerName string = 'audit-seals'
param configContainerName string = 'config'
param deadLetterContainerName string
param relayVaultName string
param applicationInsightsName string

@description('Object id of the person or pipeline deploying; gets Secrets Officer on the relay vault so the postprovision hook can create the fingerprint key. Empty: no assignment.')
param deployerPrincipalId string = ''

// Durable Functions on the Azure Storage provider needs blobs (leases, large messages), queues (control and
// work-item queues) and tables (History, Instances): all three on every account that hosts the task hub.
var hostStorageRoles = [
  builtInRoles.storageBlobDataOwner
  builtInRoles.storageQueueDataContributor
  builtInRoles.storageTableDataContributor
]

resource auditStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: auditStorageName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource deadLetterContainer 'containers' existing = {
      name: deadLetterContainerName
    }

    resource auditContainer 'containers' existing = {
      name: auditContainerName
    }

    resource reportsContainer 'containers' existing = {
      name: reportsContainerName
    }

    resource sealContainer 'containers' existing = {
      name: sealContainerName
    }

    resource configContainer 'containers' existing = {
      name: configContainerName
    }
  }
}

resource relayVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: relayVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

module hostStorageAccess 'storage-data-access.bicep' = {
  name: 'host-storage-access'
  params: {
    storageAccountName: hostStorageName
    principalId: relayPrincipalId
    roleIds: hostStorageRoles
  }
}

module taskHubStorageAccess 'storage-data-access.bicep' = if (!empty(taskHubStorageName)) {
  name: 'taskhub-storage-access'
  params: {
    storageAccountName: taskHubStorageName
    principalId: relayPrincipalId
    roleIds: hostStorageRoles
  }
}

// Audit appends: Blob Data Contributor on the `audit` container only. Its blobs are under the WORM policy, so the
// relay can append but cannot delete or overwrite evidence within the retention; nothing else in the account is
// writable by the relay except drift reports.
resource auditStorageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::auditContainer.id, relayPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: auditStorage::blobService::auditContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Audit seals (append blobs under the same WORM policy as `audit`): created and appended by the relay, never
// deleted or rewritten within the retention.
resource sealAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::sealContainer.id, relayPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: auditStorage::blobService::sealContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Drift reports written by reconciliation (block blobs, no WORM; not evidence).
resource reportsAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::reportsContainer.id, relayPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: auditStorage::blobService::reportsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The relay config blob: read only, so the relay can never change its own routing.
resource configAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::configContainer.id, relayPrincipalId, builtInRoles.storageBlobDataReader)
  scope: auditStorage::blobService::configContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataReader)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Dead-lettered events: read only (an operator replays them; the relay never deletes them).
resource deadLetterReadAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::deadLetterContainer.id, relayPrincipalId, builtInRoles.storageBlobDataReader)
  scope: auditStorage::blobService::deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataReader)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The deployer pushes the relay config (`secret-relay config push`).
resource deployerConfigAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(auditStorage::blobService::configContainer.id, deployerPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: auditStorage::blobService::configContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: deployerPrincipalId
  }
}

// Event Grid writes dead-lettered events with its own identity, and only into the dead-letter container.
resource deadLetterAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::blobService::deadLetterContainer.id, eventGridPrincipalId, builtInRoles.storageBlobDataContributor)
  scope: auditStorage::blobService::deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The fingerprint key is read (never written) by the relay, through a Key Vault reference.
resource relayVaultAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(relayVault.id, relayPrincipalId, builtInRoles.keyVaultSecretsUser)
  scope: relayVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.keyVaultSecretsUser)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerVaultAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(relayVault.id, deployerPrincipalId, builtInRoles.keyVaultSecretsOfficer)
  scope: relayVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
  }
}

resource telemetryAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, relayPrincipalId, builtInRoles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.monitoringMetricsPublisher)
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
  }
}
