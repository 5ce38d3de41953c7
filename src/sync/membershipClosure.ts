// Recomputes each member's groups (direct, and inherited through nesting, cycles tolerated) on its own row, and the Members rows' active flags.
import type { MemberType } from "../directory/directoryObjects";
import type { StoredObject } from "../store/directoryEntities";
import type { DirectoryStore, MemberGroupsRow } from "../store/directoryStore";
import { encodeMemberGroups, memberGroupsColumns, sameMemberGroups, type MemberGroups } from "../store/memberGroups";
import type { ClosureWork } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { EntityProperties, TableOperation } from "../store/tableWriter";
import { forEachConcurrently } from "../common/concurrency";
import type { SyncRunSummary } from "./syncRun";
import type { MembershipCollector } from "./membershipCollector";
import type { ScopePolicy } from "../policy/scopePolicy";
import type { Exclusion } from "../store/syncStateStore";
import { GroupNesting, inheritedGroups, rolesOf } from "./groupNesting";

/** Writes are flushed in chunks while a full rebuild streams, so memory stays flat on large tenants (20,000 peaked at 384 MB RSS at 100,000 users). */
const flushEvery = 5_000;
/** A full rebuild of a large tenant takes minutes; it reports every so many members. */
const progressEvery = 10_000;

/** What a stored user is to the scope: in it, soft-deleted in Entra, or marked deleted because it left the scope. */
export type StoredUserState = "active" | "deleted" | "outOfScope";

export function storedUserState(user: StoredObject): StoredUserState {
  return user.outOfScope ? "outOfScope" : user.deleted ? "deleted" : "active";
}

/** What the closure needs to decide each user's place in the scope. */
export interface ClosureScopeInputs {
  policy: ScopePolicy;
  include: Set<string>;
  exclude: Set<string>;
  groupNames: Map<string, string | undefined>;
  /** Users held back for leaving the scope in an earlier run; one found back in scope is released. */
  isScopeHeld(userId: string): boolean;
  /** The user filters were widened since the last run: users they left out are read again. */
  filtersWidened: boolean;
  listUsers(): AsyncIterable<{ id: string; state: StoredUserState }>;
  listExclusions(): AsyncIterable<Exclusion>;
  readExclusions(ids: string[]): Promise<Map<string, Exclusion>>;
}

/** The closure's scope decisions, for the engine to apply: users to read by id and admit, users leaving, exclusions to record, holds to release. */
export interface ScopeDecisions {
  admit: Set<string>;
  exits: Array<{ id: string; why: string }>;
  exclusions: Exclusion[];
  released: string[];
}

/** A direct membership added or removed since the member's stored lists were last written. */
export interface DirectMembershipChange {
  memberId: string;
  groupId: string;
  memberType: MemberType;
  removed: boolean;
}

export interface RunClosureOptions {
  store: DirectoryStore;
  /** The run record whose membership, inheritance, role and scope counters the closure adds to. */
  summary: Pick<SyncRunSummary, "memberships" | "transitive" | "roles" | "scope">;
  /** Group id → role names (ROLE_MAPPING). */
  roleMapping?: Map<string, string[]>;
  /** Keep users' roles up to date: a mapping is set, or one was just removed. Defaults to whether a mapping is set. */
  manageRoles?: boolean;
  onProgress?: (message: string) => void;
  /** With scope groups: who counts as in scope. */
  scope?: ClosureScopeInputs;
  /** After a full read of groups, whose pages noted no membership event: the direct memberships that changed, handed over before the writes that settle them. */
  onDirectChanges?: (changes: DirectMembershipChange[]) => Promise<void>;
  /** Users left for a later pass (their deletion is pending): not recomputed, even when a group above them changed. */
  deferUsers?: ReadonlySet<string>;
}

/** What a full rebuild reads before it streams the users table; each member's entries are dropped once it is decided. */
interface RebuildInputs {
  userStates: Map<string, StoredUserState>;
  exclusions: Map<string, Exclusion>;
  directByMember: Map<string, { memberType: MemberType; groups: string[]; inactive?: Set<string> }>;
  /** The direct memberships come from this process's full read, so every Members row is active. */
  fromCollector: boolean;
  /** Stored groups with their lists, and entraMemberGroups rows, not yet recomputed: what is left at the end names no direct membership any more. */
  groupRows: Map<string, StoredObject>;
  memberGroupsRows: Map<string, MemberGroupsRow>;
}

interface DirectEdge {
  groupId: string;
  /** The Members row's current active flag, when known (the rebuild streamed the Members table, or this run wrote the row). */
  memberRowActive: boolean | undefined;
}

/** Where a member's groups are kept: its own user or group row, or an entraMemberGroups row for a member with neither. */
type Home = "users" | "groups" | "memberGroups";

/** What is stored about one member before it is recomputed. */
interface StoredMember {
  memberId: string;
  memberType: MemberType;
  home: Home;
  /** A user with a row not marked deleted, an active group, or any other member type: its direct memberships count. */
  active: boolean;
  /** The lists its home holds now. */
  before: MemberGroups;
  overflowRowKeys: string[];
  /** An entraMemberGroups row left from before the member had a row of its own, to delete. */
  strayMemberGroupsRow: boolean;
  /** The home row exists (a member with no row of its own may have no entraMemberGroups row yet). */
  rowExists: boolean;
  user: StoredObject | undefined;
}

export class MembershipClosure {
  private nesting = new GroupNesting([], new Set());
  private readonly ops: Record<Home | "members" | "memberGroupsOverflow", TableOperation[]> = { users: [], groups: [], memberGroups: [], members: [], memberGroupsOverflow: [] };
  private directChanges: DirectMembershipChange[] = [];
  /** The batch being written; at most one is in flight while the next is computed. */
  private writing: Promise<void> = Promise.resolve();

  private readonly store: DirectoryStore;
  private readonly summary: RunClosureOptions["summary"];
  private readonly roleMapping: Map<string, string[]>;
  private readonly manageRoles: boolean;
  private readonly onProgress: ((message: string) => void) | undefined;
  private readonly scope: ClosureScopeInputs | undefined;
  private readonly onDirectChanges: RunClosureOptions["onDirectChanges"];
  private readonly deferUsers: ReadonlySet<string>;
  private readonly decisions: ScopeDecisions = { admit: new Set(), exits: [], exclusions: [], released: [] };

  constructor(options: RunClosureOptions) {
    this.store = options.store;
    this.summary = options.summary;
    this.roleMapping = options.roleMapping ?? new Map();
    this.manageRoles = options.manageRoles ?? this.roleMapping.size > 0;
    this.onProgress = options.onProgress;
    this.scope = options.scope;
    this.onDirectChanges = options.onDirectChanges;
    this.deferUsers = options.deferUsers ?? new Set();
  }

  /** Decides one user's place in the scope from the groups it reaches; decisions are collected for the engine. */
  private decideScope(userId: string, direct: readonly string[], known: { state: StoredUserState | undefined; exclusion: Exclusion | undefined }): void {
    const { state, exclusion } = known;
    const scope = this.scope;
    if (!scope) return;
    const reach = new Set<string>();
    for (const groupId of direct) {
      if (!this.nesting.isActive(groupId)) continue;
      reach.add(groupId);
      for (const ancestor of this.nesting.ancestors(groupId)) reach.add(ancestor);
    }
    let why: string | undefined;
    const excludedBy = [...reach].find((groupId) => scope.exclude.has(groupId));
    if (excludedBy) why = `member of excluded group ${scope.groupNames.get(excludedBy) ?? excludedBy}`;
    else if (scope.policy.requiresInclusion && ![...reach].some((groupId) => scope.include.has(groupId))) why = "not a member of any scope group";
    const decisions = this.decisions;
    if (why) {
      if (state === "active") decisions.exits.push({ id: userId, why });
      else if (state !== "deleted" && exclusion?.code !== "filter" && !(exclusion?.code === "groups" && exclusion.reason === why)) {
        if (exclusion?.code !== "groups") this.summary.scope.excluded++;
        decisions.exclusions.push({ id: userId, objectType: "user", code: "groups", reason: why });
      }
      return;
    }
    if (state === "active") {
      // A user the filters hold out stays out whatever its groups.
      if (scope.isScopeHeld(userId) && exclusion?.code !== "filter") decisions.released.push(userId);
    } else if (state !== "deleted" && (exclusion?.code !== "filter" || (scope.filtersWidened && !scope.policy.filterReasonStillApplies(exclusion.reason)))) {
      decisions.admit.add(userId);
    }
  }

  /** `collected`: every direct membership, when the full read that wrote them all ran in this process. */
  async run(work: ClosureWork, collected?: MembershipCollector): Promise<ScopeDecisions> {
    this.nesting = await GroupNesting.load(this.store);
    if (work.all) await this.rebuildAll(collected);
    else await this.recompute(work);
    await this.flush();
    await this.writing;
    return this.decisions;
  }

  /** The member's lists as they should be; only users and groups keep their transitive groups: they are what a consumer asks for. */
  private desiredGroups(member: StoredMember, direct: readonly DirectEdge[]): MemberGroups {
    return this.nesting.desiredLists({ memberId: member.memberId, active: member.active, transitive: member.home !== "memberGroups" }, direct.map((edge) => edge.groupId));
  }

  /** One member: its lists, roles and Members flags against what is stored, queued as the writes that really change something. */
  private reconcile(member: StoredMember, direct: readonly DirectEdge[]): void {
    const desired = this.desiredGroups(member, direct);
    this.noteDirectChanges(member, desired);
    this.reconcileMemberFlags(member, direct, desired);
    this.countInherited(member, desired);
    const listsChanged = !sameMemberGroups(member.before, desired);
    if (member.strayMemberGroupsRow) this.ops.memberGroups.push({ kind: "delete", ...tableKeys.memberGroups(this.store.tenantId, member.memberId) });
    if (member.home === "memberGroups") return this.writeMemberGroupsRow(member, desired);
    const roles = member.home === "users" && this.manageRoles ? rolesOf(desired.groups, this.roleMapping) : undefined;
    const rolesChanged = roles !== undefined && roles !== (member.user?.roles ?? "[]");
    if (rolesChanged) this.summary.roles.changed++;
    if (!listsChanged && !rolesChanged) return;
    const encoded = listsChanged ? this.encode(member, desired) : undefined;
    const keys = member.home === "users" ? tableKeys.user(this.store.tenantId, member.memberId) : tableKeys.group(this.store.tenantId, member.memberId);
    this.ops[member.home].push({ kind: "upsert", mode: "Merge", ...keys, properties: { ...encoded, ...(rolesChanged ? { roles } : {}) } });
  }

  /** A member with no row of its own keeps its direct memberships in entraMemberGroups while it has any. */
  private writeMemberGroupsRow(member: StoredMember, desired: MemberGroups): void {
    const keys = tableKeys.memberGroups(this.store.tenantId, member.memberId);
    if (desired.directGroups.length + desired.inactiveDirectGroups.length === 0) {
      if (member.rowExists) this.ops.memberGroups.push({ kind: "delete", ...keys });
      this.ops.memberGroupsOverflow.push(...member.overflowRowKeys.map((rowKey): TableOperation => ({ kind: "delete", ...tableKeys.memberGroupsOverflow(this.store.tenantId, member.memberId, rowKey) })));
      return;
    }
    if (!sameMemberGroups(member.before, desired) || !member.rowExists) this.ops.memberGroups.push({ kind: "upsert", mode: "Replace", ...keys, properties: { memberType: member.memberType, ...this.encode(member, desired) } });
  }

  /** The lists' columns; overflow rows, when a list outgrows its property, are queued to go out before the row. */
  private encode(member: StoredMember, desired: MemberGroups): EntityProperties {
    const encoded = encodeMemberGroups(desired, member.overflowRowKeys);
    const key = (rowKey: string) => tableKeys.memberGroupsOverflow(this.store.tenantId, member.memberId, rowKey);
    this.ops.memberGroupsOverflow.push(
      ...encoded.overflowRows.map((row): TableOperation => ({ kind: "upsert", mode: "Replace", ...key(row.rowKey), properties: { ids: row.ids } })),
      ...encoded.staleOverflowRowKeys.map((rowKey): TableOperation => ({ kind: "delete", ...key(rowKey) })),
    );
    return encoded.columns;
  }

  /** A Members row is active while its membership counts; only flags that really change are written. */
  private reconcileMemberFlags(member: StoredMember, direct: readonly DirectEdge[], desired: MemberGroups): void {
    const wasActive = new Set(member.before.directGroups);
    const wasInactive = new Set(member.before.inactiveDirectGroups);
    const wanted = new Set(desired.directGroups);
    for (const edge of direct) {
      const want = wanted.has(edge.groupId);
      const current = edge.memberRowActive ?? (wasActive.has(edge.groupId) ? true : !wasInactive.has(edge.groupId));
      if (want === current) continue;
      if (want) this.summary.memberships.activated++;
      else this.summary.memberships.deactivated++;
      this.ops.members.push({ kind: "upsert", mode: "Merge", ...tableKeys.member(this.store.tenantId, edge.groupId, member.memberId), properties: { active: want } });
    }
  }

  /** Direct memberships the stored lists do not have yet, or have and the desired ones not; only when someone listens. */
  private noteDirectChanges(member: StoredMember, desired: MemberGroups): void {
    if (!this.onDirectChanges) return;
    const direct = (lists: MemberGroups) => new Set([...lists.directGroups, ...lists.inactiveDirectGroups]);
    const [before, after] = [direct(member.before), direct(desired)];
    const { memberId, memberType } = member;
    for (const groupId of after) if (!before.has(groupId)) this.directChanges.push({ memberId, groupId, memberType, removed: false });
    for (const groupId of before) if (!after.has(groupId)) this.directChanges.push({ memberId, groupId, memberType, removed: true });
  }

  /** Inherited memberships are the groups a user or group reaches only through nesting. */
  private countInherited(member: StoredMember, desired: MemberGroups): void {
    if (member.home === "memberGroups") return;
    const before = inheritedGroups(member.before);
    const after = inheritedGroups(desired);
    for (const groupId of after) if (!before.has(groupId)) this.summary.transitive.added++;
    for (const groupId of before) if (!after.has(groupId)) this.summary.transitive.removed++;
  }

  /** Incremental: only the members marked dirty, plus everyone below a group whose place in the nesting changed. */
  private async recompute(work: ClosureWork): Promise<void> {
    const members = new Map(work.members);
    const groupsToExpand = new Set<string>();
    const queue = [...work.groups];
    while (queue.length > 0) {
      const groupId = queue.pop()!;
      if (groupsToExpand.has(groupId)) continue;
      groupsToExpand.add(groupId);
      members.set(groupId, "group");
      for (const child of this.nesting.children(groupId)) queue.push(child);
    }
    await forEachConcurrently(groupsToExpand, 8, async (groupId) => {
      for (const row of await this.store.listMembers(groupId)) members.set(row.memberId, row.memberType);
    });
    for (const id of this.deferUsers) members.delete(id);
    const stored = await this.readStoredMembers(members);
    const userIds = [...members].filter(([, type]) => type === "user").map(([id]) => id);
    const exclusions = this.scope ? await this.scope.readExclusions(userIds) : new Map<string, Exclusion>();
    for (const member of stored) {
      const direct = this.incrementalEdges(member, work);
      this.reconcile(member, direct);
      if (member.memberType === "user") this.decideScope(member.memberId, direct.map((edge) => edge.groupId), { state: member.user && storedUserState(member.user), exclusion: exclusions.get(member.memberId) });
      if (this.pendingOperations() >= flushEvery) await this.flush();
    }
  }

  /** A member's direct groups between full reads: what its home lists, less the memberships removed and plus the ones added since; a group's from the nesting table. */
  private incrementalEdges(member: StoredMember, work: ClosureWork): DirectEdge[] {
    const added = work.addedEdges?.get(member.memberId) ?? new Set<string>();
    const removed = work.removedEdges?.get(member.memberId) ?? new Set<string>();
    const known = member.memberType === "group" ? this.nesting.parents(member.memberId) : [...member.before.directGroups, ...member.before.inactiveDirectGroups, ...added];
    // This run wrote the rows of the memberships it added, active.
    return [...new Set(known)].filter((groupId) => !removed.has(groupId) || added.has(groupId)).map((groupId) => ({ groupId, memberRowActive: added.has(groupId) ? true : undefined }));
  }

  /** Reads each member's home: its user or group row, and its entraMemberGroups row where it has no lists of its own yet. */
  private async readStoredMembers(members: Map<string, string>): Promise<StoredMember[]> {
    const ids = (type: string) => [...members].filter(([, memberType]) => memberType === type).map(([id]) => id);
    const [users, groups] = await Promise.all([this.store.readObjects("users", ids("user")), this.store.readObjects("groups", ids("group"))]);
    const withoutLists = [...members.keys()].filter((id) => (users.get(id) ?? groups.get(id))?.memberGroups === undefined);
    const rowless = await this.store.readMemberGroupsRows(withoutLists);
    const stored: StoredMember[] = [];
    await forEachConcurrently(members, 16, async ([memberId, type]) => {
      stored.push(await this.storedMember({ memberId, memberType: type as MemberType, row: users.get(memberId) ?? groups.get(memberId), rowless: rowless.get(memberId) }));
    });
    return stored;
  }

  /** What is stored about a member, from its own row (a user's or group's) and its entraMemberGroups row; lists of both are merged while it moves home. */
  private async storedMember(input: { memberId: string; memberType: MemberType; row: StoredObject | undefined; rowless: MemberGroupsRow | undefined }): Promise<StoredMember> {
    const { memberId, memberType, row, rowless } = input;
    const home: Home = row === undefined ? "memberGroups" : memberType === "user" ? "users" : "groups";
    const own = await this.store.decodeMemberGroups(memberId, home === "memberGroups" ? rowless?.columns : row?.memberGroups);
    const before = own.lists;
    if (home !== "memberGroups" && rowless) {
      // The member's direct memberships from before it had a row (a user entering the scope): they carry over as they were.
      const moved = (await this.store.decodeMemberGroups(memberId, rowless.columns)).lists;
      before.inactiveDirectGroups = [...new Set([...before.inactiveDirectGroups, ...moved.inactiveDirectGroups, ...moved.directGroups])].filter((id) => !before.directGroups.includes(id)).sort();
    }
    const active = memberType === "user" ? row !== undefined && !row.deleted : memberType === "group" ? this.nesting.isActive(memberId) : true;
    return { memberId, memberType, home, active, before, overflowRowKeys: own.overflowRowKeys, strayMemberGroupsRow: home !== "memberGroups" && rowless !== undefined, rowExists: home === "memberGroups" ? rowless !== undefined : true, user: memberType === "user" ? row : undefined };
  }

  /** After a full read: every member recomputed from the Members table, streamed against the users table in id order. */
  private async rebuildAll(collected: MembershipCollector | undefined): Promise<void> {
    const inputs: RebuildInputs = {
      ...(await this.loadScopeStates()),
      directByMember: await this.loadDirectMemberships(collected),
      fromCollector: collected !== undefined,
      groupRows: new Map(),
      memberGroupsRows: new Map(),
    };
    for await (const group of this.store.listObjects("groups", undefined, ["RowKey", "deleted", ...memberGroupsColumns])) inputs.groupRows.set(group.id, group);
    for await (const row of this.store.listAllMemberGroupsRows()) inputs.memberGroupsRows.set(row.memberId, row);
    const memberIds = [...inputs.directByMember.keys()].sort();
    const progress = { finished: 0, total: memberIds.length };
    let index = 0;
    // Members with no user row come before the user they sort ahead of.
    const catchUpTo = async (memberId: string | undefined) => {
      while (index < memberIds.length && (memberId === undefined || memberIds[index]! < memberId)) await this.rebuildMember({ memberId: memberIds[index++]!, user: undefined, inputs, progress });
    };
    for await (const user of this.store.listObjects("users", undefined, ["RowKey", "deleted", "deletedReason", "roles", ...memberGroupsColumns])) {
      await catchUpTo(user.id);
      if (memberIds[index] === user.id) index++;
      await this.rebuildMember({ memberId: user.id, user, inputs, progress });
    }
    await catchUpTo(undefined);
    await this.rebuildLeftovers(inputs);
  }

  /** Groups and entraMemberGroups rows that no direct membership names any more lose their lists; users in no group at all are decided by the scope rules alone. */
  private async rebuildLeftovers(inputs: RebuildInputs): Promise<void> {
    const progress = { finished: 0, total: 0 };
    for (const groupId of [...inputs.groupRows.keys()]) await this.rebuildMember({ memberId: groupId, user: undefined, inputs, progress });
    for (const memberId of [...inputs.memberGroupsRows.keys()]) await this.rebuildMember({ memberId, user: undefined, inputs, progress });
    for (const [userId, state] of inputs.userStates) this.decideScope(userId, [], { state, exclusion: inputs.exclusions.get(userId) });
    for (const [userId, exclusion] of inputs.exclusions) if (!inputs.userStates.has(userId)) this.decideScope(userId, [], { state: undefined, exclusion });
  }

  /** One member of the rebuild: its lists, flags, roles and scope; what is decided leaves the inputs. */
  private async rebuildMember(input: { memberId: string; user: StoredObject | undefined; inputs: RebuildInputs; progress: { finished: number; total: number } }): Promise<void> {
    const { memberId, user, inputs, progress } = input;
    const entry = inputs.directByMember.get(memberId);
    const group = inputs.groupRows.get(memberId);
    const rowless = inputs.memberGroupsRows.get(memberId);
    const memberType: MemberType = user ? "user" : (entry?.memberType ?? (group ? "group" : (rowless?.memberType ?? "other")));
    // Every row a full read wrote is active; a replayed page could repeat a member, so groups are deduplicated.
    const direct: DirectEdge[] = entry ? [...new Set(entry.groups)].map((groupId) => ({ groupId, memberRowActive: inputs.fromCollector ? true : !entry.inactive?.has(groupId) })) : [];
    if (entry && ++progress.finished % progressEvery === 0) this.onProgress?.(`Recomputing memberships: ${progress.finished} of ${progress.total} members`);
    const member = await this.storedMember({ memberId, memberType, row: user ?? (memberType === "group" ? group : undefined), rowless });
    this.reconcile(member, direct);
    if (memberType === "user" && this.scope) {
      this.decideScope(memberId, direct.map((edge) => edge.groupId), { state: inputs.userStates.get(memberId), exclusion: inputs.exclusions.get(memberId) });
      inputs.userStates.delete(memberId);
      inputs.exclusions.delete(memberId);
    }
    inputs.directByMember.delete(memberId);
    inputs.groupRows.delete(memberId);
    inputs.memberGroupsRows.delete(memberId);
    if (this.pendingOperations() >= flushEvery) await this.flush();
  }

  /** With scope groups every known user is decided, members or not: stored users, and users waiting for a verdict. */
  private async loadScopeStates(): Promise<Pick<RebuildInputs, "userStates" | "exclusions">> {
    const userStates = new Map<string, StoredUserState>();
    const exclusions = new Map<string, Exclusion>();
    if (this.scope) {
      for await (const user of this.scope.listUsers()) userStates.set(user.id, user.state);
      for await (const exclusion of this.scope.listExclusions()) if (exclusion.objectType === "user") exclusions.set(exclusion.id, exclusion);
    }
    return { userStates, exclusions };
  }

  /** Direct groups per member as plain id lists (a million edges as objects would double the memory); `inactive` lists the Members rows stored inactive. */
  private async loadDirectMemberships(collected: MembershipCollector | undefined): Promise<RebuildInputs["directByMember"]> {
    if (collected) return collected.byMember;
    const directByMember: RebuildInputs["directByMember"] = new Map();
    const interned = new Map<string, string>();
    for await (const row of this.store.listAllMembers()) {
      const groupId = interned.get(row.groupId) ?? (interned.set(row.groupId, row.groupId), row.groupId);
      let entry = directByMember.get(row.memberId);
      if (!entry) directByMember.set(row.memberId, (entry = { memberType: row.memberType, groups: [] }));
      entry.groups.push(groupId);
      if (!row.active) (entry.inactive ??= new Set()).add(groupId);
    }
    return directByMember;
  }

  private pendingOperations(): number {
    return Object.values(this.ops).reduce((sum, list) => sum + list.length, 0);
  }

  /** Queues what is collected to be written once the batch before it is; returns when that earlier batch is, so the next one is computed while this one is written. */
  private async flush(): Promise<void> {
    const batch = { ...this.ops };
    for (const name of Object.keys(this.ops) as Array<keyof typeof this.ops>) this.ops[name] = [];
    const directChanges = this.directChanges;
    this.directChanges = [];
    const previous = this.writing;
    const writing = previous.then(async () => {
      // Before the rows: a crash in between leaves the rows unwritten, and the rerun finds the same changes again.
      if (directChanges.length > 0) await this.onDirectChanges?.(directChanges);
      // Overflow rows before the rows that point at them, so a reader never follows a count to rows not yet written.
      await this.store.apply("memberGroupsOverflow", batch.memberGroupsOverflow);
      await Promise.all([this.store.apply("members", batch.members), this.store.apply("users", batch.users), this.store.apply("groups", batch.groups), this.store.apply("memberGroups", batch.memberGroups)]);
    });
    // Awaited by the next flush or at the end of the run; this only keeps a failure from counting as unhandled meanwhile.
    writing.catch(() => undefined);
    this.writing = writing;
    await previous;
  }
}
