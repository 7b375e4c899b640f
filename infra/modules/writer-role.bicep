// The "Secret Relay Writer" custom role for customer target vaults: write new secret versions, update attributes and
// tags, read metadata (to compare ownership tags and versions before writing) and, optionally, recover a
// soft-deleted name. It can never read a value (no getSecret), delete or purge.
//
// Deploy it once per subscription that holds target vaults (or list those subscriptions in assignableScopes). Role
// names are unique per tenant: main.bicep derives both the name and the definition GUID from the environment.

targetScope = 'subscription'

@description('Display name of the role; unique in the tenant.')
param roleName string = 'Secret Relay Writer'

@description('Seed of the definition GUID (with the subscription id); main.bicep passes the environment name.')
param roleSeed string = roleName

@description('Include Microsoft.KeyVault/vaults/secrets/recover/action (routes with recoverDeleted: true need it).')
param allowRecover bool = true

@description('Scopes (subscriptions, resource groups or vaults) where the role may be assigned.')
param assignableScopes string[] = [
  subscription().id
]

var writeDataActions = [
  'Microsoft.KeyVault/vaults/secrets/setSecret/action'
  'Microsoft.KeyVault/vaults/secrets/update/action'
  'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
]

var recoverDataActions = [
  'Microsoft.KeyVault/vaults/secrets/recover/action'
]

resource writerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'secret-relay-writer', roleSeed)
  properties: {
    roleName: roleName
    description: 'Secret Relay: write and recover secrets and read their metadata in target Key Vaults; cannot read values, delete or purge.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: allowRecover ? concat(writeDataActions, recoverDataActions) : writeDataActions
        notDataActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

output id string = writerRole.id
output roleDefinitionGuid string = writerRole.name
