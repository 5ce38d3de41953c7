// Grants the managed identity the Microsoft Graph application permissions the sync reads the directory with.
extension microsoftGraphV1

@description('Object (principal) id of the managed identity service principal that receives the permissions.')
param principalId string

@description('Whether devices are synced: only then is Device.Read.All granted.')
param syncDevices bool = false

@description('Whether group changes are notified: only then is Group.Read.All granted (a groups subscription needs it).')
param grantGroupReadAll bool = false

// Microsoft Graph's application id, the same in every tenant.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// App role ids of the Graph application permissions, from the Microsoft Graph permissions reference.
var graphAppRoleIds = {
  userReadAll: 'df021288-bdef-4463-88db-98f22de89214'
  groupMemberReadAll: '98830695-27a2-44f7-8c18-0c3ebc9698f6'
  deviceReadAll: '7438b122-aefc-4978-80ed-43db9fcc7715'
  groupReadAll: '5b567255-7703-4780-807c-7be8301ae99b'
}

resource microsoftGraph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: microsoftGraphAppId
}

// Users delta needs User.Read.All (least privilege per the Graph docs).
resource userReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: graphAppRoleIds.userReadAll
  principalId: principalId
  resourceId: microsoftGraph.id
}

// Groups delta with members needs GroupMember.Read.All, which is narrower than Group.Read.All.
resource groupMemberReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: graphAppRoleIds.groupMemberReadAll
  principalId: principalId
  resourceId: microsoftGraph.id
}

// Devices delta needs Device.Read.All; granted only when device sync is on, so the default stays least-privilege.
resource deviceReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (syncDevices) {
  appRoleId: graphAppRoleIds.deviceReadAll
  principalId: principalId
  resourceId: microsoftGraph.id
}

// Subscribing to groups change notifications needs Group.Read.All (subscription-post-subscriptions); off by default, users-only notifications need nothing extra.
resource groupReadAll 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (grantGroupReadAll) {
  appRoleId: graphAppRoleIds.groupReadAll
  principalId: principalId
  resourceId: microsoftGraph.id
}

output grantedAppRoleIds array = concat([
  userReadAll.appRoleId
  groupMemberReadAll.appRoleId
], syncDevices ? [graphAppRoleIds.deviceReadAll] : [], grantGroupReadAll ? [graphAppRoleIds.groupReadAll] : [])
