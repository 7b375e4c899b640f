#!/bin/sh
# azd preprovision hook: checks what would make `azd provision` fail or do harm, and records what it finds in the
# azd environment, so the deployment adapts instead of failing:
#  - the region offers Flex Consumption;
#  - each source vault (RELAY_SOURCE_VAULT_IDS) exists, uses RBAC, and whether it already has an Event Grid system
#    topic (a vault can have one): its name goes to RELAY_SOURCE_VAULT_TOPICS, and the deployment references it
#    instead of replacing its identity and tags;
#  - a soft-deleted relay vault of the same name (after `azd down`; purge protection keeps it 90 days): sets
#    RELAY_VAULT_CREATE_MODE=recover, so the vault comes back with its fingerprint key;
#  - the custom role names of this environment are not taken by another definition in the tenant;
#  - the relay config blob is present (a warning, not a problem: the first `azd up` cannot have one, and the relay
#    runs without it, logging a warning, until `secret-relay config push`).
# Needs az (logged in) and azd. Read-only on Azure. Exit 1 names every problem found.
set -eu

env_name="${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set}"
location="${AZURE_LOCATION:?AZURE_LOCATION is not set}"
subscription="${AZURE_SUBSCRIPTION_ID:?AZURE_SUBSCRIPTION_ID is not set}"
problems=0
fail() { echo "preprovision: $*" >&2; problems=$((problems + 1)); }

if ! az functionapp list-flexconsumption-locations --query "[?name=='$location' || name=='$(echo "$location" | tr -d ' ' | tr '[:upper:]' '[:lower:]')'] | length(@)" -o tsv 2>/dev/null | grep -qv '^0$'; then
  fail "region $location does not offer Flex Consumption (az functionapp list-flexconsumption-locations)"
fi

topics=""
vaults=0
ids="${RELAY_SOURCE_VAULT_IDS:-}"
old_ifs=$IFS
IFS=','
for id in $ids; do
  IFS=$old_ifs
  id=$(echo "$id" | tr -d ' ')
  [ -z "$id" ] && continue
  rbac=$(az resource show --ids "$id" --query "properties.enableRbacAuthorization" -o tsv 2>/dev/null || echo missing)
  case "$rbac" in
    true) ;;
    missing) fail "source vault $id does not exist or is not visible to you" ;;
    *) fail "source vault $id uses access policies; the relay needs the Azure RBAC permission model" ;;
  esac
  topic=$(az eventgrid system-topic list --query "[?source=='$id'] | [0].name" -o tsv 2>/dev/null || true)
  [ -n "$topic" ] && echo "preprovision: $id already has system topic $topic: it is referenced, not replaced"
  # One entry per vault, empty when it has no topic: main.bicep pairs the lists by position.
  [ "$vaults" -gt 0 ] && topics="$topics,"
  topics="$topics$topic"
  vaults=$((vaults + 1))
  IFS=','
done
IFS=$old_ifs
azd env set RELAY_SOURCE_VAULT_TOPICS "$topics" >/dev/null

# The relay vault's name is derived like main.bicep's resourceToken; azd exposes no Bicep function, so the deployed
# name is read back from a previous provision when there is one.
vault="${RELAY_VAULT_NAME:-}"
if [ -n "$vault" ] && az keyvault list-deleted --resource-type vault --query "[?name=='$vault'] | length(@)" -o tsv 2>/dev/null | grep -qv '^0$'; then
  echo "preprovision: relay vault $vault is soft-deleted: it will be recovered (with its fingerprint key)"
  azd env set RELAY_VAULT_CREATE_MODE recover >/dev/null
else
  azd env set RELAY_VAULT_CREATE_MODE default >/dev/null
fi

for role in "Secret Relay Writer ($env_name)" "Secret Relay Source ($env_name)"; do
  count=$(az role definition list --custom-role-only true --name "$role" --query "[?!contains(id, '/subscriptions/$subscription/')] | length(@)" -o tsv 2>/dev/null || echo 0)
  [ "$count" != "0" ] && fail "a role named \"$role\" already exists in another subscription of the tenant; pick another environment name or set writerRoleName"
done

account="${AUDIT_STORAGE_ACCOUNT_NAME:-}"
blob_path="${RELAY_CONFIG_BLOB:-config/relay.config.json}"
if [ -z "$account" ]; then
  echo "preprovision: no relay config yet (first provision): after azd up, run \"secret-relay config push\""
else
  present=$(az storage blob exists --auth-mode login --account-name "$account" --container-name "${blob_path%%/*}" \
    --name "${blob_path#*/}" --query exists -o tsv 2>/dev/null || echo unknown)
  case "$present" in
    true) echo "preprovision: relay config $blob_path is present in $account" ;;
    false) echo "preprovision: warning: no relay config at $blob_path in $account: events fail retryably until \"secret-relay config push\"" >&2 ;;
    *) echo "preprovision: warning: cannot tell whether $blob_path exists in $account (Storage Blob Data Reader or Contributor on it needed)" >&2 ;;
  esac
fi

if [ "$problems" -gt 0 ]; then
  echo "preprovision: $problems problem(s); nothing was deployed" >&2
  exit 1
fi
echo "preprovision: checks passed"
