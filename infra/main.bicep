// Entry point for `azd up` and `az deployment sub create`: a resource group with everything the directory sync runs on.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Azure region for all resources; it must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Tenant whose directory is copied; defaults to the tenant this deployment runs in.')
param entraTenantId string = tenant().tenantId

// JSON-valued settings are array and object parameters: azd parses their value as JSON instead of pasting it into the file's text.
@description('Further tenants to sync, the JSON array SYNC_TENANTS takes; empty syncs only entraTenantId.')
param syncTenants array = []

@description('A run deleting more users than this holds the deletions until a run with allowDeletions (0: no count limit).')
@minValue(0)
param deletionThresholdCount int = 500

@description('The same guard as a percentage of active users (0: no percentage limit).')
@minValue(0)
@maxValue(100)
param deletionThresholdPercent int = 20

@description('Days a soft-deleted user or group is kept, marked deleted, before it is purged.')
@minValue(0)
@maxValue(3650)
param deletedRetentionDays int = 30

@description('Comma-separated ids of the groups whose members (through nesting too) are synced; empty syncs every user.')
param scopeGroups string = ''

@description('Comma-separated display-name globs of further scope groups.')
param scopeGroupNamePatterns string = ''

@description('Comma-separated ids of groups whose members are never synced.')
param scopeExcludeGroups string = ''

@description('Comma-separated display-name globs of groups whose members are never synced.')
param scopeExcludeGroupNamePatterns string = ''

@description('Group kinds that are synced.')
param syncGroupKinds string = 'security,microsoft365,distribution,mailEnabledSecurity'

@description('Whether guests (userType Guest) are synced.')
param syncGuests string = 'true'

@description('keep (synced, accountEnabled false) or exclude.')
param syncDisabledUsers string = 'keep'

@description('Comma-separated globs on mail and user principal name of accounts never synced.')
param userExcludePatterns string = ''

@description('Whether devices are synced (true needs Device.Read.All).')
param syncDevices string = 'false'

@description('Group id to role names, the JSON object ROLE_MAPPING takes; empty stores no roles.')
param roleMapping object = {}

@description('How the app signs in to Microsoft Graph; see docs/deploy.md for choosing one.')
@allowed([
  'managedIdentity'
  'federatedCredential'
  'clientSecret'
  'certificate'
])
param entraCredentialMode string = 'managedIdentity'

@description('Client id of the app registration; required in every mode except managedIdentity.')
param entraClientId string = ''

@description('Name the admin gives the client secret or certificate in Key Vault (clientSecret and certificate modes).')
param keyVaultSecretName string = 'entra-sync-client-secret'

@description('Days before a credential expires that the sync status starts warning.')
@minValue(1)
@maxValue(365)
param secretExpiryWarningDays int = 30

@description('Where Azure Monitor mails alerts (a run failed or was quarantined, a Key Vault secret expiring, no successful sync in 26 hours); empty deploys no alerts.')
param alertEmailAddress string = ''

@description('Microsoft cloud the directory lives in.')
@allowed([
  'public'
  'usgov'
  'china'
])
param entraCloud string = 'public'

@description('NCRONTAB schedule of the daily sync (six fields, UTC).')
param syncSchedule string = '0 0 2 * * *'

@description('Prefix of the table names: 1-20 letters and digits starting with a letter.')
param tablePrefix string = 'entra'

@description('Retries of a throttled or failed Microsoft Graph request.')
@minValue(1)
@maxValue(20)
param graphMaxRetries int = 6

@description('Parallel table writes during a sync.')
@minValue(1)
@maxValue(64)
param syncWriteConcurrency int = 16

@description('Seconds a sync run\'s lease lasts without renewal; a crashed run is taken over after it.')
@minValue(1)
@maxValue(86400)
param syncLeaseTtlSeconds int = 60

@description('Seconds one worker invocation runs before handing the rest to a continuation (below the function timeout).')
@minValue(60)
@maxValue(1200)
param syncRunBudgetSeconds int = 480

@description('Days run records and change events are kept.')
@minValue(1)
@maxValue(3650)
param runRetentionDays int = 90

@description('Object (principal) ids of managed identities or service principals of applications that read the directory tables; each is granted Storage Table Data Reader on the storage account (docs/reading.md).')
param tableReaderPrincipalIds array = []

@description('Grant the managed identity User.Read.All and GroupMember.Read.All on Microsoft Graph (needs Privileged Role Administrator).')
param grantGraphPermissions bool = false

@description('Grant Group.Read.All too, so group changes are notified (SYNC_CHANGE_NOTIFICATIONS); without it only user changes are, and group changes wait for the next scheduled run.')
param grantGroupReadAll bool = false

@description('Subscribe to Microsoft Graph change notifications so changes reach the tables within a minute (SYNC_CHANGE_NOTIFICATIONS).')
@allowed([
  'true'
  'false'
])
param syncChangeNotifications string = 'false'

@description('Seconds without further notifications before a notified change starts a run (CHANGE_NOTIFICATION_DEBOUNCE_SECONDS).')
@minValue(1)
@maxValue(300)
param changeNotificationDebounceSeconds int = 10

@description('Node.js version of the Functions runtime; 20 is past its end of life and kept only for apps pinned to it.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '22'

@description('Most instances the function app may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each function app instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Days a deleted vault or secret stays recoverable (7-90); the vault name stays taken that long.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

@description('Create the console\'s Entra sign-in app registration and turn on App Service Authentication (needs the right to register apps).')
param consoleSignIn bool = true

@description('Object id of the user (azd: the deploying user) who gets the console\'s Sync.Admin role; empty assigns nobody.')
param consoleAdminPrincipalId string = ''

// Same inputs give the same names, so re-running a deployment updates rather than duplicates.
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// Fixed in the code (the worker's queue trigger), not a setting.
var syncQueueName = 'sync-requests'
var deploymentContainerName = 'app-package'
// Only these modes read a credential from Key Vault.
var keyVaultCredentialModes = [
  'clientSecret'
  'certificate'
]
// The app reads both as JSON text; empty leaves the setting out so the code's default applies.
var syncTenantsSetting = empty(syncTenants) ? '' : string(syncTenants)
var roleMappingSetting = empty(roleMapping) ? '' : string(roleMapping)
// A further tenant without its own credentialMode inherits the top-level one, as the settings loader does.
var usesKeyVaultCredential = contains(keyVaultCredentialModes, entraCredentialMode) || length(filter(syncTenants, furtherTenant => contains(keyVaultCredentialModes, furtherTenant.?credentialMode ?? entraCredentialMode))) > 0

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    syncQueueName: syncQueueName
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

// Only with an address to mail: a rule nobody hears about is noise in the portal.
module alerts 'app/alerts.bicep' = if (!empty(alertEmailAddress)) {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: 'entra-sync-${resourceToken}'
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmailAddress: alertEmailAddress
    secretExpiryWarningDays: secretExpiryWarningDays
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    grantKeyVaultSecretsUser: usesKeyVaultCredential
    tableReaderPrincipalIds: tableReaderPrincipalIds
  }
}

// Only the managedIdentity mode calls Graph as this identity; the other modes use an app registration the admin consents for.
module graphPermissions 'app/graph-permissions.bicep' = if (grantGraphPermissions && entraCredentialMode == 'managedIdentity') {
  name: 'graph-permissions'
  scope: rg
  // After the function app, so Entra ID has replicated the new identity's service principal; granting right after creating it can fail.
  dependsOn: [
    functionApp
  ]
  params: {
    principalId: identity.outputs.principalId
    syncDevices: toLower(syncDevices) == 'true'
    grantGroupReadAll: grantGroupReadAll
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  // Roles first, so the host's first start can already reach storage.
  dependsOn: [
    rbac
  ]
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    nodeVersion: nodeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    // An ENTRA_TENANT_ID set to an empty string would otherwise override the default.
    entraTenantId: empty(entraTenantId) ? tenant().tenantId : entraTenantId
    entraCredentialMode: entraCredentialMode
    // Also the default client id of further tenants, so it is passed even in managedIdentity mode.
    entraClientId: entraClientId
    syncTenants: syncTenantsSetting
    roleMapping: roleMappingSetting
    syncDevices: syncDevices
    scopeGroups: scopeGroups
    scopeGroupNamePatterns: scopeGroupNamePatterns
    scopeExcludeGroups: scopeExcludeGroups
    scopeExcludeGroupNamePatterns: scopeExcludeGroupNamePatterns
    syncGroupKinds: syncGroupKinds
    syncGuests: syncGuests
    syncDisabledUsers: syncDisabledUsers
    userExcludePatterns: userExcludePatterns
    deletedRetentionDays: deletedRetentionDays
    deletionThresholdCount: deletionThresholdCount
    deletionThresholdPercent: deletionThresholdPercent
    keyVaultUrl: usesKeyVaultCredential ? keyVault.outputs.uri : ''
    keyVaultSecretName: usesKeyVaultCredential ? keyVaultSecretName : ''
    secretExpiryWarningDays: secretExpiryWarningDays
    entraCloud: entraCloud
    tablePrefix: tablePrefix
    syncSchedule: syncSchedule
    graphMaxRetries: graphMaxRetries
    syncWriteConcurrency: syncWriteConcurrency
    syncLeaseTtlSeconds: syncLeaseTtlSeconds
    syncRunBudgetSeconds: syncRunBudgetSeconds
    runRetentionDays: runRetentionDays
    syncChangeNotifications: syncChangeNotifications
    changeNotificationDebounceSeconds: changeNotificationDebounceSeconds
    consoleSignIn: consoleSignIn
  }
}

// The console's sign-in: the app registration (Graph extension) first, then App Service Authentication pointing at it.
module signInApp 'app/signin-app.bicep' = if (consoleSignIn) {
  name: 'signin-app'
  scope: rg
  params: {
    uniqueName: 'entra-table-sync-console-${resourceToken}'
    displayName: 'entra-table-sync console (${environmentName})'
    functionHostName: functionApp.outputs.defaultHostName
    managedIdentityPrincipalId: identity.outputs.principalId
    adminPrincipalId: consoleAdminPrincipalId
  }
}

module signIn 'app/signin.bicep' = if (consoleSignIn) {
  name: 'signin'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    clientId: signInApp!.outputs.clientId
    tenantId: tenant().tenantId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output CONSOLE_URL string = 'https://${functionApp.outputs.defaultHostName}/api/console'
output CONSOLE_SIGN_IN_CLIENT_ID string = consoleSignIn ? signInApp!.outputs.clientId : ''
output GRAPH_PERMISSIONS_GRANTED bool = grantGraphPermissions && entraCredentialMode == 'managedIdentity'
