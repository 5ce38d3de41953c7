// Names of the tables the product owns; a prefix lets several deployments share one storage account.

export interface DirectoryTableNames {
  users: string;
  groups: string;
  devices: string;
  members: string;
  /** Direct groups of members with no user or group row of their own: users outside the scope, devices, service principals, contacts. */
  memberGroups: string;
  /** A member's group lists when they outgrow one property (the rare member in very many groups). */
  memberGroupsOverflow: string;
  /** The by-member copy of every membership of schema version 2 and older; read only to empty it when a store is upgraded. */
  legacyMemberOf: string;
  nesting: string;
  syncState: string;
  runs: string;
  /** Lower-cased mail, user principal name and employee id → user ids (src/store/userLookup.ts). */
  userLookup: string;
}

export function directoryTableNames(prefix: string): DirectoryTableNames {
  return {
    users: `${prefix}Users`,
    groups: `${prefix}Groups`,
    devices: `${prefix}Devices`,
    members: `${prefix}Members`,
    memberGroups: `${prefix}MemberGroups`,
    memberGroupsOverflow: `${prefix}MemberGroupsOverflow`,
    legacyMemberOf: `${prefix}MemberOf`,
    nesting: `${prefix}GroupNesting`,
    syncState: `${prefix}SyncState`,
    runs: `${prefix}Runs`,
    userLookup: `${prefix}UserLookup`,
  };
}
