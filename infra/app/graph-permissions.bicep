// Grants the managed identity the Microsoft Graph application permissions the sync reads the directory with.
extension microsoftGraphV1

@description('Object (principal) id of the managed identity service principal that receives the permissions.')
param principalId string

// Microsoft Graph's application id, the same in every tenant.
var microsoftGraphAppId = '00000003-0000-0000-c000-000000000000'

// App role ids of the Graph application permissions, from the Microsoft Graph permissions reference.
var graphAppRoleIds = {
  userReadAll: 'df021288-bdef-4463-88db-98f22de89214'
  groupMemberReadAll: '98830695-27a2-44f7-8c18-0c3ebc9698f6'
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

output grantedAppRoleIds array = [
  userReadAll.appRoleId
  groupMemberReadAll.appRoleId
]
