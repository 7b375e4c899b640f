// The Secret Relay Function App on Flex Consumption (FC1, Linux, Node 22) with its app settings.
//
// Flex Consumption takes the runtime from functionAppConfig.runtime and rejects or ignores the classic settings
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENTSHARE and
// WEBSITE_CONTENTAZUREFILECONNECTIONSTRING, so none of them is set here. Every connection is identity-based.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the relay user-assigned identity.')
param identityId string

@description('Client id of the relay user-assigned identity.')
param identityClientId string

@description('Blob endpoint of the host storage account (ends with /).')
param hostBlobEndpoint string
param hostQueueEndpoint string
param hostTableEndpoint string

@description('Container (in the host storage account) holding the deployment package.')
param deploymentContainerName string

@description('Endpoints of a dedicated task hub storage account; all empty: the task hub lives in the host storage account.')
param taskHubBlobEndpoint string = ''
param taskHubQueueEndpoint string = ''
param taskHubTableEndpoint string = ''

param applicationInsightsConnectionString string

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Durable task hub name (TASKHUB_NAME; host.json uses %TASKHUB_NAME%).')
param taskHubName string

@description('Blob service endpoint and `<container>/<blob>` of the relay config (read with the relay identity).')
param configBlobServiceUri string
param configBlob string = 'config/relay.config.json'

@description('Secret URI (versionless) of the fingerprint key in the relay vault.')
param fingerprintKeySecretUri string
param fingerprintKeyId string

@description('Secret URI (versionless) of the audit chain key in the relay vault (keys the hash chains and the seals).')
param auditChainKeySecretUri string
param auditChainKeyId string
@description('Container of the audit seals (WORM, beside `audit`).')
param auditSealContainerName string

param auditBlobEndpoint string
param auditContainerName string

@description('NCRONTAB (6 fields) of the reconciliation timer.')
param reconcileSchedule string

param maxConcurrentDeliveries int
param maxConcurrentPerTarget int

var dedicatedTaskHub = !empty(taskHubBlobEndpoint)

// Identity-based host storage: https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
var hostStorageSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: hostBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: hostQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: hostTableEndpoint
}

// A dedicated task hub account (service-limits 3.17): the Durable extension reads its connection name from
// host.json extensions.durableTask.storageProvider.connectionName, overridden here through the
// AzureFunctionsJobHost__ app-setting convention so host.json stays the same locally and in Azure.
var taskHubStorageSettings = dedicatedTaskHub ? {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionName: 'DurableStorage'
  DurableStorage__credential: 'managedidentity'
  DurableStorage__clientId: identityClientId
  DurableStorage__blobServiceUri: taskHubBlobEndpoint
  DurableStorage__queueServiceUri: taskHubQueueEndpoint
  DurableStorage__tableServiceUri: taskHubTableEndpoint
} : {}

var relaySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  TASKHUB_NAME: taskHubName
  RELAY_CONFIG_BLOB_SERVICE_URI: configBlobServiceUri
  RELAY_CONFIG_BLOB: configBlob
  RELAY_CONFIG_REFRESH_INTERVAL_MS: '30000'
  // 'debug' adds one line per successful delivery (docs/operations.md#logs).
  RELAY_LOG_LEVEL: 'information'
  RELAY_FINGERPRINT_KEY: '@Microsoft.KeyVault(SecretUri=${fingerprintKeySecretUri})'
  RELAY_FINGERPRINT_KEY_ID: fingerprintKeyId
  AUDIT_BLOB_SERVICE_URI: auditBlobEndpoint
  AUDIT_IDENTITY_CLIENT_ID: identityClientId
  AUDIT_CONTAINER: auditContainerName
  AUDIT_CHAIN_KEY: '@Microsoft.KeyVault(SecretUri=${auditChainKeySecretUri})'
  AUDIT_CHAIN_KEY_ID: auditChainKeyId
  AUDIT_SEAL_CONTAINER: auditSealContainerName
  AUDIT_SEAL_INTERVAL_SECONDS: '60'
  RECONCILE_SCHEDULE: reconcileSchedule
  RELAY_MAX_CONCURRENT_DELIVERIES: string(maxConcurrentDeliveries)
  RELAY_MAX_CONCURRENT_PER_TARGET: string(maxConcurrentPerTarget)
  AUDIT_SHARDS: '100'
  RELAY_REPORTS_CONTAINER: 'reports'
  RELAY_SOURCE_CACHE_TTL_MS: '60000'
  RELAY_CHECK_TIME_LIMIT_MS: '30000'
  // Write budgets claimed from one bucket per vault/cluster in the reports container: they hold across instances.
  RELAY_WRITE_BUDGET_SCOPE: 'shared'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (RELAY_FINGERPRINT_KEY) resolve with the relay identity, not a system identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(hostStorageSettings, taskHubStorageSettings, relaySettings)
  }
}

// No basic-auth (publishing profile) deployments: azd deploys with Entra ID.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
