// Metric alerts on one Event Grid topic (a source vault's system topic, or the rotation topic): events that could
// not be delivered to the relay's functions. Dead-lettered events were never handled (no relay, no rotation);
// failed delivery attempts mean the function app is unreachable or failing and Event Grid is retrying.

@description('Resource id of the topic (Microsoft.EventGrid/systemTopics or Microsoft.EventGrid/topics).')
param topicId string

@description('Metric namespace of the topic: Microsoft.EventGrid/systemTopics or Microsoft.EventGrid/topics.')
@allowed([
  'Microsoft.EventGrid/systemTopics'
  'Microsoft.EventGrid/topics'
])
param metricNamespace string

@description('Action group notified by every alert.')
param actionGroupId string

@description('Failed delivery attempts within 15 minutes that raise the alert (Event Grid retries each; a few during a cold start are normal).')
@minValue(0)
param deliveryFailureThreshold int = 5

param tags object = {}

var topicName = last(split(topicId, '/'))

resource deadLettered 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'secret-relay-deadlettered-${topicName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Secret Relay: Event Grid dead-lettered events of ${topicName}; they were never handled. Runbook: docs/operations.md#event-grid-dead-letters'
    severity: 1
    enabled: true
    scopes: [
      topicId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredCount'
          metricNamespace: metricNamespace
          metricName: 'DeadLetteredCount'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

resource deliveryFailures 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'secret-relay-delivery-failures-${topicName}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Secret Relay: Event Grid cannot deliver events of ${topicName} to the function app. Runbook: docs/operations.md#event-grid-delivery-failures'
    severity: 2
    enabled: true
    scopes: [
      topicId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeliveryAttemptFailCount'
          metricNamespace: metricNamespace
          metricName: 'DeliveryAttemptFailCount'
          operator: 'GreaterThan'
          threshold: deliveryFailureThreshold
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

output alertIds string[] = [
  deadLettered.id
  deliveryFailures.id
]
