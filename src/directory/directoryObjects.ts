// Provider-neutral shapes of what the engine syncs: users, groups and the changes a delta read reports.

/** Kinds of directory object that can be a group member; anything else Graph reports is kept as "other". */
export type MemberType = "user" | "group" | "device" | "servicePrincipal" | "orgContact" | "other";

/** The user properties the product stores; delta updates may carry only some of them. */
export interface UserProperties {
  displayName: string | null;
  givenName: string | null;
  surname: string | null;
  userPrincipalName: string | null;
  mail: string | null;
  accountEnabled: boolean | null;
  userType: string | null;
  jobTitle: string | null;
  department: string | null;
  employeeId: string | null;
}

/** The group properties the product stores. */
export interface GroupProperties {
  displayName: string | null;
  description: string | null;
  mail: string | null;
  mailEnabled: boolean | null;
  mailNickname: string | null;
  securityEnabled: boolean | null;
  groupTypes: string[] | null;
}

/** The device properties the product stores (devices are synced only with SYNC_DEVICES). */
export interface DeviceProperties {
  deviceId: string | null;
  displayName: string | null;
  operatingSystem: string | null;
  operatingSystemVersion: string | null;
  accountEnabled: boolean | null;
  trustType: string | null;
  approximateLastSignInDateTime: string | null;
}

export const devicePropertyNames = [
  "deviceId",
  "displayName",
  "operatingSystem",
  "operatingSystemVersion",
  "accountEnabled",
  "trustType",
  "approximateLastSignInDateTime",
] as const satisfies readonly (keyof DeviceProperties)[];

export const userPropertyNames = [
  "displayName",
  "givenName",
  "surname",
  "userPrincipalName",
  "mail",
  "accountEnabled",
  "userType",
  "jobTitle",
  "department",
  "employeeId",
] as const satisfies readonly (keyof UserProperties)[];

export const groupPropertyNames = [
  "displayName",
  "description",
  "mail",
  "mailEnabled",
  "mailNickname",
  "securityEnabled",
  "groupTypes",
] as const satisfies readonly (keyof GroupProperties)[];

/** Why Graph reported an object removed: "changed" is a restorable soft delete, "deleted" is for good. */
export type RemovalReason = "changed" | "deleted";

/** One object as a delta page reports it. */
export type ObjectChange<P> =
  | { kind: "upsert"; id: string; properties: Partial<P> }
  | { kind: "removed"; id: string; reason: RemovalReason };

/** A change to one direct membership, from a group's members@delta. */
export interface MembershipChange {
  groupId: string;
  memberId: string;
  memberType: MemberType;
  removed: boolean;
}

/** What one delta page of the groups stream says. */
export interface GroupPageChanges {
  groups: ObjectChange<GroupProperties>[];
  memberships: MembershipChange[];
}

/** The two delta streams the engine reads. */
export type StreamName = "users" | "groups" | "devices";

/** A coarse classification of a group for scope rules and for consumers. */
export type GroupKind = "security" | "microsoft365" | "distribution" | "mailEnabledSecurity";

export function groupKindOf(group: Pick<GroupProperties, "groupTypes" | "mailEnabled" | "securityEnabled">): GroupKind {
  if (group.groupTypes?.includes("Unified")) return "microsoft365";
  if (group.mailEnabled && group.securityEnabled) return "mailEnabledSecurity";
  if (group.mailEnabled) return "distribution";
  return "security";
}
