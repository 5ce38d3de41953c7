// Which Microsoft Graph application permissions the enabled features need, what a token grants, and what is broader than needed.

/** Least-privilege application permissions (Graph permissions reference; user-delta, group-delta, device-delta). */
export const usersPermission = "User.Read.All";
export const groupMembersPermission = "GroupMember.Read.All";
export const devicesPermission = "Device.Read.All";

/** App role ids of those permissions in Microsoft Graph's service principal, the same in every tenant. */
export const graphAppRoleIds: Record<string, string> = {
  [usersPermission]: "df021288-bdef-4463-88db-98f22de89214",
  [groupMembersPermission]: "98830695-27a2-44f7-8c18-0c3ebc9698f6",
  [devicesPermission]: "7438b122-aefc-4978-80ed-43db9fcc7715",
  "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
};

/** Microsoft Graph's application id, the same in every tenant and cloud. */
export const microsoftGraphAppId = "00000003-0000-0000-c000-000000000000";

/** Roles that let an app subscribe to change notifications (subscription-post-subscriptions): groups need Group.Read.All, GroupMember.Read.All is not listed. */
export const subscriptionRoles = {
  users: ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  groups: ["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
} as const;
export const groupSubscriptionPermission = "Group.Read.All";

export interface FeatureSelection {
  /** Devices are read only when the device sync is enabled; there is no setting for it yet. */
  devices?: boolean;
}

export function requiredGraphPermissions(features: FeatureSelection = {}): string[] {
  return [usersPermission, groupMembersPermission, ...(features.devices ? [devicesPermission] : [])];
}

/** Granted roles that also cover a needed one; anything here but the needed role itself grants more than the sync uses. */
const coveringRoles: Record<string, readonly string[]> = {
  [usersPermission]: ["User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  [groupMembersPermission]: ["GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  [devicesPermission]: ["Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
};

export interface PermissionComparison {
  /** Needed and not granted in any form: the sync fails with 403. */
  missing: string[];
  /** Needed, not granted as such, but covered by a broader granted role (the sync works; least privilege does not hold). */
  coveredByBroader: Array<{ needed: string; by: string[] }>;
  /** Granted and not needed by the enabled features. */
  unneeded: string[];
}

export function comparePermissions(granted: readonly string[], required: readonly string[]): PermissionComparison {
  const grantedSet = new Set(granted);
  const missing: string[] = [];
  const coveredByBroader: PermissionComparison["coveredByBroader"] = [];
  for (const needed of required) {
    if (grantedSet.has(needed)) continue;
    const by = (coveringRoles[needed] ?? []).filter((role) => grantedSet.has(role));
    if (by.length > 0) coveredByBroader.push({ needed, by });
    else missing.push(needed);
  }
  const unneeded = granted.filter((role) => !required.includes(role));
  return { missing, coveredByBroader, unneeded };
}

/** The claims of a JWT access token, read without verifying it: the check only reports what the token says. */
export function decodeTokenClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (!payload) return {};
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function rolesOf(claims: Record<string, unknown>): string[] {
  const roles = claims["roles"];
  return Array.isArray(roles) ? roles.filter((role): role is string => typeof role === "string") : [];
}
