# azd preprovision hook (Windows): the same checks as preprovision-check.sh; see there.
$ErrorActionPreference = 'Stop'
$problems = 0
function Fail($message) { Write-Error "preprovision: $message" -ErrorAction Continue; $script:problems++ }

$envName = $env:AZURE_ENV_NAME; $location = $env:AZURE_LOCATION; $subscription = $env:AZURE_SUBSCRIPTION_ID
if (-not $envName -or -not $location -or -not $subscription) { throw 'AZURE_ENV_NAME, AZURE_LOCATION and AZURE_SUBSCRIPTION_ID must be set' }

$normalized = ($location -replace ' ', '').ToLowerInvariant()
$flex = az functionapp list-flexconsumption-locations --query "[?name=='$location' || name=='$normalized'] | length(@)" -o tsv 2>$null
if ($flex -eq '0' -or -not $flex) { Fail "region $location does not offer Flex Consumption" }

$topics = @()
foreach ($id in (($env:RELAY_SOURCE_VAULT_IDS ?? '') -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ })) {
  $rbac = az resource show --ids $id --query 'properties.enableRbacAuthorization' -o tsv 2>$null
  if (-not $rbac) { Fail "source vault $id does not exist or is not visible to you" }
  elseif ($rbac -ne 'true') { Fail "source vault $id uses access policies; the relay needs the Azure RBAC permission model" }
  $topic = az eventgrid system-topic list --query "[?source=='$id'] | [0].name" -o tsv 2>$null
  if ($topic) { Write-Host "preprovision: $id already has system topic ${topic}: it is referenced, not replaced" }
  $topics += ($topic ?? '')
}
azd env set RELAY_SOURCE_VAULT_TOPICS ($topics -join ',') | Out-Null

$vault = $env:RELAY_VAULT_NAME
$mode = 'default'
if ($vault) {
  $deleted = az keyvault list-deleted --resource-type vault --query "[?name=='$vault'] | length(@)" -o tsv 2>$null
  if ($deleted -and $deleted -ne '0') { Write-Host "preprovision: relay vault $vault is soft-deleted: it will be recovered"; $mode = 'recover' }
}
azd env set RELAY_VAULT_CREATE_MODE $mode | Out-Null

foreach ($role in @("Secret Relay Writer ($envName)", "Secret Relay Source ($envName)")) {
  $count = az role definition list --custom-role-only true --name $role --query "[?!contains(id, '/subscriptions/$subscription/')] | length(@)" -o tsv 2>$null
  if ($count -and $count -ne '0') { Fail "a role named `"$role`" already exists in another subscription of the tenant" }
}

$account = $env:AUDIT_STORAGE_ACCOUNT_NAME
$blobPath = $env:RELAY_CONFIG_BLOB ?? 'config/relay.config.json'
$container, $blobName = $blobPath -split '/', 2
if (-not $account) {
  Write-Host 'preprovision: no relay config yet (first provision): after azd up, run "secret-relay config push"'
} else {
  $present = az storage blob exists --auth-mode login --account-name $account --container-name $container --name $blobName --query exists -o tsv 2>$null
  if ($present -eq 'true') { Write-Host "preprovision: relay config $blobPath is present in $account" }
  elseif ($present -eq 'false') { Write-Warning "preprovision: no relay config at $blobPath in ${account}: events fail retryably until `"secret-relay config push`"" }
  else { Write-Warning "preprovision: cannot tell whether $blobPath exists in $account (Storage Blob Data Reader or Contributor on it needed)" }
}

if ($problems -gt 0) { throw "preprovision: $problems problem(s); nothing was deployed" }
Write-Host 'preprovision: checks passed'
