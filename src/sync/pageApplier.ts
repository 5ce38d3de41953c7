// Applies one delta page to the store: merges partial updates, soft/hard deletes, and membership edges, idempotently.
import type { DeviceProperties, GroupPageChanges, GroupProperties, MemberType, ObjectChange, UserProperties } from "../directory/directoryObjects";
import type { ObjectTable } from "../store/directoryStore";
import { contentHash, flattenDeviceProperties, flattenGroupProperties, flattenUserProperties, objectEntity, type StoredObject } from "../store/directoryEntities";
import type { DirectoryStore } from "../store/directoryStore";
import type { SyncStateStore } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import type { MembershipCollector } from "./membershipClosure";
import type { HeldDeletion } from "../store/syncStateStore";
import type { WriteBuffer } from "../store/writeBuffer";
import type { Exclusion } from "../store/syncStateStore";
import { groupDerived } from "../store/directoryEntities";
import { groupKinds, ScopePolicy } from "../policy/scopePolicy";
import type { ChangeCounts, SyncRunSummary } from "./syncRun";
import { lookupOperationsBetween, lookupValuesBefore } from "../store/userLookup";

/** How the page's stream is being read: a full read stamps every write with its generation. */
export interface PageContext {
  fullReadGeneration: string | undefined;
  /** The store held nothing when this full read began and this invocation read it from its first page, so no stored row can be met. */
  storeWasEmpty: boolean;
  /** This full read fills a store that held nothing of the tenant when it began (the first sync). */
  initialLoad: boolean;
  /** A full read's writes and events go here and out in large transactions; without one, each page writes at once. */
  buffer?: WriteBuffer;
  dryRun: boolean;
  now: string;
}

/** One change a page made to the store, for the change feed: what changed, in which run, when. */
export interface ChangeEvent {
  tenantId: string;
  runId: string;
  /** When the page was applied (ISO 8601). */
  at: string;
  /** userCreated, userUpdated, userSoftDeleted, userRestored, userDeleted, the same for group, membershipAdded, membershipRemoved. */
  kind: string;
  /** The user or group; for a membership event, the member. */
  objectId: string;
  /** For a membership event, the group. */
  groupId: string | undefined;
  description: string;
}

/** Receives each page's change events after the page's writes have committed. */
export interface ChangeSink {
  record(events: ChangeEvent[]): Promise<void>;
}

/** The events one page collects; pages of the two streams run at once, so each keeps its own. */
interface PageChanges {
  at: string;
  events: ChangeEvent[];
  /** The first load of an empty store is not a change to anyone: one event per object would only flood the feed. */
  recordEvents: boolean;
}

/** What a dry run would have done, a few entries per kind, for the admin to review. */
export type PlanSample = Record<string, string[]>;
const planSampleSize = 10;

export class PageApplier {
  readonly plan: PlanSample = {};
  /** Hashes written during this run, so a group's later appearances in a full read are not written or counted again. */
  private readonly writtenThisRun = new Map<string, string>();

  /** Set by the engine while a full read of groups runs from its first page in this process. */
  collector: MembershipCollector | undefined;
  /** Users whose deletion an earlier run held back; one that comes back in the delta is no longer to be deleted. */
  heldUserIds = new Set<string>();
  /** User deletions this run met; a dry run keeps them here, a real run also in the state table until the run applies them. */
  readonly stagedDeletions: HeldDeletion[] = [];
  /** Users held back because they left the scope; only the scope decides whether they go. */
  scopeHeldIds = new Set<string>();
  /** Users the closure admitted into the scope in this run, whose whole objects are now being applied. */
  admitted = new Set<string>();
  /** Users and groups seen in part only, whose scope needs the whole object: read by id after the streams. */
  readonly toFetch = new Set<string>();
  /** Users the scope or filters keep out, recorded (id and reason only) after the page's writes. */
  private exclusions: Exclusion[] = [];
  /** Whether any exclusion is recorded; without one there is none to remove, and no write is spent trying. */
  exclusionsExist = true;
  /** Users back in the scope whose exclusion record goes. */
  private inclusions: string[] = [];

  constructor(
    private readonly store: DirectoryStore,
    private readonly state: SyncStateStore,
    private readonly summary: SyncRunSummary,
    private readonly changeSink?: ChangeSink,
    private readonly scope: ScopePolicy = new ScopePolicy(),
  ) {}

  /** Users left out by the filters or waiting for the scope groups' verdict, and why; a dry run reports them only. */
  private async saveScopeDecisions(context: PageContext): Promise<void> {
    const exclusions = this.exclusions;
    const inclusions = this.inclusions;
    this.exclusions = [];
    this.inclusions = [];
    if (context.dryRun) return;
    await this.saveExclusions(exclusions);
    await this.state.removeExclusions(inclusions);
  }

  /** Records exclusions (id and reason only); once one exists, objects coming back have theirs removed. */
  async saveExclusions(exclusions: Exclusion[]): Promise<void> {
    if (exclusions.length === 0) return;
    this.exclusionsExist = true;
    await this.state.saveExclusions(exclusions);
  }

  /** Whether a user upsert is written, and otherwise what happens to it: left out, held for leaving the scope, or decided later. */
  private userScopeVerdict(id: string, previous: StoredObject | undefined, merged: Record<string, string | boolean | null>, context: PageContext, page: PageChanges, markDirty: (id: string) => void): "write" | "skip" {
    const stored = previous !== undefined && !previous.outOfScope;
    const whole = stored || "userPrincipalName" in merged;
    if (!whole) {
      // An update to a user never stored carries only what changed: the filters need the whole object.
      if (!this.admitted.has(id)) this.toFetch.add(id);
      return "skip";
    }
    const filtered = this.scope.userFilterReason(merged);
    if (filtered) {
      this.summary.scope.excluded++;
      this.note("userExcluded", `${describeObject(id, merged)}: ${filtered}`, page, id, undefined, false);
      this.exclusions.push({ id, objectType: "user", code: "filter", reason: filtered });
      if (stored && !previous.deleted) this.leaveScope(id, merged, filtered, context, page);
      return "skip";
    }
    if (stored) {
      // Without scope groups nothing else can keep a user out, so a filter-held exit is cancelled here.
      if (this.scopeHeldIds.has(id) && !this.scope.usesGroups) this.releasedScopeHolds.push(id);
      // A full read rebuilds every member's rows and scope at its end, so marking each one would only add writes.
      if (this.scope.usesGroups && context.fullReadGeneration === undefined) markDirty(id);
      return "write";
    }
    if (!this.scope.usesGroups || this.admitted.has(id)) {
      if (this.exclusionsExist) this.inclusions.push(id);
      return "write";
    }
    // Membership decides: the closure admits the user, and the whole object is read by id then.
    this.exclusions.push({ id, objectType: "user", code: "pending", reason: "waiting for the scope groups to be resolved" });
    if (context.fullReadGeneration === undefined) markDirty(id);
    return "skip";
  }

  /** Users whose scope-exit hold ends because they are back in the scope. */
  readonly releasedScopeHolds: string[] = [];

  /** A stored user leaves the scope: its soft delete goes through the accidental-deletion threshold like any deletion. */
  leaveScope(id: string, properties: Record<string, unknown>, why: string, context: PageContext, page: PageChanges | undefined): void {
    if (this.scopeHeldIds.has(id)) return;
    this.scopeHeldIds.add(id);
    this.summary.scope.left++;
    const name = `${describeObject(id, properties)}: left the scope (${why})`;
    if (page) this.note("userLeftScope", name, page, id, undefined, false);
    else this.notePlan("userLeftScope", name);
    this.stagedDeletions.push({ userId: id, reason: "changed", name, heldAt: context.now, outOfScope: true });
  }

  async applyUserPage(changes: ObjectChange<UserProperties>[], context: PageContext): Promise<void> {
    const dirty = new Map<string, string>();
    const page: PageChanges = { at: context.now, events: [], recordEvents: !context.initialLoad };
    const stagedBefore = this.stagedDeletions.length;
    const { objectOps, removedForGood, cancelledHolds, lookupOps } = await this.planObjects("users", changes, context, this.summary.users, (id) => dirty.set(id, "user"), page);
    if (context.dryRun) return await this.saveScopeDecisions(context);
    await this.state.markDirty(dirty, []);
    // People are deleted only at the end of the run, once the accidental-deletion threshold has been checked.
    await this.state.holdDeletions(this.stagedDeletions.slice(stagedBefore));
    await this.state.releaseHolds([...cancelledHolds, ...this.releasedScopeHolds.splice(0)]);
    await this.saveScopeDecisions(context);
    // The lookup index before the rows: a replay re-plans it from the stored rows, which a crash in between left as they were.
    await this.write(context, "userLookup", lookupOps);
    await this.write(context, "users", objectOps);
    await Promise.all(removedForGood.map((id) => this.removeMemberEverywhere(id)));
    await this.recordEvents(context, page);
  }

  /** Devices (SYNC_DEVICES): written like users, but deleted for good at once; the threshold guards people, not devices. */
  async applyDevicePage(changes: ObjectChange<DeviceProperties>[], context: PageContext, counts: ChangeCounts): Promise<void> {
    const page: PageChanges = { at: context.now, events: [], recordEvents: !context.initialLoad };
    const { objectOps, removedForGood } = await this.planObjects("devices", changes, context, counts, () => undefined, page);
    if (context.dryRun) return;
    await this.write(context, "devices", objectOps);
    await Promise.all(removedForGood.map((id) => this.removeMemberEverywhere(id)));
    await this.recordEvents(context, page);
  }

  private async write(context: PageContext, table: "users" | "groups" | "devices" | "members" | "nesting" | "memberOf" | "userLookup", operations: TableOperation[]): Promise<void> {
    if (context.buffer) context.buffer.add(table, operations);
    else await this.store.apply(table, operations);
  }

  private async recordEvents(context: PageContext, page: PageChanges): Promise<void> {
    if (page.events.length === 0) return;
    if (context.buffer) context.buffer.addEvents(page.events);
    else await this.changeSink?.record(page.events);
  }

  async applyGroupPage(changes: GroupPageChanges, context: PageContext): Promise<void> {
    const dirtyMembers = new Map<string, string>();
    const dirtyGroups = new Set<string>();
    const page: PageChanges = { at: context.now, events: [], recordEvents: !context.initialLoad };
    const { objectOps, removedForGood } = await this.planObjects("groups", mergeAppearances(changes.groups), context, this.summary.groups, (id) => dirtyGroups.add(id), page);
    const full = context.fullReadGeneration !== undefined;
    const memberOps: TableOperation[] = [];
    const memberOfOps: TableOperation[] = [];
    const nestingOps: TableOperation[] = [];
    for (const change of changes.memberships) {
      const member = tableKeys.member(this.store.tenantId, change.groupId, change.memberId);
      const nesting = tableKeys.nesting(this.store.tenantId, change.memberId, change.groupId);
      const memberOf = tableKeys.memberOf(this.store.tenantId, change.memberId, change.groupId);
      if (change.removed) {
        this.summary.memberships.removed++;
        this.note("membershipRemoved", `${change.memberId} from ${change.groupId}`, page, change.memberId, change.groupId);
        memberOps.push({ kind: "delete", ...member });
        // Deleted outright: the closure that follows writes it back only if nesting still reaches the group, so a removal costs one write, not two.
        if (!full) memberOfOps.push({ kind: "delete", ...memberOf });
      } else {
        this.summary.memberships.added++;
        this.note("membershipAdded", `${change.memberId} (${change.memberType}) to ${change.groupId}`, page, change.memberId, change.groupId);
        memberOps.push({ kind: "upsert", mode: "Replace", ...member, properties: { memberType: change.memberType, active: true, gen: context.fullReadGeneration ?? "" } });
        if (full) this.collector?.add(change.groupId, change.memberId, change.memberType);
        if (!full) memberOfOps.push({ kind: "upsert", mode: "Merge", ...memberOf, properties: { memberType: change.memberType, direct: true, directActive: true, active: true } });
      }
      if (change.memberType === "group") {
        nestingOps.push(change.removed ? { kind: "delete", ...nesting } : { kind: "upsert", mode: "Replace", ...nesting, properties: {} });
        dirtyGroups.add(change.memberId);
      }
      dirtyMembers.set(change.memberId, change.memberType);
    }
    await this.saveScopeDecisions(context);
    if (context.dryRun) return;
    // A full read rebuilds every MemberOf row at its end, so marking each member would only add writes.
    await this.state.markDirty(full ? new Map() : dirtyMembers, full ? [] : dirtyGroups, full);
    await Promise.all([this.write(context, "groups", objectOps), this.write(context, "members", memberOps), this.write(context, "nesting", nestingOps)]);
    await this.write(context, "memberOf", memberOfOps);
    await Promise.all(removedForGood.map((id) => this.removeGroupEverywhere(id)));
    await this.recordEvents(context, page);
  }

  /** Decides the write for each user or group; reads stored rows only where a merge or a count needs them. */
  private async planObjects<P>(
    kind: ObjectTable,
    changes: ObjectChange<P>[],
    context: PageContext,
    counts: ChangeCounts,
    markDirty: (id: string) => void,
    page: PageChanges,
  ): Promise<{ objectOps: TableOperation[]; removedForGood: string[]; cancelledHolds: string[]; lookupOps: TableOperation[] }> {
    const full = context.fullReadGeneration !== undefined;
    const objectType = kind === "users" ? "user" : kind === "groups" ? "group" : "device";
    const keyOf = kind === "users" ? tableKeys.user : kind === "groups" ? tableKeys.group : tableKeys.device;
    const flatten = (properties: Partial<P>) =>
      kind === "users"
        ? flattenUserProperties(properties as Partial<UserProperties>)
        : kind === "groups"
          ? flattenGroupProperties(properties as Partial<GroupProperties>)
          : flattenDeviceProperties(properties as Partial<DeviceProperties>);
    const stored: Map<string, StoredObject> = full && context.storeWasEmpty ? new Map() : await this.store.readObjects(kind, changes.map((change) => change.id));
    const lookupBefore = kind === "users" ? lookupValuesBefore(stored) : undefined;
    const objectOps: TableOperation[] = [];
    const removedForGood: string[] = [];
    const cancelledHolds: string[] = [];
    for (const change of changes) {
      const previous = stored.get(change.id);
      const key = keyOf(this.store.tenantId, change.id);
      if (kind === "users" && change.kind === "removed") {
        // A dry run counts the deletion as it would be applied; a real run stages it for the threshold check.
        if (!context.dryRun) {
          this.stagedDeletions.push({ userId: change.id, reason: change.reason, name: describeObject(change.id, previous?.properties ?? {}), heldAt: context.now });
          // A later page of this run that brings the user back cancels the hold.
          this.heldUserIds.add(change.id);
          continue;
        }
        this.stagedDeletions.push({ userId: change.id, reason: change.reason, name: describeObject(change.id, previous?.properties ?? {}), heldAt: context.now });
      }
      if (kind === "users" && change.kind === "upsert" && this.heldUserIds.delete(change.id)) cancelledHolds.push(change.id);
      if (change.kind === "upsert") {
        // A full read carries whole objects; an incremental one may carry only what changed, so merge onto the stored row.
        const properties = full ? flatten(change.properties) : { ...(previous?.outOfScope ? {} : previous?.properties), ...flatten(change.properties) };
        if (kind === "users" && this.userScopeVerdict(change.id, previous, properties, context, page, markDirty) === "skip") continue;
        if (kind === "groups" && !this.groupKindVerdict(change.id, previous, properties, key, objectOps, markDirty, page)) continue;
        const hash = contentHash(properties, false);
        const generation = context.fullReadGeneration ?? previous?.generation ?? "";
        // A later appearance of a group, or a page replayed after a pause or crash, is an object this full read already wrote: not another one to count.
        if (this.writtenThisRun.get(change.id) === hash) continue;
        if (full && previous && !previous.deleted && previous.hash === hash && previous.generation === generation) continue;
        if (previous && !previous.deleted && previous.hash === hash && previous.generation === generation) {
          counts.unchanged++;
          continue;
        }
        if (!previous) {
          counts.created++;
          this.note(`${objectType}Created`, describeObject(change.id, properties), page, change.id);
          // A restored object the store never knew may already have membership rows waiting to become active.
          if (!full) markDirty(change.id);
        } else if (previous.deleted) {
          counts.restored++;
          this.note(`${objectType}Restored`, describeObject(change.id, properties), page, change.id);
          markDirty(change.id);
        } else if (previous.hash !== hash) {
          counts.updated++;
          this.note(`${objectType}Updated`, describeObject(change.id, properties), page, change.id);
        } else {
          counts.unchanged++;
        }
        objectOps.push({
          kind: "upsert",
          mode: "Replace",
          ...key,
          properties: objectEntity(this.store.tenantId, objectType, properties, { deleted: false, deletedAt: undefined, generation, changedAt: context.now, roles: previous?.roles }),
        });
        stored.set(change.id, { id: change.id, properties, deleted: false, deletedAt: undefined, hash, generation, roles: previous?.roles, outOfScope: false });
        if (objectType === "group") this.writtenThisRun.set(change.id, hash);
      } else if (change.reason === "changed") {
        if (!previous || previous.deleted) continue;
        counts.softDeleted++;
        this.note(`${objectType}SoftDeleted`, describeObject(change.id, previous.properties), page, change.id);
        markDirty(change.id);
        objectOps.push({
          kind: "upsert",
          mode: "Replace",
          ...key,
          properties: objectEntity(this.store.tenantId, objectType, previous.properties, { deleted: true, deletedAt: context.now, generation: previous.generation ?? "", changedAt: context.now, roles: previous.roles }),
        });
        stored.set(change.id, { ...previous, deleted: true });
      } else {
        if (previous) {
          counts.deleted++;
          this.note(`${objectType}Deleted`, describeObject(change.id, previous.properties), page, change.id);
        }
        objectOps.push({ kind: "delete", ...key });
        removedForGood.push(change.id);
        stored.delete(change.id);
      }
    }
    const lookupOps = lookupBefore ? lookupOperationsBetween(this.store.tenantId, lookupBefore, stored, changes.map((change) => change.id)) : [];
    return { objectOps, removedForGood, cancelledHolds, lookupOps };
  }

  /** A user deleted for good leaves no membership behind, in either direction. */
  async removeMemberEverywhere(memberId: string): Promise<void> {
    const rows = await this.store.listMemberOf(memberId);
    const memberOps: TableOperation[] = [];
    const memberOfOps: TableOperation[] = [];
    for (const row of rows) {
      if (row.direct) memberOps.push({ kind: "delete", ...tableKeys.member(this.store.tenantId, row.groupId, memberId) });
      memberOfOps.push({ kind: "delete", ...tableKeys.memberOf(this.store.tenantId, memberId, row.groupId) });
    }
    await this.store.apply("members", memberOps);
    await this.store.apply("memberOf", memberOfOps);
  }

  /** A group deleted for good loses its member rows and nesting edges; its members and child groups are recomputed. */
  async removeGroupEverywhere(groupId: string): Promise<void> {
    const tenantId = this.store.tenantId;
    const [members, parents] = await Promise.all([this.store.listMembers(groupId), this.store.listMemberOf(groupId)]);
    const dirtyMembers = new Map(members.map((member) => [member.memberId, member.memberType] as const));
    const dirtyGroups = members.filter((member) => member.memberType === "group").map((member) => member.memberId);
    await this.state.markDirty(dirtyMembers, dirtyGroups);
    const nestingOps: TableOperation[] = [
      ...dirtyGroups.map((childId): TableOperation => ({ kind: "delete", ...tableKeys.nesting(tenantId, childId, groupId) })),
      ...parents.filter((row) => row.direct).map((row): TableOperation => ({ kind: "delete", ...tableKeys.nesting(tenantId, groupId, row.groupId) })),
    ];
    const memberOps: TableOperation[] = [
      ...members.map((member): TableOperation => ({ kind: "delete", ...tableKeys.member(tenantId, groupId, member.memberId) })),
      ...parents.filter((row) => row.direct).map((row): TableOperation => ({ kind: "delete", ...tableKeys.member(tenantId, row.groupId, groupId) })),
    ];
    const memberOfOps: TableOperation[] = [
      ...members.map((member): TableOperation => ({ kind: "delete", ...tableKeys.memberOf(tenantId, member.memberId, groupId) })),
      ...parents.map((row): TableOperation => ({ kind: "delete", ...tableKeys.memberOf(tenantId, groupId, row.groupId) })),
    ];
    await Promise.all([this.store.apply("nesting", nestingOps), this.store.apply("members", memberOps)]);
    await this.store.apply("memberOf", memberOfOps);
  }

  /** Groups of a kind SYNC_GROUP_KINDS leaves out are not stored; one that was stored is removed and its members recomputed. */
  private groupKindVerdict(id: string, previous: StoredObject | undefined, properties: Record<string, string | boolean | null>, key: { partitionKey: string; rowKey: string }, objectOps: TableOperation[], markDirty: (id: string) => void, page: PageChanges): boolean {
    if (this.scope.settings.groupKinds.length === groupKinds.length) return true;
    const known = "securityEnabled" in properties || "groupTypes" in properties || "mailEnabled" in properties;
    // A partial update of a group never stored belongs to a group left out by kind (a new group arrives whole).
    if (!known) return previous !== undefined;
    if (this.scope.groupKindSynced(properties)) {
      if (!previous && this.exclusionsExist) this.inclusions.push(id);
      return true;
    }
    const kind = groupDerived(properties).kind;
    this.summary.scope.groupsExcluded++;
    this.note("groupExcluded", `${describeObject(id, properties)}: kind ${kind} is not in SYNC_GROUP_KINDS`, page, id, undefined, false);
    this.exclusions.push({ id, objectType: "group", code: "kind", reason: `kind ${kind} is not in SYNC_GROUP_KINDS` });
    if (previous) {
      objectOps.push({ kind: "delete", ...key });
      markDirty(id);
    }
    return false;
  }

  private note(kind: string, entry: string, page: PageChanges, objectId: string, groupId?: string, event = true): void {
    this.notePlan(kind, entry);
    if (event && page.recordEvents) page.events.push({ tenantId: this.summary.tenantId, runId: this.summary.runId, at: page.at, kind, objectId, groupId, description: entry });
  }

  notePlan(kind: string, entry: string): void {
    const entries = (this.plan[kind] ??= []);
    if (entries.length < planSampleSize) entries.push(entry);
  }
}

/** In a full read a group appears several times, each with part of its members; its properties are merged. */
function mergeAppearances(groups: ObjectChange<GroupProperties>[]): ObjectChange<GroupProperties>[] {
  const merged = new Map<string, ObjectChange<GroupProperties>>();
  for (const change of groups) {
    const earlier = merged.get(change.id);
    if (earlier?.kind === "upsert" && change.kind === "upsert") {
      merged.set(change.id, { kind: "upsert", id: change.id, properties: { ...earlier.properties, ...change.properties } });
    } else {
      merged.delete(change.id);
      merged.set(change.id, change);
    }
  }
  return [...merged.values()];
}

function describeObject(id: string, properties: Record<string, unknown>): string {
  const name = properties.userPrincipalName ?? properties.displayName;
  return typeof name === "string" ? `${name} (${id})` : id;
}

export type { MemberType };
