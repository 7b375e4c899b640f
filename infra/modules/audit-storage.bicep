// The audit trail's own storage account: append blobs in the `audit` container under a container-level time-based
// immutability (WORM) policy with protected append writes, plus the `deadletter` container Event Grid writes
// undeliverable events to. Reached only with Entra ID (no shared keys).
//
// The policy is deployed UNLOCKED. Locking is irreversible (a locked policy can only be extended, at most 5 times,
// and the account cannot be deleted while it holds protected blobs) and is an operator action: see
// docs/deployment.md "Lock the audit WORM policy". After locking, deploy with manageImmutabilityPolicy=false so the
// template stops writing the policy.

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Days each audit blob stays immutable, counted from its last append (1-146000).')
@minValue(1)
@maxValue(146000)
param retentionDays int

@description('False once an operator has locked the policy: the template then leaves the policy alone.')
param manageImmutabilityPolicy bool = true

param auditContainerName string = 'audit'
param deadLetterContainerName string = 'deadletter'
@description('Container for reconciliation drift reports (block blobs, no WORM policy).')
param reportsContainerName string = 'reports'
@description('Container of the relay config blob (relay: read only; operators: `secret-relay config push`).')
param configContainerName string = 'config'
@description('Container of the audit seals (append blobs, HMAC-chained heads of the audit blobs), under the same WORM policy as `audit`.')
param sealContainerName string = 'audit-seals'

@description('Put a CanNotDelete lock on the account, so neither a redeployment nor `azd down` deletes the evidence.')
param deleteLock bool = true

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 30
    }
    deleteRetentionPolicy: {
      enabled: true
      days: 30
    }
  }
}

resource auditContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: auditContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource auditImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (manageImmutabilityPolicy) {
  parent: auditContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: retentionDays
    allowProtectedAppendWrites: true
  }
}

resource sealContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: sealContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Seals anchor the audit chains outside their blobs: the same WORM policy, so a cut or deleted audit blob cannot
// be hidden by deleting or rewriting its seals either (docs/security.md).
resource sealImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (manageImmutabilityPolicy) {
  parent: sealContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: retentionDays
    allowProtectedAppendWrites: true
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: reportsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource configContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: configContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource accountLock 'Microsoft.Authorization/locks@2020-05-01' = if (deleteLock) {
  name: 'secret-relay-audit-evidence'
  scope: account
  properties: {
    level: 'CanNotDelete'
    notes: 'Secret Relay audit evidence (WORM). Remove this lock deliberately before deleting the account.'
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output auditContainerName string = auditContainer.name
output sealContainerName string = sealContainer.name
output deadLetterContainerName string = deadLetterContainer.name
output reportsContainerName string = reportsContainer.name
output configContainerName string = configContainer.name
