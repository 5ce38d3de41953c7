// Storage account for the Functions host, the deployment package and the directory tables and queue; reachable by Entra ID only.

@description('Name of the storage account (3-24 lowercase letters and digits).')
param name string

@description('Azure region of the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Queue the HTTP function writes sync requests to and the worker function is triggered by.')
param syncQueueName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Shared keys off: every client, the host included, signs in with Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobService 'blobServices@2023-05-01' = {
    name: 'default'

    resource deploymentContainer 'containers@2023-05-01' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  resource queueService 'queueServices@2023-05-01' = {
    name: 'default'

    resource syncQueue 'queues@2023-05-01' = {
      name: syncQueueName
    }

    // Messages that fail five times land here (Functions queue trigger behaviour); created up front so alerts can watch it.
    resource syncPoisonQueue 'queues@2023-05-01' = {
      name: '${syncQueueName}-poison'
    }

    // Debounce checks and subscription upkeep for Graph change notifications (fixed in the code, src/service/notificationTasks.ts).
    resource notificationQueue 'queues@2023-05-01' = {
      name: 'sync-notifications'
    }
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
