// Azure role assignments for the function app's managed identity, each the least privilege for what the app does.

@description('Object (principal) id of the user-assigned managed identity.')
param principalId string

@description('Storage account holding the host data, the deployment package and the directory tables and queue.')
param storageAccountName string

@description('Key Vault holding the app registration credential.')
param keyVaultName string

@description('Application Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Whether the identity may read secrets: only the clientSecret and certificate modes keep one in Key Vault.')
param grantKeyVaultSecretsUser bool

@description('Object (principal) ids of the managed identities or service principals of applications that read the directory tables (docs/reading.md).')
param tableReaderPrincipalIds array = []

// Built-in role definition ids, from the "Azure built-in roles" reference.
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Account scope because the host creates its own containers (azure-webjobs-hosts, azure-webjobs-secrets) next to the deployment container.
resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The HTTP function enqueues sync requests, the worker dequeues them and moves failures to the poison queue.
resource storageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The sync creates its tables (named after TABLE_PREFIX) and writes the directory copy.
resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Consuming applications read the directory copy and nothing else: read-only data access to tables, no keys, no writes.
resource storageTableDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in tableReaderPrincipalIds: {
  name: guid(storage.id, principalId, roleIds.storageTableDataReader)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// Vault scope because the secret does not exist until the admin adds it; the vault holds nothing else.
resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantKeyVaultSecretsUser) {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights has local auth disabled, so telemetry is accepted only from a principal holding this role.
resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
