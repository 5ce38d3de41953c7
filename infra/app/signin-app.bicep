// The console's sign-in app registration (Microsoft Graph Bicep extension): its two app roles and the managed identity as its only credential.
extension microsoftGraphV1

@description('Unique name of the app registration in the tenant (also what re-deployments update).')
param uniqueName string

@description('Display name users see on the Entra sign-in and consent pages.')
param displayName string

@description('Default host name of the function app, for the sign-in redirect URI.')
param functionHostName string

@description('Object (principal) id of the user-assigned managed identity that signs in for the app instead of a client secret.')
param managedIdentityPrincipalId string

@description('Object id of a user or group that gets the Sync.Admin role (azd passes the deploying user); empty assigns nobody.')
param adminPrincipalId string = ''

@description('User, Group or ServicePrincipal: what adminPrincipalId names.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param adminPrincipalType string = 'User'

// Microsoft Graph's application id, and its delegated User.Read scope id (sign-in and the user's own profile).
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'
var userReadScopeId = 'e1fe6dd8-ba31-4d61-89e7-88639da4683d'

// The values must equal consoleAppRoles in src/access/clientPrincipal.ts (a test checks); the ids are stable per app.
var consoleRoles = {
  act: {
    value: 'Sync.Admin'
    id: guid(uniqueName, 'Sync.Admin')
    displayName: 'Sync administrator'
    description: 'May request runs (Sync now, full resync, test runs) and allow held deletions in the entra-table-sync console, and see everything.'
  }
  view: {
    value: 'Sync.Viewer'
    id: guid(uniqueName, 'Sync.Viewer')
    displayName: 'Sync viewer'
    description: 'May see status, runs, changes, scope and the connection check in the entra-table-sync console.'
  }
}

resource signInApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  web: {
    redirectUris: [
      'https://${functionHostName}/.auth/login/aad/callback'
    ]
    // App Service Authentication asks for an ID token along with the code.
    implicitGrantSettings: {
      enableIdTokenIssuance: true
    }
  }
  appRoles: [
    for role in items(consoleRoles): {
      id: role.value.id
      value: role.value.value
      displayName: role.value.displayName
      description: role.value.description
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
  ]
  requiredResourceAccess: [
    {
      resourceAppId: microsoftGraphAppId
      resourceAccess: [
        {
          id: userReadScopeId
          type: 'Scope'
        }
      ]
    }
  ]

  // The managed identity proves the app's identity at sign-in, so no client secret exists to leak or expire.
  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${signInApp.uniqueName}/function-app-managed-identity'
    description: 'The function app\'s user-assigned managed identity, used by App Service Authentication instead of a secret.'
    audiences: [
      'api://AzureADTokenExchange'
    ]
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: managedIdentityPrincipalId
  }
}

// Only users and apps given one of the two roles may sign in at all.
resource signInServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: signInApp.appId
  appRoleAssignmentRequired: true
}

resource adminAssignment 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (!empty(adminPrincipalId)) {
  appRoleId: consoleRoles.act.id
  principalId: adminPrincipalId
  principalType: adminPrincipalType
  resourceId: signInServicePrincipal.id
}

output clientId string = signInApp.appId
output appRoleValues array = [
  consoleRoles.act.value
  consoleRoles.view.value
]
