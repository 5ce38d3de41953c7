// Persists where each delta stream stands, which memberships still need their closure recomputed, and the membership events waiting for the run's end.
import type { ChangeEvent } from "../directory/changeEvents";
import type { StreamName } from "../directory/directoryObjects";
import { tableKeys } from "./tableKeys";
import { forEachConcurrently } from "../common/concurrency";
import type { StoreMetrics, TableOperation } from "./tableWriter";
import type { TableStore } from "./tableStore";
import { WithheldTable } from "./withheldTable";

/** Where one delta stream stands; saved after each page's writes have committed. */
export interface StreamCheckpoint {
  /** The committed starting point of the next incremental read. */
  deltaLink: string | undefined;
  /** The next page of a read in progress; a rerun resumes here. */
  nextLink: string | undefined;
  /** The deltaLink of a read that finished but whose run has not completed yet. */
  pendingDeltaLink: string | undefined;
  /** Set while a full read is under way: every object it writes carries this stamp, so the rest can be swept at the end. */
  fullReadGeneration: string | undefined;
  /** Whether the store held nothing of this tenant when the full read began (no sweep needed then). */
  storeWasEmpty: boolean;
  pages: number;
  objects: number;
}

export function emptyCheckpoint(): StreamCheckpoint {
  return { deltaLink: undefined, nextLink: undefined, pendingDeltaLink: undefined, fullReadGeneration: undefined, storeWasEmpty: false, pages: 0, objects: 0 };
}

/** Members and groups whose groups (on their rows, src/store/memberGroups.ts) must be recomputed before the run may complete. */
export interface ClosureWork {
  all: boolean;
  members: Map<string, string>;
  groups: Set<string>;
  /** Direct memberships removed since the members' lists were computed (member id → group ids). */
  removedEdges?: Map<string, Set<string>>;
  /** Direct memberships added since (member id → group ids): their Members rows were written active. */
  addedEdges?: Map<string, Set<string>>;
}

/** The part of the closure work about these members (or, with `except`, about everyone else); groups and `all` go with the rest. */
export function closureWorkOf(work: ClosureWork, members: ReadonlySet<string>, options: { except?: boolean } = {}): ClosureWork {
  const keep = (id: string) => members.has(id) !== (options.except === true);
  const edges = (map: Map<string, Set<string>> | undefined) => map && new Map([...map].filter(([id]) => keep(id)));
  const rest = options.except === true;
  return { all: rest && work.all, members: new Map([...work.members].filter(([id]) => keep(id))), groups: rest ? work.groups : new Set(), removedEdges: edges(work.removedEdges), addedEdges: edges(work.addedEdges) };
}

export interface MarkDirtyOptions {
  /** Every member is to be recomputed (after a full read, or when the scope or role mapping changed). */
  all?: boolean;
  /** Direct memberships removed, [memberId, groupId]: the closure knows they were direct and may still be inherited. */
  removedEdges?: Array<[string, string]>;
  /** Direct memberships added: an earlier removal no longer stands, and the member's list gains the group. */
  addedEdges?: Array<[string, string]>;
}

const dirtyPartition = (tenantId: string) => `${tenantId}_dirty`;
const heldPartition = (tenantId: string) => `${tenantId}_held`;
const pendingEventsPartition = (tenantId: string) => `${tenantId}_events`;
/** One row per membership: the last change of it in the run stands. */
const pendingEventRowKey = (event: ChangeEvent) => `${event.objectId}_${event.groupId ?? ""}`;

/** A membership change whose event waits for the end of the run, when it is known whether a consumer can see member and group. */
export interface PendingMembershipEvent {
  event: ChangeEvent;
  /** user, group or other: which table says whether the member is active. */
  memberType: string;
  /** Given its time and run when the run's end is about to record it; recorded again after a crash, it rewrites the same feed row. */
  stamped?: boolean;
}

/** A user deletion held back until the run that applies it; `reason` is Graph's ("changed" = soft, "deleted" = for good). */
export interface HeldDeletion {
  userId: string;
  reason: "changed" | "deleted";
  name: string;
  heldAt: string;
  /** The user left the sync scope (it still exists in Entra): soft-deleted and marked so. */
  outOfScope?: boolean;
}

/** Why an object is not in the directory tables: "filter" (its own properties), "groups" (scope groups), "pending" (to be decided), "kind" (group kind not synced). */
export type ExclusionCode = "filter" | "groups" | "pending" | "kind";

/** An object the sync knows exists but keeps out of the directory tables: only its id and why, never its properties. */
export interface Exclusion {
  id: string;
  objectType: "user" | "group";
  code: ExclusionCode;
  reason: string;
}

/** 256 partitions, so a tenant scoped down to a few of its users keeps small partitions. */
const exclusionPartition = (tenantId: string, id: string) => `${tenantId}_out_${id.slice(0, 2)}`;

export class SyncStateStore {
  constructor(
    private readonly table: TableStore,
    private readonly tenantId: string,
  ) {}

  get metrics(): StoreMetrics {
    return this.table.metrics;
  }

  /** The same state with its writes withheld: checkpoints, holds and markers move in memory only (a dry run). */
  withWritesWithheld(): SyncStateStore {
    return new SyncStateStore(new WithheldTable(this.table), this.tenantId);
  }

  async ensureTable(): Promise<void> {
    await this.table.createTable();
  }

  async readCheckpoint(stream: StreamName): Promise<StreamCheckpoint> {
    const key = tableKeys.syncState(this.tenantId, `stream-${stream}`);
    const entity = await this.table.getRow(key.partitionKey, key.rowKey);
    if (!entity) return emptyCheckpoint();
    const text = (name: string) => (typeof entity[name] === "string" && entity[name] !== "" ? (entity[name] as string) : undefined);
    return {
      deltaLink: text("deltaLink"),
      nextLink: text("nextLink"),
      pendingDeltaLink: text("pendingDeltaLink"),
      fullReadGeneration: text("fullReadGeneration"),
      storeWasEmpty: entity.storeWasEmpty === true,
      pages: Number(entity.pages ?? 0),
      objects: Number(entity.objects ?? 0),
    };
  }

  async saveCheckpoint(stream: StreamName, checkpoint: StreamCheckpoint): Promise<void> {
    const key = tableKeys.syncState(this.tenantId, `stream-${stream}`);
    await this.table.apply([
      {
        kind: "upsert",
        mode: "Replace",
        partitionKey: key.partitionKey,
        rowKey: key.rowKey,
        properties: { ...checkpoint, savedAt: new Date().toISOString() },
      },
    ]);
  }

  async holdDeletions(deletions: HeldDeletion[]): Promise<void> {
    const partitionKey = heldPartition(this.tenantId);
    await this.table.apply(
      deletions.map((deletion): TableOperation => ({ kind: "upsert", mode: "Replace", partitionKey, rowKey: deletion.userId, properties: { reason: deletion.reason, name: deletion.name, heldAt: deletion.heldAt, outOfScope: deletion.outOfScope === true } })),
    );
  }

  async releaseHolds(userIds: Iterable<string>): Promise<void> {
    const partitionKey = heldPartition(this.tenantId);
    await this.table.apply([...userIds].map((rowKey): TableOperation => ({ kind: "delete", partitionKey, rowKey })));
  }

  async readHeldDeletions(): Promise<HeldDeletion[]> {
    const held: HeldDeletion[] = [];
    const filter = `PartitionKey eq '${heldPartition(this.tenantId)}'`;
    for await (const entity of this.table.listRows({ filter })) {
      held.push({ userId: String(entity.rowKey), reason: entity.reason === "deleted" ? "deleted" : "changed", name: String(entity.name ?? ""), heldAt: String(entity.heldAt ?? ""), outOfScope: entity.outOfScope === true });
    }
    return held;
  }

  async saveExclusions(exclusions: Iterable<Exclusion>): Promise<void> {
    const operations = [...exclusions].map((exclusion): TableOperation => ({
      kind: "upsert",
      mode: "Replace",
      partitionKey: exclusionPartition(this.tenantId, exclusion.id),
      rowKey: exclusion.id,
      properties: { objectType: exclusion.objectType, code: exclusion.code, reason: exclusion.reason },
    }));
    await this.table.apply(operations);
  }

  async removeExclusions(ids: Iterable<string>): Promise<void> {
    await this.table.apply([...ids].map((id): TableOperation => ({ kind: "delete", partitionKey: exclusionPartition(this.tenantId, id), rowKey: id })));
  }

  async *listExclusions(): AsyncIterable<Exclusion> {
    const filter = `PartitionKey ge '${this.tenantId}_out_' and PartitionKey lt '${this.tenantId}_out\`'`;
    for await (const entity of this.table.listRows({ filter })) yield exclusionFrom(entity);
  }

  async hasExclusions(): Promise<boolean> {
    const filter = `PartitionKey ge '${this.tenantId}_out_' and PartitionKey lt '${this.tenantId}_out\`'`;
    for await (const _ of this.table.listRows({ filter, select: ["RowKey"], limit: 1 })) return true;
    return false;
  }

  async readExclusions(ids: Iterable<string>): Promise<Map<string, Exclusion>> {
    const found = new Map<string, Exclusion>();
    // Point reads in parallel, as DirectoryStore.readObjects does: an incremental closure may ask for hundreds.
    await forEachConcurrently(new Set(ids), 16, async (id) => {
      const entity = await this.table.getRow(exclusionPartition(this.tenantId, id), id);
      if (entity) found.set(id, exclusionFrom(entity));
    });
    return found;
  }

  /** A small named value the engine keeps between runs (such as the hash of the role mapping last applied). */
  async readMarker(name: string): Promise<string | undefined> {
    const key = tableKeys.syncState(this.tenantId, `marker-${name}`);
    const entity = await this.table.getRow(key.partitionKey, key.rowKey);
    return typeof entity?.value === "string" ? entity.value : undefined;
  }

  async saveMarker(name: string, value: string): Promise<void> {
    const key = tableKeys.syncState(this.tenantId, `marker-${name}`);
    await this.table.apply([{ kind: "upsert", mode: "Replace", partitionKey: key.partitionKey, rowKey: key.rowKey, properties: { value } }]);
  }

  /** Records members and groups to recompute; written before the page's own writes so a crash cannot lose them. */
  async markDirty(members: Map<string, string>, groups: Iterable<string>, options: MarkDirtyOptions = {}): Promise<void> {
    const all = options.all === true;
    const partitionKey = dirtyPartition(this.tenantId);
    const operations: TableOperation[] = [];
    for (const [memberId, memberType] of members) operations.push({ kind: "upsert", mode: "Replace", partitionKey, rowKey: `m_${memberId}`, properties: { memberType } });
    for (const groupId of groups) operations.push({ kind: "upsert", mode: "Replace", partitionKey, rowKey: `g_${groupId}`, properties: {} });
    if (all) operations.push({ kind: "upsert", mode: "Replace", partitionKey, rowKey: "all", properties: {} });
    // The last change of an edge stands: an add cancels an earlier removal, and the other way round.
    for (const [memberId, groupId] of options.addedEdges ?? []) operations.push({ kind: "delete", partitionKey, rowKey: `r_${memberId}_${groupId}` }, { kind: "upsert", mode: "Replace", partitionKey, rowKey: `a_${memberId}_${groupId}`, properties: {} });
    for (const [memberId, groupId] of options.removedEdges ?? []) operations.push({ kind: "delete", partitionKey, rowKey: `a_${memberId}_${groupId}` }, { kind: "upsert", mode: "Replace", partitionKey, rowKey: `r_${memberId}_${groupId}`, properties: {} });
    await this.table.apply(operations);
  }

  /** One row per membership (the last change in the run stands), so a page replayed after a crash writes the same rows again. */
  async savePendingMembershipEvents(pending: readonly PendingMembershipEvent[]): Promise<void> {
    const partitionKey = pendingEventsPartition(this.tenantId);
    const latest = new Map(pending.map((entry) => [pendingEventRowKey(entry.event), entry]));
    await this.table.apply(
      [...latest].map(([rowKey, { event, memberType, stamped }]): TableOperation => ({
        kind: "upsert",
        mode: "Replace",
        partitionKey,
        rowKey,
        properties: { runId: event.runId, at: event.at, kind: event.kind, objectId: event.objectId, groupId: event.groupId ?? "", description: event.description, memberType, stamped: stamped === true },
      })),
    );
  }

  /** Up to `limit` pending membership events, oldest keys first; the caller removes them once decided. */
  async readPendingMembershipEvents(limit: number): Promise<PendingMembershipEvent[]> {
    const pending: PendingMembershipEvent[] = [];
    const filter = `PartitionKey eq '${pendingEventsPartition(this.tenantId)}'`;
    for await (const row of this.table.listRows({ filter, limit })) {
      const text = (name: string) => (typeof row[name] === "string" ? (row[name] as string) : "");
      const event: ChangeEvent = { tenantId: this.tenantId, runId: text("runId"), at: text("at"), kind: text("kind"), objectId: text("objectId"), groupId: text("groupId") || undefined, description: text("description") };
      pending.push({ event, memberType: text("memberType") || "other", stamped: row.stamped === true });
    }
    return pending;
  }

  async removePendingMembershipEvents(pending: readonly PendingMembershipEvent[]): Promise<void> {
    const partitionKey = pendingEventsPartition(this.tenantId);
    await this.table.apply(pending.map((entry): TableOperation => ({ kind: "delete", partitionKey, rowKey: pendingEventRowKey(entry.event) })));
  }

  async readClosureWork(): Promise<ClosureWork> {
    const work: ClosureWork = { all: false, members: new Map(), groups: new Set() };
    const filter = `PartitionKey eq '${dirtyPartition(this.tenantId)}'`;
    for await (const entity of this.table.listRows({ filter })) {
      const rowKey = String(entity.rowKey);
      if (rowKey === "all") work.all = true;
      else if (rowKey.startsWith("m_")) work.members.set(rowKey.slice(2), String(entity.memberType ?? "other"));
      else if (rowKey.startsWith("g_")) work.groups.add(rowKey.slice(2));
      else if (rowKey.startsWith("r_") || rowKey.startsWith("a_")) {
        const [memberId = "", groupId = ""] = rowKey.slice(2).split("_");
        const edges = rowKey.startsWith("r_") ? (work.removedEdges ??= new Map()) : (work.addedEdges ??= new Map());
        edges.set(memberId, (edges.get(memberId) ?? new Set<string>()).add(groupId));
      }
    }
    return work;
  }

  async clearClosureWork(work: ClosureWork): Promise<void> {
    const partitionKey = dirtyPartition(this.tenantId);
    const operations: TableOperation[] = [];
    for (const memberId of work.members.keys()) operations.push({ kind: "delete", partitionKey, rowKey: `m_${memberId}` });
    for (const groupId of work.groups) operations.push({ kind: "delete", partitionKey, rowKey: `g_${groupId}` });
    if (work.all) operations.push({ kind: "delete", partitionKey, rowKey: "all" });
    for (const [memberId, groups] of work.removedEdges ?? []) for (const groupId of groups) operations.push({ kind: "delete", partitionKey, rowKey: `r_${memberId}_${groupId}` });
    for (const [memberId, groups] of work.addedEdges ?? []) for (const groupId of groups) operations.push({ kind: "delete", partitionKey, rowKey: `a_${memberId}_${groupId}` });
    await this.table.apply(operations);
  }
}

function exclusionFrom(entity: Record<string, unknown>): Exclusion {
  const code = entity.code === "filter" || entity.code === "groups" || entity.code === "kind" ? entity.code : "pending";
  return { id: String(entity.rowKey), objectType: entity.objectType === "group" ? "group" : "user", code, reason: String(entity.reason ?? "") };
}
