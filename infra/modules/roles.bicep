// Built-in Azure role definition GUIDs used by Secret Relay, kept in one place so every role assignment names a role
// by meaning and a test can check each GUID against the table in docs/deployment.md.

@export()
@description('Built-in role definition GUIDs (the role definition resource names).')
var builtInRoles = {
  // Read secret values (the relay's own vault: the fingerprint key, resolved as a Key Vault reference).
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // The deployer only, on the relay vault: the postprovision hook creates the fingerprint key. Never the relay.
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Host storage: blobs (leases, timers, deployment package, task hub large messages).
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Audit trail appends and drift reports (container scope), Event Grid dead-letter writes (container scope).
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // The relay config blob and dead-lettered events: read only (container scope).
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  // Publishers of credential-rotation CloudEvents on the custom topic.
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  // Durable task hub control and work-item queues.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Durable task hub History and Instances tables.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Application Insights ingestion with Entra ID auth (local auth disabled).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

@export()
@description('Key Vault event types the relay subscribes to on every source vault.')
var keyVaultEventTypes = [
  'Microsoft.KeyVault.SecretNewVersionCreated'
  'Microsoft.KeyVault.SecretNearExpiry'
  'Microsoft.KeyVault.SecretExpired'
]

@export()
@description('Data actions of the "Secret Relay Source" custom role on source vaults: read values and metadata, write new versions (rotation). No delete, purge, backup or recover.')
var sourceDataActions = [
  'Microsoft.KeyVault/vaults/secrets/getSecret/action'
  'Microsoft.KeyVault/vaults/secrets/setSecret/action'
  'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
]
