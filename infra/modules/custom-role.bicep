// One custom role definition (data actions only). Role names are unique per tenant and a definition's name must be
// a GUID: both are derived from the environment (see main.bicep), so two azd environments in one tenant never collide.

targetScope = 'subscription'

@description('Display name of the role; unique in the tenant.')
param roleName string

@description('Seed of the definition GUID; include the environment name.')
param roleSeed string

param roleDescription string

param dataActions string[]

@description('Scopes (subscriptions, resource groups or vaults) where the role may be assigned.')
param assignableScopes string[]

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleSeed)
  properties: {
    roleName: roleName
    description: roleDescription
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: dataActions
        notDataActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

output id string = role.id
output roleDefinitionGuid string = role.name
