# azd postdeploy hook (Windows): see enable-event-subscriptions.sh.
$ErrorActionPreference = 'Stop'
if ($env:RELAY_EVENT_SUBSCRIPTIONS -eq 'true') { exit 0 }
azd env set RELAY_EVENT_SUBSCRIPTIONS true
azd provision --no-prompt
