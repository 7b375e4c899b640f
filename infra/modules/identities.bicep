// User-assigned managed identities: one for the relay (Function App, storage, vaults, App Insights) and one for
// Event Grid (the source vaults' system topics use it only to write dead-lettered events).

param relayIdentityName string
param eventGridIdentityName string
param location string
param tags object = {}

resource relay 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: relayIdentityName
  location: location
  tags: tags
}

resource eventGrid 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output relayId string = relay.id
output relayClientId string = relay.properties.clientId
output relayPrincipalId string = relay.properties.principalId
output eventGridId string = eventGrid.id
output eventGridPrincipalId string = eventGrid.properties.principalId
