// What the reader returns: typed directory objects, with booleans as booleans, arrays parsed and absent values undefined.

/** Kinds of directory object that can be a group member. */
export type MemberType = "user" | "group" | "device" | "servicePrincipal" | "orgContact" | "other";
export const memberTypes: readonly MemberType[] = ["user", "group", "device", "servicePrincipal", "orgContact", "other"];

/** Why a stored user or group is marked deleted: soft-deleted or gone in Entra, or left the sync scope. */
export type DeletedReason = "directory" | "outOfScope";

export interface DirectoryUser {
  id: string;
  displayName?: string;
  givenName?: string;
  surname?: string;
  userPrincipalName?: string;
  mail?: string;
  accountEnabled?: boolean;
  /** "Member" or "Guest", as in Microsoft Graph. */
  userType?: string;
  jobTitle?: string;
  department?: string;
  employeeId?: string;
  /** Effective roles under the sync's ROLE_MAPPING; [] for none. */
  roles: string[];
  deleted: boolean;
  deletedAt?: Date;
  deletedReason?: DeletedReason;
  /** When the sync last changed the row. */
  changedAt?: Date;
}

export type GroupKind = "security" | "microsoft365" | "distribution" | "mailEnabledSecurity";

export interface DirectoryGroup {
  id: string;
  displayName?: string;
  description?: string;
  mail?: string;
  mailEnabled?: boolean;
  mailNickname?: string;
  securityEnabled?: boolean;
  /** For example ["Unified"] for a Microsoft 365 group; [] for none. */
  groupTypes: string[];
  kind?: GroupKind;
  deleted: boolean;
  deletedAt?: Date;
  changedAt?: Date;
}

/** One group a user (or any member) belongs to. */
export interface GroupMembership {
  groupId: string;
  /** A direct member now (neither side soft-deleted). */
  direct: boolean;
  /** Reaches the group only through one or more nested groups (not a direct member). */
  inherited: boolean;
}

/** One member of a group, direct or reached through nested groups. */
export interface GroupMember {
  id: string;
  memberType: MemberType;
  /** A direct member of the group asked about (otherwise reached only through nesting). */
  direct: boolean;
}

/** One page of a listing; pass `continuationToken` back for the next page, undefined at the end. */
export interface Page<T> {
  items: T[];
  continuationToken: string | undefined;
}

export type ChangeKind =
  | "userCreated"
  | "userUpdated"
  | "userSoftDeleted"
  | "userRestored"
  | "userDeleted"
  | "userPurged"
  | "groupCreated"
  | "groupUpdated"
  | "groupSoftDeleted"
  | "groupRestored"
  | "groupDeleted"
  | "groupPurged"
  | "membershipAdded"
  | "membershipRemoved";

/** One entry of the change feed, with the cursor to store once it has been handled. */
export interface DirectoryChange {
  /** Store this after handling the change; `changes({ after: cursor })` resumes right after it. */
  cursor: string;
  kind: ChangeKind | (string & {});
  /** The user or group; for a membership change, the member. */
  objectId: string;
  /** For a membership change, the group. */
  groupId?: string;
  at: Date;
  runId: string;
  description: string;
}

export interface SyncRunInfo {
  runId: string;
  mode: "incremental" | "full";
  trigger: string;
  startedAt: Date;
  endedAt?: Date;
}
