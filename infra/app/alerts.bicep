// Azure Monitor log alerts over the app's Application Insights traces, mailed to the admin through one action group.

@description('Name prefix of the action group and the alert rules.')
param namePrefix string

@description('Azure region of the alert rules (the action group is global).')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Resource id of the Application Insights component the functions log to.')
param applicationInsightsId string

@description('Address the alerts are mailed to.')
param alertEmailAddress string

@description('SECRET_EXPIRY_WARNING_DAYS, quoted in the secret rule\'s description.')
param secretExpiryWarningDays int

// Every function log line is one JSON object in traces.message (src/service/invocationLogger.ts); `event` names the structured ones (src/logging/operationalEvents.ts).
var rules = [
  {
    name: 'run-failed'
    displayName: 'Entra sync: a run failed'
    description: 'A sync run ended failed for good (retries used up, poisoned or abandoned). The reason is in the alert; GET /api/sync/runs/{runId} has the record.'
    severity: 1
    windowSize: 'PT15M'
    evaluationFrequency: 'PT15M'
    overrideQueryTimeRange: ''
    muteActionsDuration: ''
    query: '''
traces
| where message startswith "{"
| extend e = parse_json(message)
| where tostring(e.event) == "runFailed"
| project timestamp, tenantId = tostring(e.tenantId), runId = tostring(e.runId), reason = tostring(e.reason)
'''
  }
  {
    name: 'run-quarantined'
    displayName: 'Entra sync: deletions held for review'
    description: 'A run held user deletions above DELETION_THRESHOLD_COUNT / DELETION_THRESHOLD_PERCENT. Review them (summary.heldDeletions) and request a run with allowDeletions.'
    severity: 2
    windowSize: 'PT15M'
    evaluationFrequency: 'PT15M'
    overrideQueryTimeRange: ''
    muteActionsDuration: ''
    query: '''
traces
| where message startswith "{"
| extend e = parse_json(message)
| where tostring(e.event) == "runQuarantined"
| project timestamp, tenantId = tostring(e.tenantId), runId = tostring(e.runId), heldDeletions = toint(e.heldDeletions)
'''
  }
  {
    name: 'secret-expiring'
    displayName: 'Entra sync: Key Vault secret expiring'
    description: 'The Key Vault secret or certificate the sync signs in with expires within ${secretExpiryWarningDays} days (SECRET_EXPIRY_WARNING_DAYS), has expired, or cannot be read. Renew it in Key Vault; the app picks the new version up.'
    severity: 2
    windowSize: 'P1D'
    evaluationFrequency: 'PT6H'
    overrideQueryTimeRange: ''
    muteActionsDuration: 'P1D'
    query: '''
traces
| where message startswith "{"
| extend e = parse_json(message)
| where tostring(e.event) == "secretExpiring"
| project timestamp, tenantId = tostring(e.tenantId), secretName = tostring(e.secretName), vaultUrl = tostring(e.vaultUrl), state = tostring(e.state), daysLeft = toint(e.daysLeft), expiresOn = tostring(e.expiresOn)
'''
  }
  {
    name: 'no-recent-success'
    displayName: 'Entra sync: no successful sync in 26 hours'
    description: 'A tenant this deployment syncs (seen in the last two days) has had no successful or quarantined run for 26 hours, or no tenant has: the copy in Table Storage is going stale.'
    severity: 1
    windowSize: 'PT1H'
    evaluationFrequency: 'PT1H'
    overrideQueryTimeRange: 'P2D'
    muteActionsDuration: 'PT6H'
    query: '''
let runEvents = traces
| where message startswith "{"
| extend e = parse_json(message)
| where tostring(e.event) in ("runRequested", "runSucceeded", "runQuarantined", "runFailed");
let known = runEvents | distinct tenantId = tostring(e.tenantId);
let fresh = runEvents
| where timestamp > ago(26h) and tostring(e.event) in ("runSucceeded", "runQuarantined") and tobool(e.dryRun) == false
| distinct tenantId = tostring(e.tenantId);
known
| join kind=leftanti fresh on tenantId
| union (fresh | count | where Count == 0 | project tenantId = "(every tenant)")
'''
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'Global'
  tags: tags
  properties: {
    // At most 12 characters; shown as the sender of SMS and some mails.
    groupShortName: 'entrasync'
    enabled: true
    emailReceivers: [
      {
        name: 'admin'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: '${namePrefix}-${rule.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: rule.evaluationFrequency
    windowSize: rule.windowSize
    overrideQueryTimeRange: empty(rule.overrideQueryTimeRange) ? null : rule.overrideQueryTimeRange
    muteActionsDuration: empty(rule.muteActionsDuration) ? null : rule.muteActionsDuration
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'tenantId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
