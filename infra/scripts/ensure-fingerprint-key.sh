#!/bin/sh
# Creates the relay's fingerprint key (48 random bytes, base64) in the relay vault, once. Never prints, reads back or
# replaces an existing key: a new key would change every fingerprint and make every target look drifted.
# Runs as the azd postprovision hook (azd exports the deployment outputs as environment variables); needs az,
# openssl, and Key Vault Secrets Officer on the relay vault (main.bicep grants it to AZURE_PRINCIPAL_ID).
set -eu

vault="${RELAY_VAULT_NAME:?RELAY_VAULT_NAME is not set: run azd provision first}"
name="${RELAY_FINGERPRINT_KEY_SECRET_NAME:-relay-fingerprint-key}"

# A fresh role assignment can take minutes to apply, so listing (metadata only) is retried before deciding.
attempt=1
while :; do
  if count=$(az keyvault secret list --vault-name "$vault" --query "[?name=='$name'] | length(@)" --output tsv 2>/dev/null); then
    break
  fi
  if [ "$attempt" -ge 10 ]; then
    echo "cannot list secrets in $vault; check that you hold Key Vault Secrets Officer on it" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 30
done

if [ "$count" != "0" ]; then
  echo "fingerprint key '$name' already exists in $vault; left unchanged"
  exit 0
fi

umask 077
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM
openssl rand -base64 48 | tr -d '\n' > "$tmp"
az keyvault secret set --vault-name "$vault" --name "$name" --file "$tmp" --encoding utf-8 \
  --content-type "application/vnd.secret-relay.fingerprint-key+base64" --output none
echo "created fingerprint key '$name' in $vault"
