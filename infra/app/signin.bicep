// App Service Authentication on the function app: Microsoft Entra sign-in for the console, secretless, leaving function-key routes to the host.

@description('Name of the function app.')
param functionAppName string

@description('Client id of the console\'s sign-in app registration.')
param clientId string

@description('Tenant whose users sign in to the console.')
param tenantId string

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      // Anonymous requests pass so function keys keep working; the console's routes refuse them in code (src/access/consoleAccess.ts).
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      // The session cookie carries the claims; no token store (it would need a SAS URL on Flex Consumption).
      tokenStore: {
        enabled: false
      }
      // The console keeps its view in the URL fragment (#/runs), which survives the sign-in round trip.
      preserveUrlFragmentsForLogins: true
      cookieExpiration: {
        convention: 'FixedTime'
        timeToExpiration: '08:00:00'
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
          clientId: clientId
          // This setting name tells the platform to use the managed identity (OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID) as the credential.
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
        }
        validation: {
          allowedAudiences: [
            clientId
            'api://${clientId}'
          ]
        }
        login: {
          loginParameters: [
            'scope=openid profile email'
          ]
        }
      }
    }
  }
}

output enabled bool = authSettings.properties.platform.enabled
