// The scope and filters in force for one tenant, with scope groups resolved to the names the tables hold, for the console and GET /api/scope.
import type { Settings } from "../config/settings";
import { globToRegExp } from "../policy/scopePolicy";
import type { DirectoryStore } from "../store/directoryStore";

export interface ResolvedGroup {
  id: string;
  /** The synced group's display name; null when no synced group has this id (a mistake the connection check reports too). */
  displayName: string | null;
  deleted: boolean;
}

export interface ResolvedPattern {
  pattern: string;
  /** Synced groups whose display name matches, first maxPatternMatches of them. */
  matches: ResolvedGroup[];
  matchCount: number;
}

export interface ScopeView {
  tenantId: string;
  /** True when scope groups or name patterns limit which users are synced; false syncs every user the filters let through. */
  limitedByGroups: boolean;
  scopeGroups: ResolvedGroup[];
  scopeGroupNamePatterns: ResolvedPattern[];
  excludeGroups: ResolvedGroup[];
  excludeGroupNamePatterns: ResolvedPattern[];
  groupKinds: string[];
  syncGuests: boolean;
  syncDisabledUsers: "keep" | "exclude";
  userExcludePatterns: string[];
  syncDevices: boolean;
  deletionThreshold: { count: number; percent: number };
  deletedRetentionDays: number;
  roleMapping: Array<{ group: ResolvedGroup; roles: string[] }>;
  /** Where each value comes from, so the admin knows what to change. */
  settingNames: Record<string, string>;
}

/** A pattern that matches many groups lists the first ones; the count says how many more. */
const maxPatternMatches = 20;

export async function readScopeView(settings: Settings, store: DirectoryStore): Promise<ScopeView> {
  const scope = settings.scope;
  const ids = [...scope.includeGroups, ...scope.excludeGroups, ...settings.roleMapping.keys()];
  const [stored, named] = await Promise.all([store.readObjects("groups", ids), scope.includeGroupPatterns.length + scope.excludeGroupPatterns.length > 0 ? listGroupNames(store) : Promise.resolve([])]);
  const resolve = (id: string): ResolvedGroup => {
    const group = stored.get(id);
    return { id, displayName: typeof group?.properties.displayName === "string" ? group.properties.displayName : null, deleted: group?.deleted ?? false };
  };
  const matchPattern = (pattern: string): ResolvedPattern => {
    const regex = globToRegExp(pattern);
    const matches = named.filter((group) => group.displayName !== null && regex.test(group.displayName));
    return { pattern, matches: matches.slice(0, maxPatternMatches), matchCount: matches.length };
  };
  return {
    tenantId: settings.tenantId,
    limitedByGroups: scope.includeGroups.length + scope.includeGroupPatterns.length > 0,
    scopeGroups: scope.includeGroups.map(resolve),
    scopeGroupNamePatterns: scope.includeGroupPatterns.map(matchPattern),
    excludeGroups: scope.excludeGroups.map(resolve),
    excludeGroupNamePatterns: scope.excludeGroupPatterns.map(matchPattern),
    groupKinds: [...scope.groupKinds],
    syncGuests: scope.includeGuests,
    syncDisabledUsers: scope.disabledUsers,
    userExcludePatterns: [...scope.excludeUserPatterns],
    syncDevices: settings.syncDevices,
    deletionThreshold: { ...settings.deletionThreshold },
    deletedRetentionDays: settings.deletedRetentionDays,
    roleMapping: [...settings.roleMapping].map(([groupId, roles]) => ({ group: resolve(groupId), roles })),
    settingNames: {
      scopeGroups: "SCOPE_GROUPS",
      scopeGroupNamePatterns: "SCOPE_GROUP_NAME_PATTERNS",
      excludeGroups: "SCOPE_EXCLUDE_GROUPS",
      excludeGroupNamePatterns: "SCOPE_EXCLUDE_GROUP_NAME_PATTERNS",
      groupKinds: "SYNC_GROUP_KINDS",
      syncGuests: "SYNC_GUESTS",
      syncDisabledUsers: "SYNC_DISABLED_USERS",
      userExcludePatterns: "USER_EXCLUDE_PATTERNS",
      syncDevices: "SYNC_DEVICES",
      deletionThreshold: "DELETION_THRESHOLD_COUNT, DELETION_THRESHOLD_PERCENT",
      deletedRetentionDays: "DELETED_RETENTION_DAYS",
      roleMapping: "ROLE_MAPPING",
    },
  };
}

async function listGroupNames(store: DirectoryStore): Promise<ResolvedGroup[]> {
  const groups: ResolvedGroup[] = [];
  for await (const group of store.listObjects("groups", undefined, ["RowKey", "displayName", "deleted"])) {
    if (group.deleted) continue;
    groups.push({ id: group.id, displayName: typeof group.properties.displayName === "string" ? group.properties.displayName : null, deleted: false });
  }
  return groups.sort((a, b) => (a.displayName ?? "").localeCompare(b.displayName ?? ""));
}
