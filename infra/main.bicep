// fninfer on Azure: one Python Function App on the Flex Consumption plan, its storage account (blobs and queues,
// shared-key access off), Application Insights, and a user-assigned managed identity that is the app's only way
// into storage and monitoring. Deploy with `az deployment group create` (see the README, "Deploy to Azure"), then
// zip-deploy the package `fninfer package` builds.

targetScope = 'resourceGroup'

@description('Base name for every resource (letters and digits; the storage account name is derived from it).')
@minLength(3)
@maxLength(18)
param appName string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Python version of the Function App; the package must be built for the same one.')
@allowed(['3.11', '3.12'])
param pythonVersion string = '3.11'

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per instance, in MB (Flex Consumption sizes).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Application ID URI or client id of the Entra ID app registration callers request tokens for (the SDK config\'s auth_scope is "<this>/.default").')
param entraAudience string

@description('Where the Entra ID signing keys are; empty: the tenant\'s discovery endpoint.')
param entraJwksUri string = ''

@secure()
@description('Admin key of the management API, for callers without Entra ID tokens (empty: Entra ID only).')
param adminKey string = ''

@secure()
@description('Secret that service keys are derived from and service tokens signed with.')
param signingKey string

@description('NCRONTAB of the timer that fires schedules.')
param schedulesCron string = '0 * * * * *'

@description('How a service\'s conda/pip environment is checked when its deployment does not say: warn (pins the app cannot meet are logged) or strict (they fail the deployment).')
@allowed(['warn', 'strict'])
param environmentCheck string = 'warn'

@description('Seconds a batch work item\'s lease lasts without a heartbeat.')
param batchLeaseSeconds int = 60

@description('Seconds a pipeline run may go without progress (past its steps\' own time limits) before the watchdog repairs or fails it.')
param runWatchdogSeconds int = 180

@description('Object id of a user or group who uses the SDK (it uploads models and data straight to storage); empty: none.')
param developerPrincipalId string = ''

@description('Deliver blob events to the app (files dropped into a data schedule\'s folder start its run in seconds). Leave false on the first deployment: the webhook\'s key exists only once the app\'s code runs, so deploy again with true after the zip deploy.')
param subscribeBlobEvents bool = false

var suffix = uniqueString(resourceGroup().id, appName)
var storageAccountName = toLower(take('${replace(appName, '-', '')}${suffix}', 24))
var deploymentContainerName = 'app-package-${toLower(appName)}'
// shared/layout.py DEFAULT_DATASTORE_CONTAINER, and the blob-triggered function of functions/drops.py.
var defaultDatastoreContainer = 'fninfer-datastore'
var droppedBlobFunction = 'dropped_blob'

// Built-in role definitions (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${appName}-identity'
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${appName}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${appName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${appName}-plan'
  location: location
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      // Every setting the app's code reads (shared/settings.py KNOWN_SETTINGS; tests/unit/test_infra_settings.py
      // keeps the two lists equal), plus the host's own connection and monitoring settings.
      appSettings: [
        // The host's and the bindings' identity-based connection (name and value on their own lines, where
        // azure-functions-doctor reads them to resolve the bindings' `connection`).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        { name: 'FNINFER_ADMIN_KEY', value: adminKey }
        { name: 'FNINFER_SIGNING_KEY', value: signingKey }
        { name: 'FNINFER_ENTRA_ISSUER', value: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0' }
        { name: 'FNINFER_ENTRA_AUDIENCE', value: entraAudience }
        { name: 'FNINFER_ENTRA_JWKS_URI', value: entraJwksUri }
        { name: 'FNINFER_MODEL_CACHE', value: '/tmp/fninfer/models' }
        { name: 'FNINFER_SNAPSHOT_CACHE', value: '/tmp/fninfer/snapshots' }
        { name: 'FNINFER_BATCH_LEASE_SECONDS', value: string(batchLeaseSeconds) }
        { name: 'FNINFER_RUN_WATCHDOG_SECONDS', value: string(runWatchdogSeconds) }
        { name: 'FNINFER_SCHEDULES_CRON', value: schedulesCron }
        { name: 'FNINFER_ENVIRONMENT_CHECK', value: environmentCheck }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      // A batch run's node_count x process_count_per_node lanes run at once only on node_count instances: keep
      // maximumInstanceCount at least the largest node_count. host.json's queue settings (batchSize 1,
      // newBatchThreshold, maxPollingInterval) spread the lanes over instances: docs/batch-scale-out.md.
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
  dependsOn: [
    deploymentContainer
    appBlobAccess
    appQueueAccess
  ]
}

// The app's identity: blobs (registry, models, datastore, runs, the host's leases and the deployment package),
// queues (deployments, mini-batches, fan-in, planning), and publishing telemetry to Application Insights.
resource appBlobAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource appQueueAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource appTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The SDK writes model and data content straight to blob storage, so its user needs blob data access too.
resource developerBlobAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage.id, developerPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: developerPrincipalId
  }
}

// Files dropped into the default datastore: on Flex Consumption a blob trigger takes the Event Grid source, so the
// storage account's BlobCreated events are pushed to the blobs extension's webhook (about a second after the upload)
// instead of the host scanning the container. The subscription needs the extension's system key, which the host
// creates when it first runs the app's code: hence `subscribeBlobEvents`, true on the deployment after the zip deploy.
resource storageEvents 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${appName}-storage-events'
  location: location
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource droppedBlobEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribeBlobEvents) {
  parent: storageEvents
  name: 'dropped-blobs'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${droppedBlobFunction}&code=${listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/${defaultDatastoreContainer}/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output functionAppName string = app.name
output functionAppUrl string = 'https://${app.properties.defaultHostName}'
output storageAccountName string = storage.name
output identityClientId string = identity.properties.clientId

@description('The SDK\'s workspace config for this app: save it as .fninfer/config.json (see the README).')
output workspaceConfig object = {
  endpoint: 'https://${app.properties.defaultHostName}'
  route_prefix: 'api'
  storage_account: storage.name
  auth_scope: '${entraAudience}/.default'
  workspace_name: appName
  resource_group: resourceGroup().name
  subscription_id: subscription().subscriptionId
}
