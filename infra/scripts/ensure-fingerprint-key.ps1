# azd postprovision hook (Windows): see ensure-fingerprint-key.sh. Creates the fingerprint key once; never reads,
# prints or replaces an existing one.
$ErrorActionPreference = 'Stop'
$vault = $env:RELAY_VAULT_NAME
if (-not $vault) { throw 'RELAY_VAULT_NAME is not set: run azd provision first' }
$name = $env:RELAY_FINGERPRINT_KEY_SECRET_NAME ?? 'relay-fingerprint-key'

$count = $null
for ($attempt = 1; $attempt -le 10; $attempt++) {
  $count = az keyvault secret list --vault-name $vault --query "[?name=='$name'] | length(@)" -o tsv 2>$null
  if ($LASTEXITCODE -eq 0) { break }
  if ($attempt -eq 10) { throw "cannot list secrets in $vault; check that you hold Key Vault Secrets Officer on it" }
  Start-Sleep -Seconds 30
}
if ($count -ne '0') { Write-Host "fingerprint key '$name' already exists in $vault; left unchanged"; exit 0 }

$bytes = [byte[]]::new(48)
[System.Security.Cryptography.RandomNumberGenerator]::Fill($bytes)
$tmp = New-TemporaryFile
try {
  [System.IO.File]::WriteAllText($tmp, [Convert]::ToBase64String($bytes))
  az keyvault secret set --vault-name $vault --name $name --file $tmp --encoding utf-8 `
    --content-type 'application/vnd.secret-relay.fingerprint-key+base64' --output none
  Write-Host "created fingerprint key '$name' in $vault"
} finally {
  Remove-Item $tmp -Force
}
