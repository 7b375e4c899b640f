# azd postprovision hook (Windows): see ensure-fingerprint-key.sh. Creates the fingerprint key and the audit chain
# key once each; never reads, prints or replaces an existing one.
$ErrorActionPreference = 'Stop'
$vault = $env:RELAY_VAULT_NAME
if (-not $vault) { throw 'RELAY_VAULT_NAME is not set: run azd provision first' }

function Ensure-Key([string]$name, [string]$contentType, [string]$label) {
  $count = $null
  for ($attempt = 1; $attempt -le 10; $attempt++) {
    $count = az keyvault secret list --vault-name $vault --query "[?name=='$name'] | length(@)" -o tsv 2>$null
    if ($LASTEXITCODE -eq 0) { break }
    if ($attempt -eq 10) { throw "cannot list secrets in $vault; check that you hold Key Vault Secrets Officer on it" }
    Start-Sleep -Seconds 30
  }
  if ($count -ne '0') { Write-Host "$label '$name' already exists in $vault; left unchanged"; return }

  $bytes = [byte[]]::new(48)
  [System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
  $tmp = New-TemporaryFile
  try {
    [System.IO.File]::WriteAllText($tmp, [Convert]::ToBase64String($bytes))
    az keyvault secret set --vault-name $vault --name $name --file $tmp --encoding utf-8 `
      --content-type $contentType --output none
    Write-Host "created $label '$name' in $vault"
  } finally {
    Remove-Item $tmp -Force
  }
}

Ensure-Key ($env:RELAY_FINGERPRINT_KEY_SECRET_NAME ?? 'relay-fingerprint-key') 'application/vnd.secret-relay.fingerprint-key+base64' 'fingerprint key'
Ensure-Key ($env:RELAY_AUDIT_CHAIN_KEY_SECRET_NAME ?? 'relay-audit-chain-key') 'application/vnd.secret-relay.audit-chain-key+base64' 'audit chain key'
