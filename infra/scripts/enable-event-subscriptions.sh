#!/bin/sh
# azd postdeploy hook: Event Grid subscriptions to an Azure Function need the function to exist, so the first
# `azd up` provisions without them. Once the code is deployed, this turns them on and provisions again (incremental;
# only the subscriptions are new), which completes `azd up` in one step. Later runs do nothing.
set -eu
if [ "${RELAY_EVENT_SUBSCRIPTIONS:-false}" = "true" ]; then
  exit 0
fi
azd env set RELAY_EVENT_SUBSCRIPTIONS true
azd provision --no-prompt
