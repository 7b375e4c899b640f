// The relay's own Key Vault (RBAC mode): holds the fingerprint key (RELAY_FINGERPRINT_KEY), which the Function App
// resolves through a Key Vault reference with the relay identity. The key itself is created once by
// infra/scripts/ensure-fingerprint-key.sh (azd postprovision hook), never by the template.

@description('Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('"recover" when a soft-deleted vault of this name exists (azd down keeps it 90 days, purge protection forbids purging): the preprovision check sets it, the vault comes back with its fingerprint key.')
@allowed([
  'default'
  'recover'
])
param createMode string = 'default'

@description('Log Analytics workspace and storage account receiving the vault\'s audit logs. Empty: none.')
param diagnosticsWorkspaceId string = ''
param diagnosticsStorageId string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    createMode: createMode
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

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

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
