// Grants the relay identity the "Secret Relay Writer" role on one customer (target) Key Vault. A customer deploys it
// in the resource group of their vault:
//
//   az deployment group create -g <vault resource group> -f infra/modules/customer-vault-access.bicep \
//     -p vaultName=<vault> relayPrincipalId=<relay principal id> writerRoleDefinitionId=<role id>
//
// The vault must use the Azure RBAC permission model and live in the relay's Entra tenant (managed identities are
// single-tenant); the role's assignableScopes must cover the vault (see writer-role.bicep).

@description('Name of the target Key Vault in this resource group.')
param vaultName string

@description('Principal (object) id of the relay identity (output RELAY_IDENTITY_PRINCIPAL_ID of the relay deployment).')
param relayPrincipalId string

@description('Full resource id of the Secret Relay Writer role definition (output SECRET_RELAY_WRITER_ROLE_ID).')
param writerRoleDefinitionId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource relayWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, relayPrincipalId, writerRoleDefinitionId)
  scope: vault
  properties: {
    roleDefinitionId: writerRoleDefinitionId
    principalId: relayPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Secret Relay delivers rotated secrets into this vault.'
  }
}

output roleAssignmentId string = relayWriter.id
