// Secret Relay on Azure: a Flex Consumption Function App (Node 22) with a user-assigned identity, identity-based
// host and task hub storage, a WORM audit storage account, Application Insights without local auth, the relay's own
// Key Vault (fingerprint key), access to the source vaults with their Event Grid subscriptions, and the
// "Secret Relay Writer" custom role for customer target vaults. See docs/deployment.md.

targetScope = 'subscription'

import { sourceDataActions } from 'modules/roles.bicep'

@minLength(1)
@maxLength(64)
@description('azd environment name; also seeds the unique names of every resource.')
param environmentName string

@minLength(1)
@description('Region of every resource; must offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deployer (azd: AZURE_PRINCIPAL_ID). Gets Secrets Officer on the relay vault so the postprovision hook can create the fingerprint key. Empty: skip.')
param principalId string = ''

@description('Source Key Vaults (RBAC mode): resource ids, comma-separated (azd env RELAY_SOURCE_VAULT_IDS). The relay reads and rotates secrets there and receives their events.')
param sourceVaultIds string = ''

@description('Comma-separated, aligned with sourceVaultIds: the name of each vault\'s existing Event Grid system topic, or empty to create evgt-<vault> (the preprovision check fills RELAY_SOURCE_VAULT_TOPICS).')
param sourceVaultTopics string = ''

@description('"recover" when a soft-deleted relay vault of the same name exists (set by the preprovision check).')
@allowed([
  'default'
  'recover'
])
param relayVaultCreateMode string = 'default'

@description('Principal ids allowed to publish credential-rotation CloudEvents (EventGrid Data Sender on the topic), comma-separated.')
param rotationPublisherPrincipalIds string = ''

@description('Create the Event Grid subscriptions to the functions. Event Grid checks that the function exists, so the first `azd up` provisions without them and its postdeploy hook sets RELAY_EVENT_SUBSCRIPTIONS=true and provisions again.')
param eventSubscriptionsEnabled bool = false

@minValue(1)
@maxValue(1000)
@description('Flex Consumption scale-out ceiling.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Put the durable task hub on its own storage account (recommended; service-limits 3.17).')
param dedicatedTaskHubStorage bool = true

@minLength(3)
@maxLength(45)
@description('Durable task hub name: letters and digits, starting with a letter.')
param taskHubName string = 'SecretRelay'

@minValue(1)
@maxValue(146000)
@description('Days each audit blob stays immutable after its last append (default about 7 years).')
param auditRetentionDays int = 2555

@description('Set to false after locking the audit WORM policy, so redeployments stop writing it.')
param manageAuditImmutabilityPolicy bool = true


param fingerprintKeySecretName string = 'relay-fingerprint-key'
param fingerprintKeyId string = 'fp1'
@description('Relay-vault secret of the audit chain key (created once by the postprovision hook, like the fingerprint key).')
param auditChainKeySecretName string = 'relay-audit-chain-key'
param auditChainKeyId string = 'ck1'

@description('NCRONTAB (6 fields) of the reconciliation timer.')
param reconcileSchedule string = '0 */15 * * * *'

@minValue(1)
param maxConcurrentDeliveries int = 50

@minValue(1)
param maxConcurrentPerTarget int = 4

@description('Display name of the custom writer role; unique in the tenant. Empty: "Secret Relay Writer (<environment>)".')
param writerRoleName string = ''

@description('Give the writer role secrets/recover/action (routes with recoverDeleted: true need it).')
param writerRoleAllowRecover bool = true

@description('Extra scopes (customer subscriptions or resource groups) where the writer role may be assigned.')
param writerRoleExtraAssignableScopes string[] = []

@description('Operator e-mail of the alerts action group (azd env RELAY_ALERT_EMAIL). Empty: no alerts are deployed.')
param alertEmail string = ''

@description('Target Key Vault resource ids, comma-separated, that get "vault deleted or access removed" alerts (needs deployment rights in their resource groups).')
param targetVaultIds string = ''

@minValue(5)
@maxValue(1440)
@description('Minutes between reconciliation runs; must match reconcileSchedule (the alert fires after two periods without one).')
param reconcilePeriodMinutes int = 15
@description('Application (client) id of an Entra ID app registration for signing in to the web console (App Service authentication, docs/console.md). Empty: no sign-in; the console then needs only a function key.')
param consoleSignInClientId string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var vaultIds = filter(map(split(sourceVaultIds, ','), id => trim(id)), id => !empty(id))
var vaultTopics = map(split(sourceVaultTopics, ','), t => trim(t))
var sourceVaults = map(range(0, length(vaultIds)), i => {
  resourceId: vaultIds[i]
  systemTopicName: i < length(vaultTopics) ? vaultTopics[i] : ''
})
var alertTargetVaultIds = filter(map(split(targetVaultIds, ','), id => trim(id)), id => !empty(id))
var sourceSubscriptions = union(map(vaultIds, id => '/subscriptions/${split(id, '/')[2]}'), [])
var tags = {
  'azd-env-name': environmentName
  application: 'secret-relay'
}
var functionAppName = 'func-relay-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  scope: rg
  params: {
    relayIdentityName: 'id-relay-${resourceToken}'
    eventGridIdentityName: 'id-relay-eg-${resourceToken}'
    location: location
    tags: tags
  }
}

module hostStorage 'modules/storage-account.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
    ]
  }
}

module taskHubStorage 'modules/storage-account.bicep' = if (dedicatedTaskHubStorage) {
  name: 'taskhub-storage'
  scope: rg
  params: {
    name: 'sth${resourceToken}'
    location: location
    tags: tags
  }
}

module auditStorage 'modules/audit-storage.bicep' = {
  name: 'audit-storage'
  scope: rg
  params: {
    name: 'sta${resourceToken}'
    location: location
    tags: tags
    retentionDays: auditRetentionDays
    manageImmutabilityPolicy: manageAuditImmutabilityPolicy
    auditContainerName: 'audit'
    deadLetterContainerName: 'deadletter'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-relay-${resourceToken}'
    applicationInsightsName: 'appi-relay-${resourceToken}'
    location: location
    tags: tags
  }
}

module relayVault 'modules/relay-vault.bicep' = {
  name: 'relay-vault'
  scope: rg
  params: {
    name: 'kv-relay-${resourceToken}'
    location: location
    tags: tags
    createMode: relayVaultCreateMode
    diagnosticsWorkspaceId: monitoring.outputs.logAnalyticsId
    diagnosticsStorageId: auditStorage.outputs.id
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    relayPrincipalId: identities.outputs.relayPrincipalId
    eventGridPrincipalId: identities.outputs.eventGridPrincipalId
    hostStorageName: hostStorage.outputs.name
    taskHubStorageName: dedicatedTaskHubStorage ? taskHubStorage!.outputs.name : ''
    auditStorageName: auditStorage.outputs.name
    auditContainerName: auditStorage.outputs.auditContainerName
    reportsContainerName: auditStorage.outputs.reportsContainerName
    sealContainerName: auditStorage.outputs.sealContainerName
    configContainerName: auditStorage.outputs.configContainerName
    deadLetterContainerName: auditStorage.outputs.deadLetterContainerName
    relayVaultName: relayVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deployerPrincipalId: principalId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: 'plan-relay-${resourceToken}'
    location: location
    tags: tags
    identityId: identities.outputs.relayId
    identityClientId: identities.outputs.relayClientId
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    hostQueueEndpoint: hostStorage.outputs.queueEndpoint
    hostTableEndpoint: hostStorage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    taskHubBlobEndpoint: dedicatedTaskHubStorage ? taskHubStorage!.outputs.blobEndpoint : ''
    taskHubQueueEndpoint: dedicatedTaskHubStorage ? taskHubStorage!.outputs.queueEndpoint : ''
    taskHubTableEndpoint: dedicatedTaskHubStorage ? taskHubStorage!.outputs.tableEndpoint : ''
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    taskHubName: taskHubName
    configBlobServiceUri: auditStorage.outputs.blobEndpoint
    configBlob: '${auditStorage.outputs.configContainerName}/relay.config.json'
    fingerprintKeySecretUri: '${relayVault.outputs.uri}secrets/${fingerprintKeySecretName}/'
    fingerprintKeyId: fingerprintKeyId
    auditBlobEndpoint: auditStorage.outputs.blobEndpoint
    auditContainerName: auditStorage.outputs.auditContainerName
    auditChainKeySecretUri: '${relayVault.outputs.uri}secrets/${auditChainKeySecretName}/'
    auditChainKeyId: auditChainKeyId
    auditSealContainerName: auditStorage.outputs.sealContainerName
    reconcileSchedule: reconcileSchedule
    maxConcurrentDeliveries: maxConcurrentDeliveries
    maxConcurrentPerTarget: maxConcurrentPerTarget
  }
}

module sourceVaultAccess 'modules/source-vault.bicep' = [for (vault, i) in sourceVaults: {
  name: 'source-vault-${i}-${resourceToken}'
  scope: resourceGroup(split(vault.resourceId, '/')[2], split(vault.resourceId, '/')[4])
  params: {
    vaultName: last(split(vault.resourceId, '/'))
    relayPrincipalId: identities.outputs.relayPrincipalId
    systemTopicName: !empty(vault.systemTopicName) ? vault.systemTopicName : 'evgt-${last(split(vault.resourceId, '/'))}'
    systemTopicExists: !empty(vault.systemTopicName)
    sourceRoleDefinitionId: sourceRole.outputs.id
    diagnosticsWorkspaceId: monitoring.outputs.logAnalyticsId
    diagnosticsStorageId: auditStorage.outputs.id
    eventGridIdentityId: identities.outputs.eventGridId
    functionAppId: functionApp.outputs.id
    deadLetterStorageId: auditStorage.outputs.id
    deadLetterContainerName: auditStorage.outputs.deadLetterContainerName
    eventSubscriptionEnabled: eventSubscriptionsEnabled
    tags: tags
  }
}]

module sourceRole 'modules/custom-role.bicep' = {
  name: 'secret-relay-source-role-${resourceToken}'
  params: {
    roleName: 'Secret Relay Source (${environmentName})'
    roleSeed: 'secret-relay-source-${environmentName}'
    roleDescription: 'Secret Relay: read secret values and metadata and write new versions in source Key Vaults; no delete, purge, backup or recover.'
    dataActions: sourceDataActions
    assignableScopes: union([subscription().id], sourceSubscriptions)
  }
}

module rotationTopic 'modules/rotation-topic.bicep' = {
  name: 'rotation-topic'
  scope: rg
  params: {
    name: 'evgt-relay-rotation-${resourceToken}'
    location: location
    tags: tags
    eventGridIdentityId: identities.outputs.eventGridId
    functionAppId: functionApp.outputs.id
    deadLetterStorageId: auditStorage.outputs.id
    deadLetterContainerName: auditStorage.outputs.deadLetterContainerName
    eventSubscriptionEnabled: eventSubscriptionsEnabled
    publisherPrincipalIds: filter(map(split(rotationPublisherPrincipalIds, ','), id => trim(id)), id => !empty(id))
  }
}

module writerRole 'modules/writer-role.bicep' = {
  name: 'secret-relay-writer-role-${resourceToken}'
  params: {
    roleName: !empty(writerRoleName) ? writerRoleName : 'Secret Relay Writer (${environmentName})'
    roleSeed: environmentName
    allowRecover: writerRoleAllowRecover
    assignableScopes: concat([subscription().id], writerRoleExtraAssignableScopes)
  }
}

module alerts 'modules/alerts.bicep' = if (!empty(alertEmail)) {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    alertEmail: alertEmail
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    reconcilePeriodMinutes: reconcilePeriodMinutes
    rotationTopicId: rotationTopic.outputs.id
  }
}

module sourceVaultAlerts 'modules/vault-alerts.bicep' = [for (vault, i) in sourceVaults: if (!empty(alertEmail)) {
  name: 'source-vault-alerts-${i}-${resourceToken}'
  scope: resourceGroup(split(vault.resourceId, '/')[2], split(vault.resourceId, '/')[4])
  params: {
    vaultName: last(split(vault.resourceId, '/'))
    role: 'source'
    actionGroupId: alerts!.outputs.actionGroupId
    systemTopicId: sourceVaultAccess[i].outputs.systemTopicId
    tags: tags
  }
}]

module targetVaultAlerts 'modules/vault-alerts.bicep' = [for (id, i) in alertTargetVaultIds: if (!empty(alertEmail)) {
  name: 'target-vault-alerts-${i}-${resourceToken}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    vaultName: last(split(id, '/'))
    role: 'target'
    actionGroupId: alerts!.outputs.actionGroupId
    tags: tags
  }
}]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
module consoleSignIn 'modules/console-auth.bicep' = if (!empty(consoleSignInClientId)) {
  name: 'console-auth'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    clientId: consoleSignInClientId
    tenantId: tenant().tenantId
  }
}

output SERVICE_API_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output RELAY_IDENTITY_CLIENT_ID string = identities.outputs.relayClientId
output RELAY_IDENTITY_PRINCIPAL_ID string = identities.outputs.relayPrincipalId
output RELAY_VAULT_NAME string = relayVault.outputs.name
output RELAY_FINGERPRINT_KEY_SECRET_NAME string = fingerprintKeySecretName
output RELAY_AUDIT_CHAIN_KEY_SECRET_NAME string = auditChainKeySecretName
output AUDIT_STORAGE_ACCOUNT_NAME string = auditStorage.outputs.name
output AUDIT_BLOB_SERVICE_URI string = auditStorage.outputs.blobEndpoint
output SECRET_RELAY_WRITER_ROLE_ID string = writerRole.outputs.id
output SECRET_RELAY_SOURCE_ROLE_ID string = sourceRole.outputs.id
output RELAY_CONFIG_BLOB_SERVICE_URI string = auditStorage.outputs.blobEndpoint
output RELAY_CONFIG_BLOB string = '${auditStorage.outputs.configContainerName}/relay.config.json'
output RELAY_ROTATION_TOPIC_ENDPOINT string = rotationTopic.outputs.endpoint
