// The relay's own Key Vault (RBAC mode): holds the fingerprint key (RELAY_FINGERPRINT_KEY), which the Function App
// resolves through a Key Vault reference with the relay identity. The key itself is created once by
// infra/scripts/ensure-fingerprint-key.sh (azd postprovision hook), never by the template.

@description('Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

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
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
