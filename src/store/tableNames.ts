// Names of the tables the product owns; a prefix lets several deployments share one storage account.

export interface DirectoryTableNames {
  users: string;
  groups: string;
  devices: string;
  members: string;
  memberOf: string;
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
    memberOf: `${prefix}MemberOf`,
    nesting: `${prefix}GroupNesting`,
    syncState: `${prefix}SyncState`,
    runs: `${prefix}Runs`,
    userLookup: `${prefix}UserLookup`,
  };
}
