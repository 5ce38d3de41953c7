// A new user's groups and roles for its first write, once the run has read its groups stream: the closure after it then has nothing to rewrite.
import type { DirectoryStore } from "../store/directoryStore";
import { encodeMemberGroups, type MemberGroupsColumns } from "../store/memberGroups";
import type { SyncStateStore } from "../store/syncStateStore";
import { GroupNesting, inheritedGroups, rolesOf } from "./groupNesting";
import type { MembershipCollector } from "./membershipCollector";
import type { SyncRunSummary } from "./syncRun";

interface ListsContext {
  store: DirectoryStore;
  roleMapping: ReadonlyMap<string, string[]>;
  /** The counters the closure would have added to had it written the lists. */
  summary: Pick<SyncRunSummary, "transitive" | "roles">;
}

/** Where a new user's direct memberships are known from: a first sync's every membership, or the ones this run added. */
type DirectSource = { kind: "collected"; collected: MembershipCollector } | { kind: "added"; added: ReadonlyMap<string, ReadonlySet<string>>; withEarlierMemberships: Set<string> };

export class InitialUserLists {
  private constructor(
    private readonly nesting: GroupNesting,
    private readonly source: DirectSource,
    private readonly context: ListsContext,
  ) {}

  /** After a first sync's groups stream, read from its first page into an empty store: `collected` holds every direct membership. */
  static async afterFirstLoad(context: ListsContext & { collected: MembershipCollector }): Promise<InitialUserLists> {
    return new InitialUserLists(await GroupNesting.load(context.store), { kind: "collected", collected: context.collected }, context);
  }

  /** After an incremental groups stream: a new user's direct memberships are the ones this run (or its paused part) added. */
  static async afterIncrementalGroups(context: ListsContext & { state: SyncStateStore }): Promise<InitialUserLists> {
    const [nesting, work] = await Promise.all([GroupNesting.load(context.store), context.state.readClosureWork()]);
    return new InitialUserLists(nesting, { kind: "added", added: work.addedEdges ?? new Map(), withEarlierMemberships: new Set() }, context);
  }

  /** Before a page's new users are planned: those that were members before they had a row keep that to the closure, which moves their lists. */
  async prepare(newUserIds: readonly string[]): Promise<void> {
    const source = this.source;
    if (source.kind !== "added") return;
    const candidates = newUserIds.filter((id) => source.added.has(id));
    if (candidates.length === 0) return;
    for (const id of (await this.context.store.readMemberGroupsRows(candidates)).keys()) source.withEarlierMemberships.add(id);
  }

  /** The lists (and roles, with a role mapping) of a user written active for the first time; undefined when the closure is to write them. */
  forNewUser(userId: string): { memberGroups: MemberGroupsColumns; roles: string | undefined } | undefined {
    const direct = this.directGroups(userId);
    if (!direct) return undefined;
    const lists = this.nesting.desiredLists({ memberId: userId, active: true, transitive: true }, direct);
    const encoded = encodeMemberGroups(lists, []);
    if (encoded.overflowRows.length > 0) return undefined;
    const { summary, roleMapping } = this.context;
    summary.transitive.added += inheritedGroups(lists).size;
    const roles = roleMapping.size > 0 ? rolesOf(lists.groups, roleMapping) : undefined;
    if (roles !== undefined && roles !== "[]") summary.roles.changed++;
    return { memberGroups: encoded.columns, roles };
  }

  private directGroups(userId: string): Iterable<string> | undefined {
    const source = this.source;
    if (source.kind === "collected") {
      const entry = source.collected.byMember.get(userId);
      return entry && entry.memberType !== "user" ? undefined : (entry?.groups ?? []);
    }
    // Only a user whose every direct membership this run added: nothing of an earlier one is to move, and none is to deactivate.
    const added = source.added.get(userId);
    return added && !source.withEarlierMemberships.has(userId) ? added : undefined;
  }
}
