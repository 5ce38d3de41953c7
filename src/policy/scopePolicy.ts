// Decides which users and groups are synced: group scope, group kinds and user filters, each decision with its reason.
import { createHash } from "node:crypto";
import { type GroupKind } from "../directory/directoryObjects";
import { groupDerived } from "../store/directoryEntities";

export const groupKinds: readonly GroupKind[] = ["security", "microsoft365", "distribution", "mailEnabledSecurity"];

export interface ScopeSettings {
  /** Users must be active members (directly or through nesting) of one of these groups; empty with no patterns: every user. */
  includeGroups: string[];
  /** Display-name globs; matching synced groups count as scope groups. */
  includeGroupPatterns: string[];
  /** Members (directly or through nesting) of these groups are left out, whatever else includes them. */
  excludeGroups: string[];
  excludeGroupPatterns: string[];
  /** Group kinds that are stored; other groups pass on no membership. */
  groupKinds: GroupKind[];
  includeGuests: boolean;
  /** "keep": disabled accounts are synced with accountEnabled false; "exclude": left out. */
  disabledUsers: "keep" | "exclude";
  /** Globs matched, ignoring case, against each user's mail and user principal name. */
  excludeUserPatterns: string[];
}

export const defaultScope: ScopeSettings = {
  includeGroups: [],
  includeGroupPatterns: [],
  excludeGroups: [],
  excludeGroupPatterns: [],
  groupKinds: [...groupKinds],
  includeGuests: true,
  disabledUsers: "keep",
  excludeUserPatterns: [],
};

/** A glob (`*` any run of characters, `?` one) as a whole-string, case-insensitive regular expression. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

export class ScopePolicy {
  private readonly userPatterns: Array<{ glob: string; regex: RegExp }>;
  private readonly includePatterns: RegExp[];
  private readonly excludePatterns: RegExp[];
  readonly includeGroups: ReadonlySet<string>;
  readonly excludeGroups: ReadonlySet<string>;

  constructor(readonly settings: ScopeSettings = defaultScope) {
    this.userPatterns = settings.excludeUserPatterns.map((glob) => ({ glob, regex: globToRegExp(glob) }));
    this.includePatterns = settings.includeGroupPatterns.map(globToRegExp);
    this.excludePatterns = settings.excludeGroupPatterns.map(globToRegExp);
    this.includeGroups = new Set(settings.includeGroups.map((id) => id.toLowerCase()));
    this.excludeGroups = new Set(settings.excludeGroups.map((id) => id.toLowerCase()));
  }

  /** Whether membership decides who is synced; without it every user passing the filters is. */
  get usesGroups(): boolean {
    const s = this.settings;
    return s.includeGroups.length + s.includeGroupPatterns.length + s.excludeGroups.length + s.excludeGroupPatterns.length > 0;
  }

  get requiresInclusion(): boolean {
    return this.settings.includeGroups.length + this.settings.includeGroupPatterns.length > 0;
  }

  /** Why a user's own properties leave it out, or undefined when they do not. */
  userFilterReason(properties: Record<string, unknown>): string | undefined {
    if (!this.settings.includeGuests && properties.userType === "Guest") return "guest (SYNC_GUESTS is false)";
    if (this.settings.disabledUsers === "exclude" && properties.accountEnabled === false) return "disabled account (SYNC_DISABLED_USERS is exclude)";
    for (const field of ["userPrincipalName", "mail"] as const) {
      const value = properties[field];
      if (typeof value !== "string") continue;
      const match = this.userPatterns.find((pattern) => pattern.regex.test(value));
      if (match) return `${field} matches ${match.glob} (USER_EXCLUDE_PATTERNS)`;
    }
    return undefined;
  }

  /** Whether a reason recorded by userFilterReason still holds under these settings, so a user it left out need not be read again. */
  filterReasonStillApplies(reason: string): boolean {
    if (reason.startsWith("guest")) return !this.settings.includeGuests;
    if (reason.startsWith("disabled")) return this.settings.disabledUsers === "exclude";
    const pattern = /^(?:userPrincipalName|mail) matches (.+) \(USER_EXCLUDE_PATTERNS\)$/.exec(reason)?.[1];
    return pattern !== undefined && this.settings.excludeUserPatterns.includes(pattern);
  }

  /** Whether a group left out for its kind (reason "kind K is not in SYNC_GROUP_KINDS") is of a synced kind now. */
  kindNowSynced(reason: string): boolean {
    const kind = /^kind (\w+) /.exec(reason)?.[1];
    return kind !== undefined && (this.settings.groupKinds as string[]).includes(kind);
  }

  /** Whether a group, by its stored (flattened) properties, is of a kind that is synced. */
  groupKindSynced(flat: Record<string, string | boolean | null>): boolean {
    return this.settings.groupKinds.includes(groupDerived(flat).kind as GroupKind);
  }

  /** Scope groups by id and by display-name pattern, among the stored groups (id → display name). */
  scopeGroups(groups: Map<string, string | undefined>): { include: Set<string>; exclude: Set<string> } {
    const include = new Set(this.includeGroups);
    const exclude = new Set(this.excludeGroups);
    if (this.includePatterns.length + this.excludePatterns.length > 0) {
      for (const [id, name] of groups) {
        if (typeof name !== "string") continue;
        if (this.includePatterns.some((pattern) => pattern.test(name))) include.add(id);
        if (this.excludePatterns.some((pattern) => pattern.test(name))) exclude.add(id);
      }
    }
    return { include, exclude };
  }

  /** What a group's display name makes it for the scope: a scope group, an exclusion group, both, or neither (by pattern; ids do not change). */
  groupNameRole(name: unknown): string {
    if (typeof name !== "string") return "none";
    const include = this.includePatterns.some((pattern) => pattern.test(name));
    const exclude = this.excludePatterns.some((pattern) => pattern.test(name));
    return include && exclude ? "both" : include ? "include" : exclude ? "exclude" : "none";
  }

  /** Changes to any of these settings are applied on the next run by re-deciding every user. */
  hash(): string {
    const s = this.settings;
    const canonical = { ...s, includeGroups: [...this.includeGroups].sort(), excludeGroups: [...this.excludeGroups].sort(), groupKinds: [...s.groupKinds].sort() };
    return createHash("sha256").update(JSON.stringify(canonical)).digest("base64url");
  }

  /** Whether a change from `previous` could bring back users the filters had left out. */
  static filtersWidened(previous: ScopeSettings | undefined, current: ScopeSettings): boolean {
    if (!previous) return false;
    const lostPattern = previous.excludeUserPatterns.some((pattern) => !current.excludeUserPatterns.includes(pattern));
    return lostPattern || (!previous.includeGuests && current.includeGuests) || (previous.disabledUsers === "exclude" && current.disabledUsers === "keep");
  }
}
