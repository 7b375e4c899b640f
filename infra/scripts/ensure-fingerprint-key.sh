#!/bin/sh
# Creates the relay's two keys in the relay vault, once each: the fingerprint key and the audit chain key (48 random
# bytes, base64). Never prints, reads back or replaces an existing key: a new fingerprint key would make every
# target look drifted, and a new chain key starts a new key id (rotate it deliberately: docs/security.md).
# Runs as the azd postprovision hook (azd exports the deployment outputs as environment variables); needs az,
# openssl, and Key Vault Secrets Officer on the relay vault (main.bicep grants it to AZURE_PRINCIPAL_ID).
set -eu

vault="${RELAY_VAULT_NAME:?RELAY_VAULT_NAME is not set: run azd provision first}"

ensure_key() {
  name="$1" content_type="$2" label="$3"
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
    echo "$label '$name' already exists in $vault; left unchanged"
    return 0
  fi

  umask 077
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT INT TERM
  openssl rand -base64 48 | tr -d '\n' > "$tmp"
  az keyvault secret set --vault-name "$vault" --name "$name" --file "$tmp" --encoding utf-8 \
    --content-type "$content_type" --output none
  rm -f "$tmp"
  echo "created $label '$name' in $vault"
}

ensure_key "${RELAY_FINGERPRINT_KEY_SECRET_NAME:-relay-fingerprint-key}" "application/vnd.secret-relay.fingerprint-key+base64" "fingerprint key"
ensure_key "${RELAY_AUDIT_CHAIN_KEY_SECRET_NAME:-relay-audit-chain-key}" "application/vnd.secret-relay.audit-chain-key+base64" "audit chain key"
