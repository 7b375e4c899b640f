import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../../shared/telemetry/index.js';
import { exprText, get, stringValue, type BicepNode } from './bicep.js';
import { bicep, moduleOf, paramOf, repoRoot, resourceOf } from './files.js';

const main = bicep('main.bicep');
const alerts = bicep('modules/alerts.bicep');
const vaultAlerts = bicep('modules/vault-alerts.bicep');
const topicAlerts = bicep('modules/topic-alerts.bicep');
const operations = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');

/** The KQL of a var holding a multi-line string. */
function query(name: string): string {
  const text = exprText(alerts.vars.get(name));
  expect(text, name).toMatch(/^'''/);
  return text!.replace(/^'''|'''$/g, '');
}

function actionGroupsOf(body: BicepNode): string[] {
  const groups = get(body, 'properties.actions.actionGroups') ?? get(body, 'properties.actions');
  if (groups?.kind !== 'array') return [];
  return groups.items.map((item) => exprText(item) ?? exprText(get(item, 'actionGroupId')) ?? '');
}

/** GitHub-style anchors of the headings of docs/operations.md. */
const anchors = new Set(
  [...operations.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, '')
      .replace(/ /g, '-'),
  ),
);

describe('alerts: action group', () => {
  it('mails the operator address given to main (azd env RELAY_ALERT_EMAIL), and alerts are deployed only with one', () => {
    const group = resourceOf(alerts, 'actionGroup');
    expect(group.type).toBe('Microsoft.Insights/actionGroups');
    const receivers = get(group.body, 'properties.emailReceivers');
    expect(receivers?.kind).toBe('array');
    expect(exprText(get(receivers?.kind === 'array' ? receivers.items[0] : undefined, 'emailAddress'))).toBe('alertEmail');
    expect((stringValue(get(group.body, 'properties.groupShortName')) ?? '').length).toBeLessThanOrEqual(12);
    const call = moduleOf(main, 'alerts');
    expect(call.condition).toBe('!empty(alertEmail)');
    expect(exprText(get(call.body, 'params.alertEmail'))).toBe('alertEmail');
    expect(stringValue(paramOf(main, 'alertEmail').defaultValue)).toBe('');
    const parameters = JSON.parse(readFileSync(join(repoRoot, 'infra/main.parameters.json'), 'utf8')).parameters;
    expect(parameters.alertEmail.value).toBe('${RELAY_ALERT_EMAIL=}');
  });

  it('every alert rule notifies the action group', () => {
    for (const symbol of ['failedDeliveries', 'checkFailed', 'reconcileMissing']) {
      expect(actionGroupsOf(resourceOf(alerts, symbol).body), symbol).toEqual(['actionGroup.id']);
    }
    for (const symbol of ['deadLettered', 'deliveryFailures']) {
      expect(actionGroupsOf(resourceOf(topicAlerts, symbol).body), symbol).toEqual(['actionGroupId']);
    }
    expect(actionGroupsOf(resourceOf(vaultAlerts, 'vaultAccessLost').body)).toEqual(['actionGroupId']);
    for (const symbol of ['sourceVaultAlerts', 'targetVaultAlerts']) {
      expect(exprText(get(moduleOf(main, symbol).body, 'params.actionGroupId')), symbol).toBe('alerts!.outputs.actionGroupId');
    }
  });
});

describe('alerts from the relay metrics in Application Insights', () => {
  it.each([
    ['failedDeliveries', 'failedDeliveriesQuery'],
    ['checkFailed', 'checkFailedQuery'],
    ['reconcileMissing', 'reconcileMissingQuery'],
  ])('%s is a log alert over the Application Insights component', (symbol, queryVar) => {
    const rule = resourceOf(alerts, symbol);
    expect(rule.type).toBe('Microsoft.Insights/scheduledQueryRules');
    expect(stringValue(get(rule.body, 'kind'))).toBe('LogAlert');
    const scopes = get(rule.body, 'properties.scopes');
    expect(scopes?.kind === 'array' ? exprText(scopes.items[0]) : undefined).toBe('applicationInsightsId');
    const criteria = get(rule.body, 'properties.criteria.allOf');
    expect(criteria?.kind === 'array' ? exprText(get(criteria.items[0], 'query')) : undefined).toBe(queryVar);
    expect(exprText(get(moduleOf(main, 'alerts').body, 'params.applicationInsightsId'))).toBe('monitoring.outputs.applicationInsightsId');
  });

  it('any Failed* delivery fires, per status and target, on the counter the delivery activity records', () => {
    const kql = query('failedDeliveriesQuery');
    expect(kql).toContain(`name == '${METRIC_NAMES.deliveries}'`);
    expect(kql).toContain("status startswith 'Failed'");
    expect(kql).toMatch(/customDimensions\['status'\]/);
    expect(kql).toMatch(/customDimensions\['target_id'\]/);
    const criterion = get(resourceOf(alerts, 'failedDeliveries').body, 'properties.criteria.allOf');
    const first = criterion?.kind === 'array' ? criterion.items[0] : undefined;
    expect(stringValue(get(first, 'metricMeasureColumn'))).toBe('failed');
    expect(stringValue(get(first, 'operator'))).toBe('GreaterThan');
    expect(exprText(get(first, 'threshold'))).toBe('0');
  });

  it('a CheckFailed finding fires, from the drift counter of kind check-failed', () => {
    const kql = query('checkFailedQuery');
    expect(kql).toContain(`name == '${METRIC_NAMES.drift}'`);
    expect(kql).toContain("customDimensions['kind']) == 'check-failed'");
  });

  it('reconciliation not completed for two schedule periods fires, also when no telemetry arrives at all', () => {
    const kql = query('reconcileMissingQuery');
    expect(kql).toContain(`countif(name == '${METRIC_NAMES.reconciliations}')`);
    expect(kql).toContain('where completed == 0');
    const rule = resourceOf(alerts, 'reconcileMissing');
    expect(exprText(get(rule.body, 'properties.windowSize'))).toBe("'PT${2 * reconcilePeriodMinutes}M'");
    expect(exprText(get(rule.body, 'properties.evaluationFrequency'))).toBe("'PT${reconcilePeriodMinutes}M'");
    // main's period matches its default schedule (every 15 minutes).
    expect(stringValue(paramOf(main, 'reconcileSchedule').defaultValue)).toBe('0 */15 * * * *');
    expect(exprText(paramOf(main, 'reconcilePeriodMinutes').defaultValue)).toBe('15');
    expect(exprText(get(moduleOf(main, 'alerts').body, 'params.reconcilePeriodMinutes'))).toBe('reconcilePeriodMinutes');
  });
});

describe('alerts on vaults (activity log) and Event Grid topics (metrics)', () => {
  it('a vault deleted or a role assignment on it removed fires, scoped to the vault', () => {
    const rule = resourceOf(vaultAlerts, 'vaultAccessLost');
    expect(rule.type).toBe('Microsoft.Insights/activityLogAlerts');
    expect(stringValue(get(rule.body, 'location'))).toBe('global');
    const scopes = get(rule.body, 'properties.scopes');
    expect(scopes?.kind === 'array' ? scopes.items.map(exprText) : []).toEqual(['vault.id']);
    const conditions = get(rule.body, 'properties.condition.allOf');
    const text = JSON.stringify(conditions, (_, v) => (v instanceof Map ? Object.fromEntries(v) : v));
    expect(text).toContain("'Administrative'");
    expect(text).toContain("'Succeeded'");
    expect(text).toContain("'Microsoft.KeyVault/vaults/delete'");
    expect(text).toContain("'Microsoft.Authorization/roleAssignments/delete'");
  });

  it('main deploys it for every source vault (with its system topic) and every listed target vault, in the vault\'s resource group', () => {
    const sources = moduleOf(main, 'sourceVaultAlerts');
    expect(sources.loop).toBe(true);
    expect(exprText(get(sources.body, 'scope'))).toBe("resourceGroup(split(vault.resourceId, '/')[2], split(vault.resourceId, '/')[4])");
    expect(stringValue(get(sources.body, 'params.role'))).toBe('source');
    expect(exprText(get(sources.body, 'params.systemTopicId'))).toBe('sourceVaultAccess[i].outputs.systemTopicId');
    const targets = moduleOf(main, 'targetVaultAlerts');
    expect(targets.loop).toBe(true);
    expect(stringValue(get(targets.body, 'params.role'))).toBe('target');
    expect(exprText(get(targets.body, 'scope'))).toBe("resourceGroup(split(id, '/')[2], split(id, '/')[4])");
  });

  it('dead-lettered events and failed delivery attempts fire on the system topics and the rotation topic', () => {
    const dead = resourceOf(topicAlerts, 'deadLettered');
    const failed = resourceOf(topicAlerts, 'deliveryFailures');
    for (const [rule, metric] of [[dead, 'DeadLetteredCount'], [failed, 'DeliveryAttemptFailCount']] as const) {
      expect(rule.type).toBe('Microsoft.Insights/metricAlerts');
      const criteria = get(rule.body, 'properties.criteria.allOf');
      const first = criteria?.kind === 'array' ? criteria.items[0] : undefined;
      expect(stringValue(get(first, 'metricName'))).toBe(metric);
      expect(exprText(get(first, 'metricNamespace'))).toBe('metricNamespace');
      expect(stringValue(get(first, 'timeAggregation'))).toBe('Total');
      expect(stringValue(get(first, 'operator'))).toBe('GreaterThan');
    }
    const deadCriteria = get(dead.body, 'properties.criteria.allOf');
    expect(exprText(get(deadCriteria?.kind === 'array' ? deadCriteria.items[0] : undefined, 'threshold'))).toBe('0');
    const fromVault = moduleOf(vaultAlerts, 'topicAlerts');
    expect(fromVault.condition).toBe('!empty(systemTopicId)');
    expect(stringValue(get(fromVault.body, 'params.metricNamespace'))).toBe('Microsoft.EventGrid/systemTopics');
    const fromRotation = moduleOf(alerts, 'rotationTopicAlerts');
    expect(stringValue(get(fromRotation.body, 'params.metricNamespace'))).toBe('Microsoft.EventGrid/topics');
    expect(exprText(get(moduleOf(main, 'alerts').body, 'params.rotationTopicId'))).toBe('rotationTopic.outputs.id');
  });
});

describe('docs/operations.md', () => {
  const described = [
    ...[resourceOf(alerts, 'failedDeliveries'), resourceOf(alerts, 'checkFailed'), resourceOf(alerts, 'reconcileMissing')],
    resourceOf(vaultAlerts, 'vaultAccessLost'),
    resourceOf(topicAlerts, 'deadLettered'),
    resourceOf(topicAlerts, 'deliveryFailures'),
  ];

  it.each(described.map((rule) => [rule.symbol, rule] as const))('%s names a runbook section that exists', (_, rule) => {
    const description = exprText(get(rule.body, 'properties.description')) ?? '';
    const anchor = /docs\/operations\.md#([a-z0-9-]+)/.exec(description)?.[1];
    expect(anchor, description).toBeDefined();
    expect([...anchors], `docs/operations.md has no heading for #${anchor}`).toContain(anchor);
  });
});
