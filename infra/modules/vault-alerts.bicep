// Alerts on one source or target Key Vault, deployed in the vault's resource group: the vault deleted, or a role
// assignment on it removed (the relay loses access: deliveries turn FailedAccessDenied), from the activity log; and,
// for a source vault, Event Grid dead-letters and delivery failures on its system topic.

@description('Name of the Key Vault in this resource group.')
param vaultName string

@description('"source" or "target": named in the alert and its runbook.')
@allowed([
  'source'
  'target'
])
param role string

@description('Action group notified by every alert (any subscription).')
param actionGroupId string

@description('Resource id of the vault\'s Event Grid system topic (source vaults). Empty: no topic alerts.')
param systemTopicId string = ''

param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource vaultAccessLost 'Microsoft.Insights/activityLogAlerts@2023-01-01-preview' = {
  name: 'secret-relay-${role}-vault-${vaultName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Secret Relay: ${role} vault ${vaultName} was deleted, or a role assignment on it was removed. Runbook: docs/operations.md#vault-deleted-or-access-removed'
    enabled: true
    // Activity log events whose resource id starts with the vault's: the vault itself and role assignments on it.
    scopes: [
      vault.id
    ]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'Administrative'
        }
        {
          field: 'status'
          equals: 'Succeeded'
        }
        {
          anyOf: [
            {
              field: 'operationName'
              equals: 'Microsoft.KeyVault/vaults/delete'
            }
            {
              field: 'operationName'
              equals: 'Microsoft.Authorization/roleAssignments/delete'
            }
          ]
        }
      ]
    }
    actions: {
      actionGroups: [
        {
          actionGroupId: actionGroupId
        }
      ]
    }
  }
}

module topicAlerts 'topic-alerts.bicep' = if (!empty(systemTopicId)) {
  name: 'topic-alerts-${vaultName}'
  params: {
    topicId: systemTopicId
    metricNamespace: 'Microsoft.EventGrid/systemTopics'
    actionGroupId: actionGroupId
    tags: tags
  }
}

output activityLogAlertId string = vaultAccessLost.id
