// Flex Consumption function app running the sync, with every app setting it needs and no keys or connection strings.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags object

@description('Service name in azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string = 'api'

@description('Node.js version of the Functions runtime.')
@allowed([
  '20'
  '22'
])
param nodeVersion string

@description('Most instances the app may scale out to (Flex Consumption allows 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Blob endpoint of the storage account, ending in a slash.')
param blobEndpoint string

@description('Queue endpoint of the storage account, ending in a slash.')
param queueEndpoint string

@description('Table endpoint of the storage account, ending in a slash.')
param tableEndpoint string

@description('Blob container the deployment package is uploaded to.')
param deploymentContainerName string

@description('Application Insights connection string (an endpoint, not a credential, since local auth is off).')
param applicationInsightsConnectionString string

@description('Tenant whose directory is copied.')
param entraTenantId string

@description('Further tenants to sync as a JSON array; empty for none.')
param syncTenants string

@description('Comma-separated ids of the groups whose members (through nesting too) are synced; empty syncs every user.')
param scopeGroups string

@description('Comma-separated display-name globs of further scope groups.')
param scopeGroupNamePatterns string

@description('Comma-separated ids of groups whose members are never synced.')
param scopeExcludeGroups string

@description('Comma-separated display-name globs of groups whose members are never synced.')
param scopeExcludeGroupNamePatterns string

@description('Group kinds that are synced.')
param syncGroupKinds string

@description('Whether guests (userType Guest) are synced.')
param syncGuests string

@description('keep (synced, accountEnabled false) or exclude.')
param syncDisabledUsers string

@description('Comma-separated globs on mail and user principal name of accounts never synced.')
param userExcludePatterns string

@description('Whether devices are synced (SYNC_DEVICES).')
param syncDevices string

@description('Group id to role names (ROLE_MAPPING).')
param roleMapping string

@description('Days a soft-deleted object is kept before it is purged.')
param deletedRetentionDays int

@description('User deletions a run may apply without allowDeletions (count).')
param deletionThresholdCount int

@description('User deletions a run may apply without allowDeletions (percent of active users).')
param deletionThresholdPercent int

@description('How the app signs in to Microsoft Graph.')
param entraCredentialMode string

@description('Client id of the app registration; empty when no tenant uses one.')
param entraClientId string

@description('Vault URL; empty when the mode keeps no credential in Key Vault.')
param keyVaultUrl string

@description('Name of the secret or certificate in Key Vault; empty when the mode keeps none there.')
param keyVaultSecretName string

@description('Days before a credential expires that the status starts warning.')
param secretExpiryWarningDays int

@description('Microsoft cloud the directory lives in.')
param entraCloud string

@description('Prefix of the table names.')
param tablePrefix string

@description('NCRONTAB schedule of the daily sync, in UTC.')
param syncSchedule string

@description('Retries of a throttled or failed Graph request.')
param graphMaxRetries int

@description('Parallel table writes during a sync.')
param syncWriteConcurrency int

@description('Seconds a run\'s lease lasts without renewal.')
param syncLeaseTtlSeconds int

@description('Seconds one worker invocation runs before a continuation.')
param syncRunBudgetSeconds int

@description('Days run records and change events are kept.')
param runRetentionDays int

@description('Whether Graph change notifications start runs (SYNC_CHANGE_NOTIFICATIONS); the webhook URL comes from WEBSITE_HOSTNAME.')
param syncChangeNotifications string

@description('Quiet period in seconds before notified changes start a run (CHANGE_NOTIFICATION_DEBOUNCE_SECONDS).')
param changeNotificationDebounceSeconds int

@description('Whether App Service Authentication signs console users in with the managed identity as the sign-in app\'s credential.')
param consoleSignIn bool = false

// Every app setting of the app, in one list; entries with an empty value are dropped so the code's defaults apply.
var appSettings = filter(
  [
    // Host storage (timers, leases, keys) through the managed identity, per identity-based connections.
    { name: 'AzureWebJobsStorage__blobServiceUri', value: blobEndpoint }
    { name: 'AzureWebJobsStorage__queueServiceUri', value: queueEndpoint }
    { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
    { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
    // The app's own connection: tables for the directory copy, the queue trigger on the sync-requests queue.
    { name: 'DirectoryStorage__tableServiceUri', value: tableEndpoint }
    { name: 'DirectoryStorage__queueServiceUri', value: queueEndpoint }
    { name: 'DirectoryStorage__credential', value: 'managedidentity' }
    { name: 'DirectoryStorage__clientId', value: identityClientId }
    // Telemetry is sent as the managed identity because Application Insights refuses instrumentation-key-only ingestion.
    { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: applicationInsightsConnectionString }
    { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
    // The product's own settings, spelled exactly as in src/config/settings.ts so test/infra can match them.
    { name: 'ENTRA_TENANT_ID', value: entraTenantId }
    { name: 'SYNC_TENANTS', value: syncTenants }
    { name: 'ROLE_MAPPING', value: roleMapping }
    { name: 'SYNC_DEVICES', value: syncDevices }
    { name: 'SCOPE_GROUPS', value: scopeGroups }
    { name: 'SCOPE_GROUP_NAME_PATTERNS', value: scopeGroupNamePatterns }
    { name: 'SCOPE_EXCLUDE_GROUPS', value: scopeExcludeGroups }
    { name: 'SCOPE_EXCLUDE_GROUP_NAME_PATTERNS', value: scopeExcludeGroupNamePatterns }
    { name: 'SYNC_GROUP_KINDS', value: syncGroupKinds }
    { name: 'SYNC_GUESTS', value: syncGuests }
    { name: 'SYNC_DISABLED_USERS', value: syncDisabledUsers }
    { name: 'USER_EXCLUDE_PATTERNS', value: userExcludePatterns }
    { name: 'DELETED_RETENTION_DAYS', value: string(deletedRetentionDays) }
    { name: 'DELETION_THRESHOLD_COUNT', value: string(deletionThresholdCount) }
    { name: 'DELETION_THRESHOLD_PERCENT', value: string(deletionThresholdPercent) }
    { name: 'ENTRA_CREDENTIAL_MODE', value: entraCredentialMode }
    { name: 'ENTRA_CLIENT_ID', value: entraClientId }
    { name: 'MANAGED_IDENTITY_CLIENT_ID', value: identityClientId }
    { name: 'KEY_VAULT_URL', value: keyVaultUrl }
    { name: 'KEY_VAULT_SECRET_NAME', value: keyVaultSecretName }
    { name: 'SECRET_EXPIRY_WARNING_DAYS', value: string(secretExpiryWarningDays) }
    { name: 'ENTRA_CLOUD', value: entraCloud }
    { name: 'TABLE_PREFIX', value: tablePrefix }
    { name: 'SYNC_SCHEDULE', value: syncSchedule }
    { name: 'GRAPH_MAX_RETRIES', value: string(graphMaxRetries) }
    { name: 'SYNC_WRITE_CONCURRENCY', value: string(syncWriteConcurrency) }
    { name: 'SYNC_LEASE_TTL_SECONDS', value: string(syncLeaseTtlSeconds) }
    { name: 'SYNC_RUN_BUDGET_SECONDS', value: string(syncRunBudgetSeconds) }
    { name: 'RUN_RETENTION_DAYS', value: string(runRetentionDays) }
    { name: 'SYNC_CHANGE_NOTIFICATIONS', value: syncChangeNotifications }
    { name: 'CHANGE_NOTIFICATION_DEBOUNCE_SECONDS', value: string(changeNotificationDebounceSeconds) }
    // Read by App Service Authentication: the managed identity whose federated credential replaces the sign-in app's secret.
    { name: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID', value: consoleSignIn ? identityClientId : '' }
  ],
  setting => !empty(setting.value)
)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
    siteConfig: {
      appSettings: appSettings
    }
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
