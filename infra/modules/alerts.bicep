// The relay's alerts (docs/operations.md has the runbook of each): an action group mailing the operator; log alerts
// on the relay's OpenTelemetry metrics in Application Insights (failed deliveries, targets that could not be
// checked, reconciliation not completing); metric alerts on the rotation topic. The per-vault alerts (vault deleted,
// access removed, source system topics) are in vault-alerts.bicep, deployed in each vault's resource group.

param location string
param tags object = {}

@description('Prefix of every alert rule name.')
param namePrefix string = 'secret-relay'

@description('Address the action group mails.')
param alertEmail string

@description('Resource id of the Application Insights component the relay sends its metrics to.')
param applicationInsightsId string

@description('Minutes between reconciliation runs (the reconcile schedule); the alert fires when none completed for two periods.')
@minValue(5)
@maxValue(1440)
param reconcilePeriodMinutes int = 15

@description('Resource id of the credential-rotation Event Grid topic. Empty: no topic alerts.')
param rotationTopicId string = ''

resource actionGroup 'Microsoft.Insights/actionGroups@2024-10-01-preview' = {
  name: '${namePrefix}-operators'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'secretrelay'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Counters arrive as delta sums per export interval (customMetrics.valueSum), with their attributes in
// customDimensions: status, target_kind, target_id; kind for drift findings.
var failedDeliveriesQuery = '''
customMetrics
| where name == 'secret_relay.deliveries'
| extend status = tostring(customDimensions['status']), target_id = tostring(customDimensions['target_id'])
| where status startswith 'Failed'
| summarize failed = sum(valueSum) by status, target_id
'''

var checkFailedQuery = '''
customMetrics
| where name == 'secret_relay.drift'
| where tostring(customDimensions['kind']) == 'check-failed'
| summarize findings = sum(valueSum)
'''

// countif over an empty window still yields one row (0): silence, including no telemetry at all, raises it.
var reconcileMissingQuery = '''
customMetrics
| summarize completed = countif(name == 'secret_relay.reconciliations')
| where completed == 0
'''

resource failedDeliveries 'Microsoft.Insights/scheduledQueryRules@2025-01-01-preview' = {
  name: '${namePrefix}-failed-deliveries'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Secret Relay: failed deliveries'
    description: 'A delivery ended in a Failed* status (one alert per status and target). Runbook: docs/operations.md#failed-deliveries'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: failedDeliveriesQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'failed'
          dimensions: [
            {
              name: 'status'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'target_id'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource checkFailed 'Microsoft.Insights/scheduledQueryRules@2025-01-01-preview' = {
  name: '${namePrefix}-check-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Secret Relay: targets that could not be checked'
    description: 'Reconciliation could not read a target (CheckFailed finding): its drift is unknown. Runbook: docs/operations.md#checkfailed-findings'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: checkFailedQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'findings'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource reconcileMissing 'Microsoft.Insights/scheduledQueryRules@2025-01-01-preview' = {
  name: '${namePrefix}-reconcile-missing'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Secret Relay: reconciliation not completed'
    description: 'No reconciliation run wrote its report for two schedule periods. Runbook: docs/operations.md#reconciliation-not-completed'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT${reconcilePeriodMinutes}M'
    windowSize: 'PT${2 * reconcilePeriodMinutes}M'
    criteria: {
      allOf: [
        {
          query: reconcileMissingQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

module rotationTopicAlerts 'topic-alerts.bicep' = if (!empty(rotationTopicId)) {
  name: 'topic-alerts-rotation'
  params: {
    topicId: rotationTopicId
    metricNamespace: 'Microsoft.EventGrid/topics'
    actionGroupId: actionGroup.id
    tags: tags
  }
}

output actionGroupId string = actionGroup.id
