// Recomputes MemberOf rows: each member's direct groups and the groups it inherits through nesting, cycles tolerated.
import type { MemberType } from "../directory/directoryObjects";
import { memberOfEntity, sameMemberOfRow, type MemberOfRow, type StoredObject } from "../store/directoryEntities";
import type { DirectoryStore } from "../store/directoryStore";
import type { ClosureWork } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { forEachConcurrently } from "../common/concurrency";
import type { SyncRunSummary } from "./syncRun";
import type { MembershipCollector } from "./membershipCollector";
import type { ScopePolicy } from "../policy/scopePolicy";
import type { Exclusion } from "../store/syncStateStore";

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

/** A direct membership added or removed since the MemberOf rows were last written. */
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
  /** After a full read of groups, which wrote no MemberOf row: the direct memberships that changed, handed over before the writes that settle them. */
  onDirectChanges?: (changes: DirectMembershipChange[]) => Promise<void>;
}

/** What a full rebuild reads before it streams the MemberOf table; each member's entries are dropped once it is decided. */
interface RebuildInputs {
  activeUsers: Set<string>;
  userStates: Map<string, StoredUserState>;
  exclusions: Map<string, Exclusion>;
  storedRoles: Map<string, string | undefined>;
  directByMember: Map<string, { memberType: MemberType; groups: string[]; inactive?: Set<string> }>;
  /** The direct memberships come from this process's full read, so every Members row is active. */
  fromCollector: boolean;
}

interface DirectEdge {
  groupId: string;
  /** The Members row's current active flag, known when the rebuild streamed the Members table. */
  memberRowActive: boolean | undefined;
}

export class MembershipClosure {
  private parentsOf = new Map<string, string[]>();
  private childrenOf = new Map<string, string[]>();
  /** Groups that exist and are not soft-deleted; a group the store never saw passes on no membership. */
  private activeGroups = new Set<string>();
  private readonly ancestorCache = new Map<string, string[]>();
  private memberOps: TableOperation[] = [];
  private memberOfOps: TableOperation[] = [];
  private userOps: TableOperation[] = [];
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
  private readonly decisions: ScopeDecisions = { admit: new Set(), exits: [], exclusions: [], released: [] };

  constructor(options: RunClosureOptions) {
    this.store = options.store;
    this.summary = options.summary;
    this.roleMapping = options.roleMapping ?? new Map();
    this.manageRoles = options.manageRoles ?? this.roleMapping.size > 0;
    this.onProgress = options.onProgress;
    this.scope = options.scope;
    this.onDirectChanges = options.onDirectChanges;
  }

  /** Decides one user's place in the scope from the groups it reaches; decisions are collected for the engine. */
  private decideScope(userId: string, direct: DirectEdge[], known: { state: StoredUserState | undefined; exclusion: Exclusion | undefined }): void {
    const { state, exclusion } = known;
    const scope = this.scope;
    if (!scope) return;
    const reach = new Set<string>();
    for (const edge of direct) {
      if (!this.activeGroups.has(edge.groupId)) continue;
      reach.add(edge.groupId);
      for (const ancestor of this.ancestors(edge.groupId)) reach.add(ancestor);
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

  /** A user's effective roles: those of every group it is an active member of, directly or through nesting, as sorted JSON. */
  private rolesOf(rows: Map<string, MemberOfRow>): string {
    const roles = new Set<string>();
    for (const row of rows.values()) if (row.directActive || row.inherited) for (const role of this.roleMapping.get(row.groupId) ?? []) roles.add(role);
    return JSON.stringify([...roles].sort());
  }

  /** Queues a write of the user's roles when they differ from what its row holds; only users the Users table has. */
  private reconcileRoles(userId: string, desired: Map<string, MemberOfRow>, storedRoles: string | undefined): void {
    if (!this.manageRoles) return;
    const roles = this.rolesOf(desired);
    if (roles === (storedRoles ?? "[]")) return;
    this.summary.roles.changed++;
    this.userOps.push({ kind: "upsert", mode: "Merge", ...tableKeys.user(this.store.tenantId, userId), properties: { roles } });
  }

  /** `collected`: every direct membership, when the full read that wrote them all ran in this process. */
  async run(work: ClosureWork, collected?: MembershipCollector): Promise<ScopeDecisions> {
    const [edges, activeGroups] = await Promise.all([this.store.listNesting(), this.store.listObjectIds("groups", "deleted eq false")]);
    this.activeGroups = activeGroups;
    for (const { childId, parentId } of edges) {
      push(this.parentsOf, childId, parentId);
      push(this.childrenOf, parentId, childId);
    }
    if (work.all) await this.rebuildAll(collected);
    else await this.recompute(work);
    await this.flush();
    await this.writing;
    return this.decisions;
  }

  /** Groups a member of `groupId` inherits: every active group above it, not counting itself. */
  private ancestors(groupId: string): string[] {
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

  private desiredRows(member: { memberId: string; memberType: MemberType; inactive: boolean }, direct: DirectEdge[]): Map<string, MemberOfRow> {
    const { memberId, memberType, inactive: memberInactive } = member;
    const rows = new Map<string, MemberOfRow>();
    for (const edge of direct) {
      const directActive = !memberInactive && this.activeGroups.has(edge.groupId);
      rows.set(edge.groupId, { memberId, groupId: edge.groupId, memberType, direct: true, directActive, inherited: false });
    }
    if (memberInactive) return rows;
    for (const edge of direct) {
      if (!this.activeGroups.has(edge.groupId)) continue;
      for (const ancestor of this.ancestors(edge.groupId)) {
        // A group in a cycle reaches itself; membership of oneself is meaningless.
        if (ancestor === memberId) continue;
        const row = rows.get(ancestor);
        if (row) row.inherited = true;
        else rows.set(ancestor, { memberId, groupId: ancestor, memberType, direct: false, directActive: false, inherited: true });
      }
    }
    return rows;
  }

  /** Diffs one member's desired rows against what is stored and queues the writes. */
  private reconcile(memberId: string, rows: { desired: Map<string, MemberOfRow>; existing: MemberOfRow[]; direct: DirectEdge[] }): void {
    const { desired, existing, direct } = rows;
    const tenantId = this.store.tenantId;
    const existingByGroup = new Map(existing.map((row) => [row.groupId, row]));
    this.noteDirectChanges(memberId, { desired, existingByGroup });
    for (const row of desired.values()) {
      const before = existingByGroup.get(row.groupId);
      if (before && sameMemberOfRow(before, row)) continue;
      if (row.inherited && !before?.inherited) this.summary.transitive.added++;
      if (!row.inherited && before?.inherited) this.summary.transitive.removed++;
      this.memberOfOps.push({ kind: "upsert", mode: "Replace", ...tableKeys.memberOf(tenantId, memberId, row.groupId), properties: memberOfEntity(row) });
    }
    for (const row of existing) {
      if (desired.has(row.groupId)) continue;
      if (row.inherited) this.summary.transitive.removed++;
      this.memberOfOps.push({ kind: "delete", ...tableKeys.memberOf(tenantId, memberId, row.groupId) });
    }
    for (const edge of direct) {
      const wanted = desired.get(edge.groupId)?.directActive ?? true;
      const current = edge.memberRowActive ?? existingByGroup.get(edge.groupId)?.directActive ?? true;
      if (wanted === current) continue;
      if (wanted) this.summary.memberships.activated++;
      else this.summary.memberships.deactivated++;
      this.memberOps.push({ kind: "upsert", mode: "Merge", ...tableKeys.member(tenantId, edge.groupId, memberId), properties: { active: wanted } });
    }
  }

  /** Direct memberships the stored rows do not have yet, or have and the desired ones not; only when someone listens. */
  private noteDirectChanges(memberId: string, rows: { desired: Map<string, MemberOfRow>; existingByGroup: Map<string, MemberOfRow> }): void {
    if (!this.onDirectChanges) return;
    const { desired, existingByGroup } = rows;
    for (const row of desired.values()) if (row.direct && !existingByGroup.get(row.groupId)?.direct) this.directChanges.push({ memberId, groupId: row.groupId, memberType: row.memberType, removed: false });
    for (const row of existingByGroup.values()) if (row.direct && !desired.get(row.groupId)?.direct) this.directChanges.push({ memberId, groupId: row.groupId, memberType: row.memberType, removed: true });
  }

  /** A user or group counts as a member only while the store knows it as active: soft-deleted ones, or ones a full read never returned, do not. */
  private isInactive(memberId: string, memberType: MemberType, isActiveUser: (id: string) => boolean): boolean {
    if (memberType === "user") return !isActiveUser(memberId);
    if (memberType === "group") return !this.activeGroups.has(memberId);
    return false;
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
      for (const child of this.childrenOf.get(groupId) ?? []) queue.push(child);
    }
    await forEachConcurrently(groupsToExpand, 8, async (groupId) => {
      for (const row of await this.store.listMembers(groupId)) members.set(row.memberId, row.memberType);
    });
    const userIds = [...members].filter(([, type]) => type === "user").map(([id]) => id);
    const users = await this.store.readObjects("users", userIds);
    const exclusions = this.scope ? await this.scope.readExclusions(userIds) : new Map<string, Exclusion>();
    await forEachConcurrently(members, 16, async ([memberId, memberType]) => {
      const existing = await this.store.listMemberOf(memberId);
      // A direct membership removed in this run still has its row, so whether it stays inherited is known and counted right.
      const removed = work.removedEdges?.get(memberId);
      const direct = existing.filter((row) => row.direct && !removed?.has(row.groupId)).map((row) => ({ groupId: row.groupId, memberRowActive: undefined }));
      const inactive = this.isInactive(memberId, memberType as MemberType, (id) => users.get(id)?.deleted === false);
      const desired = this.desiredRows({ memberId, memberType: memberType as MemberType, inactive }, direct);
      this.reconcile(memberId, { desired, existing, direct });
      const user = memberType === "user" ? users.get(memberId) : undefined;
      if (user) this.reconcileRoles(memberId, desired, user.roles);
      if (memberType === "user") this.decideScope(memberId, direct, { state: user && storedUserState(user), exclusion: exclusions.get(memberId) });
      if (this.memberOfOps.length >= flushEvery) await this.flush();
    });
  }

  /** After a full read: every member's rows, rebuilt from the Members table in two streaming passes merged by member id. */
  private async rebuildAll(collected: MembershipCollector | undefined): Promise<void> {
    const inputs: RebuildInputs = {
      activeUsers: await this.store.listObjectIds("users", "deleted eq false"),
      ...(await this.loadScopeStates()),
      storedRoles: await this.loadStoredRoles(),
      directByMember: await this.loadDirectMemberships(collected),
      fromCollector: collected !== undefined,
    };
    const memberIds = [...inputs.directByMember.keys()].sort();
    const progress = { finished: 0, total: memberIds.length };
    let index = 0;
    let pendingId: string | undefined;
    let pendingRows: MemberOfRow[] = [];
    // Members with no stored rows yet come before the stored member they sort ahead of.
    const catchUpTo = async (memberId: string | undefined) => {
      while (index < memberIds.length && (memberId === undefined || memberIds[index]! < memberId)) {
        const id = memberIds[index++]!;
        if (inputs.directByMember.has(id)) await this.rebuildMember({ memberId: id, existing: [], inputs, progress });
      }
    };
    for await (const row of this.store.listAllMemberOf()) {
      if (row.memberId !== pendingId) {
        if (pendingId !== undefined) await this.rebuildMember({ memberId: pendingId, existing: pendingRows, inputs, progress });
        await catchUpTo(row.memberId);
        pendingId = row.memberId;
        pendingRows = [];
      }
      pendingRows.push(row);
    }
    if (pendingId !== undefined) await this.rebuildMember({ memberId: pendingId, existing: pendingRows, inputs, progress });
    await catchUpTo(undefined);
    for (const [userId, roles] of inputs.storedRoles) this.reconcileRoles(userId, new Map(), roles);
    // Users in no group at all: only the scope rules decide them.
    for (const [userId, state] of inputs.userStates) this.decideScope(userId, [], { state, exclusion: inputs.exclusions.get(userId) });
    for (const [userId, exclusion] of inputs.exclusions) if (!inputs.userStates.has(userId)) this.decideScope(userId, [], { state: undefined, exclusion });
  }

  /** One member of the rebuild: its desired rows against its stored ones, its scope and its roles; what is decided leaves the inputs. */
  private async rebuildMember(input: { memberId: string; existing: MemberOfRow[]; inputs: RebuildInputs; progress: { finished: number; total: number } }): Promise<void> {
    const { memberId, existing, inputs, progress } = input;
    const entry = inputs.directByMember.get(memberId);
    // Every row a full read wrote is active; a replayed page could repeat a member, so groups are deduplicated.
    const direct: DirectEdge[] = entry ? [...new Set(entry.groups)].map((groupId) => ({ groupId, memberRowActive: inputs.fromCollector ? true : !entry.inactive?.has(groupId) })) : [];
    if (++progress.finished % progressEvery === 0) this.onProgress?.(`Recomputing memberships: ${progress.finished} of ${progress.total} members`);
    const memberType = entry?.memberType ?? existing[0]?.memberType ?? "other";
    const inactive = this.isInactive(memberId, memberType, (id) => inputs.activeUsers.has(id));
    const desired = this.desiredRows({ memberId, memberType, inactive }, direct);
    this.reconcile(memberId, { desired, existing, direct });
    if (memberType === "user" && this.scope) {
      this.decideScope(memberId, direct, { state: inputs.userStates.get(memberId), exclusion: inputs.exclusions.get(memberId) });
      inputs.userStates.delete(memberId);
      inputs.exclusions.delete(memberId);
    }
    if (memberType === "user" && inputs.storedRoles.has(memberId)) {
      this.reconcileRoles(memberId, desired, inputs.storedRoles.get(memberId));
      inputs.storedRoles.delete(memberId);
    }
    inputs.directByMember.delete(memberId);
    if (this.memberOfOps.length + this.memberOps.length >= flushEvery) await this.flush();
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

  /** Every user's stored roles, so users who lost their last membership lose their roles too. */
  private async loadStoredRoles(): Promise<Map<string, string | undefined>> {
    const storedRoles = new Map<string, string | undefined>();
    if (this.manageRoles) for await (const user of this.store.listObjects("users", undefined, ["RowKey", "roles"])) storedRoles.set(user.id, user.roles);
    return storedRoles;
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

  /** Queues what is collected to be written once the batch before it is; returns when that earlier batch is, so the next one is computed while this one is written. */
  private async flush(): Promise<void> {
    const memberOps = this.memberOps;
    const memberOfOps = this.memberOfOps;
    const userOps = this.userOps;
    const directChanges = this.directChanges;
    this.memberOps = [];
    this.memberOfOps = [];
    this.userOps = [];
    this.directChanges = [];
    const previous = this.writing;
    const writing = previous.then(async () => {
      // Before the rows: a crash in between leaves the rows unwritten, and the rerun finds the same changes again.
      if (directChanges.length > 0) await this.onDirectChanges?.(directChanges);
      await Promise.all([this.store.apply("members", memberOps), this.store.apply("memberOf", memberOfOps), this.store.apply("users", userOps)]);
    });
    // Awaited by the next flush or at the end of the run; this only keeps a failure from counting as unhandled meanwhile.
    writing.catch(() => undefined);
    this.writing = writing;
    await previous;
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
