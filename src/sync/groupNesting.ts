// The groups above each group (nesting, cycles tolerated) and what a member's lists should be: shared by the closure and a user's first write.
import type { DirectoryStore } from "../store/directoryStore";
import { emptyMemberGroups, type MemberGroups } from "../store/memberGroups";

export class GroupNesting {
  private readonly parentsOf = new Map<string, string[]>();
  private readonly childrenOf = new Map<string, string[]>();
  private readonly ancestorCache = new Map<string, string[]>();

  /** `activeGroups`: groups that exist and are not soft-deleted; a group the store never saw passes on no membership. */
  constructor(
    edges: Iterable<{ childId: string; parentId: string }>,
    private readonly activeGroups: ReadonlySet<string>,
  ) {
    for (const { childId, parentId } of edges) {
      push(this.parentsOf, childId, parentId);
      push(this.childrenOf, parentId, childId);
    }
  }

  /** The nesting edges and active groups as stored now. */
  static async load(store: DirectoryStore): Promise<GroupNesting> {
    const [edges, activeGroups] = await Promise.all([store.listNesting(), store.listObjectIds("groups", "deleted eq false")]);
    return new GroupNesting(edges, activeGroups);
  }

  isActive(groupId: string): boolean {
    return this.activeGroups.has(groupId);
  }

  parents(groupId: string): readonly string[] {
    return this.parentsOf.get(groupId) ?? [];
  }

  children(groupId: string): readonly string[] {
    return this.childrenOf.get(groupId) ?? [];
  }

  /** Groups a member of `groupId` inherits: every active group above it, not counting itself. */
  ancestors(groupId: string): string[] {
    const cached = this.ancestorCache.get(groupId);
    if (cached) return cached;
    const seen = new Set<string>([groupId]);
    const queue = [groupId];
    const found: string[] = [];
    while (queue.length > 0) {
      const current = queue.pop()!;
      for (const parent of this.parentsOf.get(current) ?? []) {
        if (seen.has(parent) || !this.activeGroups.has(parent)) continue;
        seen.add(parent);
        found.push(parent);
        queue.push(parent);
      }
    }
    this.ancestorCache.set(groupId, found);
    return found;
  }

  /** A member's lists: direct memberships split by whether they count, and (for users and groups) every active group reached. */
  desiredLists(member: { memberId: string; active: boolean; transitive: boolean }, directGroupIds: Iterable<string>): MemberGroups {
    const lists = emptyMemberGroups();
    for (const groupId of new Set(directGroupIds)) (member.active && this.activeGroups.has(groupId) ? lists.directGroups : lists.inactiveDirectGroups).push(groupId);
    lists.directGroups.sort();
    lists.inactiveDirectGroups.sort();
    if (!member.transitive) return lists;
    const reached = new Set(lists.directGroups);
    for (const groupId of lists.directGroups) for (const ancestor of this.ancestors(groupId)) reached.add(ancestor);
    // A group in a cycle reaches itself; membership of oneself is meaningless.
    reached.delete(member.memberId);
    lists.groups = [...reached].sort();
    return lists;
  }
}

/** Inherited memberships: the groups a member reaches only through nesting. */
export function inheritedGroups(lists: MemberGroups): Set<string> {
  const direct = new Set(lists.directGroups);
  return new Set(lists.groups.filter((groupId) => !direct.has(groupId)));
}

/** A user's effective roles: those of every group it is an active member of, directly or through nesting, as sorted JSON. */
export function rolesOf(groups: readonly string[], roleMapping: ReadonlyMap<string, string[]>): string {
  const roles = new Set<string>();
  for (const groupId of groups) for (const role of roleMapping.get(groupId) ?? []) roles.add(role);
  return JSON.stringify([...roles].sort());
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
