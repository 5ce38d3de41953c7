// Applies one delta page to the store: merges partial updates, soft/hard deletes, and membership edges, idempotently.
import type { ChangeEvent } from "../directory/changeEvents";
import type { DeviceProperties, GroupPageChanges, GroupProperties, MembershipChange, ObjectChange, UserProperties } from "../directory/directoryObjects";
import { groupKinds } from "../policy/scopePolicy";
import { contentHash, flattenDeviceProperties, flattenGroupProperties, flattenUserProperties, groupDerived, objectEntity, softDeletedEntity, type StoredObject } from "../store/directoryEntities";
import type { DirectoryTableName, ObjectTable } from "../store/directoryStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { lookupOperationsBetween, lookupValuesBefore, type LookupValues } from "../store/userLookup";
import type { PendingMembershipEvent } from "../store/syncStateStore";
import type { WriteBuffer } from "../store/writeBuffer";
import { saveHoldChanges } from "./heldDeletions";
import { deferMembershipEvents } from "./membershipEvents";
import { removeGroupEverywhere, removeMemberEverywhere } from "./objectRemoval";
import { changeEvent, recordEvents, type RunContext } from "./runContext";
import type { PlanEntry } from "./runPlan";
import type { ChangeCounts } from "./syncRun";

/** How the page's stream is being read: a full read stamps every write with its generation. */
export interface PageContext {
  fullReadGeneration: string | undefined;
  /** The store held nothing when this full read began and this invocation read it from its first page, so no stored row can be met. */
  storeWasEmpty: boolean;
  /** This full read fills a store that held nothing of the tenant when it began (the first sync). */
  initialLoad: boolean;
  /** A full read's writes and events go here and out in large transactions; without one, each page writes at once. */
  buffer?: WriteBuffer;
  now: string;
}

type Flat = Record<string, string | boolean | null>;

/** One page's objects of one kind being planned: what is stored, and the writes, events and follow-ups decided so far. */
interface ObjectBatch {
  kind: ObjectTable;
  objectType: "user" | "group" | "device";
  context: PageContext;
  counts: ChangeCounts;
  stored: Map<string, StoredObject>;
  /** Users' indexed values (mail, UPN, employee id) as stored before the page, to plan the lookup index from. */
  lookupBefore: Map<string, LookupValues | undefined>;
  ops: TableOperation[];
  removedForGood: string[];
  events: ChangeEvent[];
  /** Membership events of an incremental page, kept until the run's end decides which a consumer can see. */
  membershipEvents: PendingMembershipEvent[];
  markDirty(id: string): void;
}

/** A page's membership writes, and the direct memberships it removed or added, for the closure. */
interface MembershipWrites {
  members: TableOperation[];
  nesting: TableOperation[];
  removedEdges: Array<[string, string]>;
  addedEdges: Array<[string, string]>;
}

const keyOf = { users: tableKeys.user, groups: tableKeys.group, devices: tableKeys.device } as const;
const objectTypeOf = { users: "user", groups: "group", devices: "device" } as const;

export class PageApplier {
  constructor(private readonly run: RunContext) {}

  async applyUserPage(changes: ObjectChange<UserProperties>[], context: PageContext): Promise<void> {
    const dirty = new Map<string, string>();
    const batch = await this.planObjects({ kind: "users", changes, context, counts: this.run.summary.users, markDirty: (id) => dirty.set(id, "user") });
    await this.run.state.markDirty(dirty, []);
    // People are deleted only at the end of the run, once the accidental-deletion threshold has been checked.
    await saveHoldChanges(this.run);
    await this.saveExclusionChanges();
    // The lookup index before the rows: a replay re-plans it from the stored rows, which a crash in between left as they were.
    await this.write(context, "userLookup", lookupOperationsBetween(this.run.tenantId, batch.lookupBefore, batch.stored, changes.map((change) => change.id)));
    // Memberships before the user's row, which lists them: a crash in between leaves the row for the replayed page to find.
    await Promise.all(batch.removedForGood.map((id) => removeMemberEverywhere(this.run, id)));
    await this.write(context, "users", batch.ops);
    await this.recordPageEvents(context, batch.events);
  }

  /** Devices (SYNC_DEVICES): written like users, but deleted for good at once; the threshold guards people, not devices. */
  async applyDevicePage(changes: ObjectChange<DeviceProperties>[], context: PageContext, counts: ChangeCounts): Promise<void> {
    const batch = await this.planObjects({ kind: "devices", changes, context, counts, markDirty: () => undefined });
    await Promise.all(batch.removedForGood.map((id) => removeMemberEverywhere(this.run, id)));
    await this.write(context, "devices", batch.ops);
    await this.recordPageEvents(context, batch.events);
  }

  async applyGroupPage(changes: GroupPageChanges, context: PageContext): Promise<void> {
    const dirtyMembers = new Map<string, string>();
    const dirtyGroups = new Set<string>();
    const batch = await this.planObjects({ kind: "groups", changes: mergeAppearances(changes.groups), context, counts: this.run.summary.groups, markDirty: (id) => dirtyGroups.add(id) });
    const full = context.fullReadGeneration !== undefined;
    const writes = this.planMemberships(changes.memberships, batch);
    for (const change of changes.memberships) {
      if (change.memberType === "group") dirtyGroups.add(change.memberId);
      dirtyMembers.set(change.memberId, change.memberType);
    }
    await this.saveExclusionChanges();
    // A full read rebuilds every member's groups at its end, so marking each member would only add writes.
    await this.run.state.markDirty(full ? new Map() : dirtyMembers, full ? [] : dirtyGroups, { all: full, removedEdges: writes.removedEdges, addedEdges: writes.addedEdges });
    await deferMembershipEvents(this.run, batch.membershipEvents);
    // Memberships before the group's row goes: a crash in between leaves the row for the replayed page to find.
    await Promise.all(batch.removedForGood.map((id) => removeGroupEverywhere(this.run, id)));
    await Promise.all([this.write(context, "groups", batch.ops), this.write(context, "members", writes.members), this.write(context, "nesting", writes.nesting)]);
    await this.recordPageEvents(context, batch.events);
  }

  /** A stored user leaves the scope: its soft delete goes through the accidental-deletion threshold like any deletion. */
  leaveScope(id: string, why: string, at: string): void {
    // Only the id and the rule: nothing of a user outside the scope is stored, run records and holds included.
    if (!this.run.runState.stageScopeExit({ userId: id, reason: "changed", name: `${id}: left the scope (${why})`, heldAt: at, outOfScope: true })) return;
    this.run.summary.scope.left++;
    this.run.runState.plan.record("userLeftScope", { id, reason: why });
  }

  private planMemberships(memberships: MembershipChange[], batch: ObjectBatch): MembershipWrites {
    const { tenantId, summary } = this.run;
    const full = batch.context.fullReadGeneration !== undefined;
    const writes: MembershipWrites = { members: [], nesting: [], removedEdges: [], addedEdges: [] };
    // The last change of an edge in the page stands.
    const edges = new Map<string, { edge: [string, string]; removed: boolean }>();
    for (const change of memberships) {
      const member = tableKeys.member(tenantId, change.groupId, change.memberId);
      const nesting = tableKeys.nesting(tenantId, change.memberId, change.groupId);
      if (change.removed) {
        summary.memberships.removed++;
        this.note(batch, { kind: "membershipRemoved", entry: { id: change.memberId, groupId: change.groupId }, description: `${change.memberId} from ${change.groupId}`, memberType: change.memberType });
        writes.members.push({ kind: "delete", ...member });
        // The member's lists still name the group until the closure rewrites them: one write, and the inherited count right.
        if (!full) edges.set(`${change.memberId}_${change.groupId}`, { edge: [change.memberId, change.groupId], removed: true });
      } else {
        summary.memberships.added++;
        this.note(batch, { kind: "membershipAdded", entry: { id: change.memberId, groupId: change.groupId }, description: `${change.memberId} (${change.memberType}) to ${change.groupId}`, memberType: change.memberType });
        writes.members.push({ kind: "upsert", mode: "Replace", ...member, properties: { memberType: change.memberType, active: true, gen: batch.context.fullReadGeneration ?? "" } });
        if (full) this.run.runState.membershipCollector?.add(change.groupId, change.memberId, change.memberType);
        else edges.set(`${change.memberId}_${change.groupId}`, { edge: [change.memberId, change.groupId], removed: false });
      }
      if (change.memberType === "group") writes.nesting.push(change.removed ? { kind: "delete", ...nesting } : { kind: "upsert", mode: "Replace", ...nesting, properties: {} });
    }
    for (const { edge, removed } of edges.values()) (removed ? writes.removedEdges : writes.addedEdges).push(edge);
    return writes;
  }

  /** Decides the write for each user, group or device; reads stored rows only where a merge or a count needs them. */
  private async planObjects<P>(input: { kind: ObjectTable; changes: ObjectChange<P>[]; context: PageContext; counts: ChangeCounts; markDirty: (id: string) => void }): Promise<ObjectBatch> {
    const { kind, changes, context } = input;
    const full = context.fullReadGeneration !== undefined;
    const stored = full && context.storeWasEmpty ? new Map<string, StoredObject>() : await this.run.store.readObjects(kind, changes.map((change) => change.id));
    const lookupBefore = kind === "users" ? lookupValuesBefore(stored) : new Map<string, LookupValues | undefined>();
    const batch: ObjectBatch = { kind, objectType: objectTypeOf[kind], context, counts: input.counts, stored, lookupBefore, ops: [], removedForGood: [], events: [], membershipEvents: [], markDirty: input.markDirty };
    if (kind === "users") await this.run.runState.prepareInitialLists(changes.filter((change) => change.kind === "upsert" && !stored.has(change.id)).map((change) => change.id));
    for (const change of changes) {
      const previous = stored.get(change.id);
      if (kind === "users" && change.kind === "removed") {
        // Deletions of people wait for the threshold check at the end of the run; a later page that brings the user back cancels it.
        this.run.runState.stageDeletion({ userId: change.id, reason: change.reason, name: describeObject(change.id, previous?.properties ?? {}), heldAt: context.now });
        continue;
      }
      if (kind === "users" && change.kind === "upsert") this.run.runState.cancelDeletion(change.id);
      if (change.kind === "upsert") this.planUpsert(batch, change.id, flatten(kind, change.properties as Partial<P>));
      else if (change.reason === "changed") this.planSoftDelete(batch, change.id);
      else this.planRemoval(batch, change.id);
    }
    return batch;
  }

  private planUpsert(batch: ObjectBatch, id: string, changed: Flat): void {
    const previous = batch.stored.get(id);
    const full = batch.context.fullReadGeneration !== undefined;
    // A full read carries whole objects; an incremental one may carry only what changed, so merge onto the stored row.
    const properties = full ? changed : { ...(previous?.outOfScope ? {} : previous?.properties), ...changed };
    if (batch.kind === "users" && this.userScopeVerdict(batch, id, properties) === "skip") return;
    if (batch.kind === "groups" && !this.groupKindVerdict(batch, id, properties)) return;
    const hash = contentHash(properties, false);
    const generation = batch.context.fullReadGeneration ?? previous?.generation ?? "";
    // A later appearance of a group, or a page replayed after a pause or crash, is an object this full read already wrote: not another one to count.
    if (this.run.runState.groupWritten(id, hash)) return;
    const same = previous && !previous.deleted && previous.hash === hash && previous.generation === generation;
    if (same && full) return;
    if (same) {
      batch.counts.unchanged++;
      return;
    }
    this.countUpsert(batch, id, properties);
    // A user the store never had gets its groups with its first write when the run already knows them, so the closure has nothing to rewrite.
    const initial = batch.kind === "users" && !previous ? this.run.runState.initialListsFor(id) : undefined;
    const derived = { roles: initial?.roles ?? previous?.roles, memberGroups: initial?.memberGroups ?? previous?.memberGroups };
    batch.ops.push({ kind: "upsert", mode: "Replace", ...keyOf[batch.kind](this.run.tenantId, id), properties: objectEntity(this.run.tenantId, batch.objectType, properties, { deleted: false, deletedAt: undefined, generation, changedAt: batch.context.now, ...derived }) });
    batch.stored.set(id, { id, properties, deleted: false, deletedAt: undefined, hash, generation, outOfScope: false, ...derived });
    if (batch.objectType === "group") this.run.runState.noteGroupWritten(id, hash);
  }

  private countUpsert(batch: ObjectBatch, id: string, properties: Flat): void {
    const previous = batch.stored.get(id);
    const name = describeName(properties);
    if (batch.objectType === "user" && (!previous || previous.deleted) && this.run.runState.enteringScope) {
      this.run.summary.scope.entered++;
      this.run.runState.plan.record("userEnteredScope", { id, name, reason: this.run.runState.isAdmitted(id) ? "member of a scope group" : "no scope rule leaves it out any more" });
    }
    if (!previous) {
      batch.counts.created++;
      this.note(batch, { kind: `${batch.objectType}Created`, entry: { id, name } });
      // A restored object the store never knew may already have membership rows waiting to become active.
      if (batch.context.fullReadGeneration === undefined) batch.markDirty(id);
    } else if (previous.deleted) {
      batch.counts.restored++;
      this.note(batch, { kind: `${batch.objectType}Restored`, entry: { id, name } });
      batch.markDirty(id);
    } else {
      batch.counts.updated++;
      this.note(batch, { kind: `${batch.objectType}Updated`, entry: { id, name } });
      // A group renamed into or out of a scope pattern moves its members (through nesting) in or out of the scope in this run.
      if (batch.objectType === "group" && this.run.scope.groupNameRole(previous.properties.displayName) !== this.run.scope.groupNameRole(properties.displayName)) batch.markDirty(id);
    }
  }

  private planSoftDelete(batch: ObjectBatch, id: string): void {
    const previous = batch.stored.get(id);
    if (!previous || previous.deleted) return;
    batch.counts.softDeleted++;
    this.note(batch, { kind: `${batch.objectType}SoftDeleted`, entry: { id, name: describeName(previous.properties) } });
    batch.markDirty(id);
    const now = batch.context.now;
    batch.ops.push({ kind: "upsert", mode: "Replace", ...keyOf[batch.kind](this.run.tenantId, id), properties: softDeletedEntity(this.run.tenantId, batch.objectType, previous, { at: now }) });
    batch.stored.set(id, { ...previous, deleted: true });
  }

  private planRemoval(batch: ObjectBatch, id: string): void {
    const previous = batch.stored.get(id);
    if (previous) {
      batch.counts.deleted++;
      this.note(batch, { kind: `${batch.objectType}Deleted`, entry: { id, name: describeName(previous.properties) } });
    }
    batch.ops.push({ kind: "delete", ...keyOf[batch.kind](this.run.tenantId, id) });
    batch.removedForGood.push(id);
    batch.stored.delete(id);
  }

  /** Whether a user upsert is written, and otherwise what happens to it: left out, held for leaving the scope, or decided later. */
  private userScopeVerdict(batch: ObjectBatch, id: string, merged: Flat): "write" | "skip" {
    const { runState, scope, summary } = this.run;
    const previous = batch.stored.get(id);
    const stored = previous !== undefined && !previous.outOfScope;
    const incremental = batch.context.fullReadGeneration === undefined;
    if (!stored && !("userPrincipalName" in merged)) {
      // An update to a user never stored carries only what changed: the filters need the whole object.
      runState.readWholeUser(id);
      return "skip";
    }
    const filtered = scope.userFilterReason(merged);
    if (filtered) {
      summary.scope.excluded++;
      runState.plan.record("userExcluded", { id, reason: filtered });
      runState.exclude({ id, objectType: "user", code: "filter", reason: filtered });
      if (stored && !previous.deleted) this.leaveScope(id, filtered, batch.context.now);
      return "skip";
    }
    if (stored) {
      // Without scope groups nothing else can keep a user out, so a filter-held exit is cancelled here.
      if (!scope.usesGroups) runState.releaseScopeHold(id);
      // A full read rebuilds every member's rows and scope at its end, so marking each one would only add writes.
      if (scope.usesGroups && incremental) batch.markDirty(id);
      return "write";
    }
    if (!scope.usesGroups || runState.isAdmitted(id)) {
      runState.include(id);
      return "write";
    }
    // Membership decides: the closure admits the user, and the whole object is read by id then.
    runState.exclude({ id, objectType: "user", code: "pending", reason: "waiting for the scope groups to be resolved" });
    if (incremental) batch.markDirty(id);
    return "skip";
  }

  /** Groups of a kind SYNC_GROUP_KINDS leaves out are not stored; one that was stored is removed and its members recomputed. */
  private groupKindVerdict(batch: ObjectBatch, id: string, properties: Flat): boolean {
    const { scope, runState, summary } = this.run;
    const previous = batch.stored.get(id);
    if (scope.settings.groupKinds.length === groupKinds.length) return true;
    const known = "securityEnabled" in properties || "groupTypes" in properties || "mailEnabled" in properties;
    // A partial update of a group never stored belongs to a group left out by kind (a new group arrives whole).
    if (!known) return previous !== undefined;
    if (scope.groupKindSynced(properties)) {
      if (!previous) runState.include(id);
      return true;
    }
    const reason = `kind ${groupDerived(properties).kind} is not in SYNC_GROUP_KINDS`;
    summary.scope.groupsExcluded++;
    runState.plan.record("groupExcluded", { id, name: describeName(properties), reason });
    runState.exclude({ id, objectType: "group", code: "kind", reason });
    if (previous) {
      batch.ops.push({ kind: "delete", ...keyOf.groups(this.run.tenantId, id) });
      batch.markDirty(id);
    }
    return false;
  }

  /** Exclusions recorded and removed after the page's scope decisions (id and reason only). */
  private async saveExclusionChanges(): Promise<void> {
    const changes = this.run.runState.takeExclusionChanges();
    await this.run.state.saveExclusions(changes.save);
    await this.run.state.removeExclusions(changes.remove);
  }

  /** Records the change in the plan and, unless the page is the first load of an empty store, as a change event. */
  private note(batch: ObjectBatch, change: { kind: string; entry: PlanEntry; description?: string; memberType?: string }): void {
    this.run.runState.plan.record(change.kind, change.entry);
    // The first load of an empty store is not a change to anyone: one event per object would only flood the feed.
    if (batch.context.initialLoad) return;
    const description = change.description ?? (change.entry.name ? `${change.entry.name} (${change.entry.id})` : change.entry.id);
    const event = changeEvent(this.run, { kind: change.kind, objectId: change.entry.id, groupId: change.entry.groupId, description, at: batch.context.now });
    if (change.memberType === undefined) batch.events.push(event);
    // A full read meets every membership, changed or not: the closure after it reports the ones whose direct membership changed.
    else if (batch.context.fullReadGeneration === undefined) batch.membershipEvents.push({ event, memberType: change.memberType });
  }

  private async write(context: PageContext, table: DirectoryTableName, operations: TableOperation[]): Promise<void> {
    if (context.buffer) context.buffer.add(table, operations);
    else await this.run.store.apply(table, operations);
  }

  private async recordPageEvents(context: PageContext, events: ChangeEvent[]): Promise<void> {
    if (context.buffer) context.buffer.addEvents(events);
    else await recordEvents(this.run, events);
  }
}

function flatten<P>(kind: ObjectTable, properties: Partial<P>): Flat {
  if (kind === "users") return flattenUserProperties(properties as Partial<UserProperties>);
  if (kind === "groups") return flattenGroupProperties(properties as Partial<GroupProperties>);
  return flattenDeviceProperties(properties as Partial<DeviceProperties>);
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

function describeName(properties: Record<string, unknown>): string | undefined {
  const name = properties.userPrincipalName ?? properties.displayName;
  return typeof name === "string" ? name : undefined;
}

export function describeObject(id: string, properties: Record<string, unknown>): string {
  const name = describeName(properties);
  return name !== undefined ? `${name} (${id})` : id;
}
