// Grants one principal a set of data-plane roles on one storage account.

@description('Storage account in this resource group.')
param storageAccountName string

@description('Principal (object) id of a managed identity.')
param principalId string

@description('Built-in role definition GUIDs to assign (see roles.bicep).')
param roleIds string[]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource access 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleIds: {
  name: guid(account.id, principalId, roleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
