#!/bin/sh
# azd postdeploy hook: Event Grid subscriptions to an Azure Function need the function to exist, so the first
# `azd up` provisions without them. Once the code is deployed, this reminds the operator to turn them on.
set -eu
if [ "${RELAY_EVENT_SUBSCRIPTIONS:-false}" != "true" ]; then
  echo "Event Grid subscriptions are off. Now that keyVaultEvents is deployed, run:"
  echo "  azd env set RELAY_EVENT_SUBSCRIPTIONS true && azd provision"
fi
