// The change feed: stores each page's change events per tenant in time order, and reads them back a page at a time.
import { createHash } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import { odata } from "@azure/data-tables";
import { statusOf, TableWriter, emptyStoreMetrics, type TableOperation } from "../store/tableWriter";
import { isChangeKind } from "../sync/changeKinds";
import type { ChangeEvent, ChangeSink } from "../directory/changeEvents";
import { decodeCursor, encodeCursor, InvalidCursorError } from "../store/changeCursor";

export { decodeCursor, encodeCursor, InvalidCursorError };


export type { ChangeEvent };

/** Descriptions are names and ids; anything longer is cut so an entity stays far below the 64 KiB string limit. */
const maxDescriptionLength = 1024;
/** Parallel transactions when a page records its events; pages are small, so a few suffice. */
const writeConcurrency = 4;

export interface ChangePageQuery {
  tenantId: string;
  /** Events at or after this time (ISO 8601). */
  since?: string;
  /** Only this run's events. */
  runId?: string;
  /** Leave out this run's events (the feed "since a run" starts at its start and skips its own). */
  excludeRunId?: string;
  /** Events before this time (ISO 8601). */
  until?: string;
  /** Only events whose kind starts with this object type: user, group, device or membership. */
  objectType?: ChangeObjectType;
  /** Continue after this cursor from an earlier page. */
  cursor?: string;
  limit: number;
}

/** What a change is about; event kinds start with it (userCreated, membershipAdded…). */
export const changeObjectTypes = ["user", "group", "device", "membership"] as const;
export type ChangeObjectType = (typeof changeObjectTypes)[number];

export interface ChangePage {
  events: ChangeEvent[];
  /** Pass back as `cursor` for the next page; undefined when this page reached the end. */
  nextCursor: string | undefined;
}

export class ChangeFeed implements ChangeSink {
  private readonly writer = new TableWriter(emptyStoreMetrics(), writeConcurrency);

  constructor(private readonly table: TableClient) {}

  async record(events: ChangeEvent[]): Promise<void> {
    const undocumented = events.find((event) => !isChangeKind(event.kind));
    // A kind outside the list would reach consumers undocumented; tests that produce it fail here with the fix.
    if (undocumented) throw new Error(`Change kind "${undocumented.kind}" is not in changeKinds (src/sync/changeKinds.ts): add it there, to "Kinds:" in docs/api.md and to ChangeEvent.kind in docs/openapi.yaml`);
    const operations: TableOperation[] = events.map((event) => ({
      kind: "upsert",
      mode: "Replace",
      partitionKey: event.tenantId,
      rowKey: rowKeyOf(event),
      properties: { runId: event.runId, at: event.at, kind: event.kind, objectId: event.objectId, groupId: event.groupId, description: event.description.slice(0, maxDescriptionLength) },
    }));
    await this.writer.apply(this.table, operations);
  }

  async page(query: ChangePageQuery): Promise<ChangePage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    let filter = odata`PartitionKey eq ${query.tenantId}`;
    if (after !== undefined) filter += odata` and RowKey gt ${after}`;
    if (query.since !== undefined) filter += odata` and RowKey ge ${query.since}`;
    if (query.until !== undefined) filter += odata` and RowKey lt ${query.until}`;
    // Kinds are letters only, so "{" (just after "z") bounds every kind with the prefix.
    if (query.objectType !== undefined) filter += odata` and kind ge ${query.objectType} and kind lt ${`${query.objectType}{`}`;
    if (query.runId !== undefined) filter += odata` and runId eq ${query.runId}`;
    if (query.excludeRunId !== undefined) filter += odata` and runId ne ${query.excludeRunId}`;
    const events: ChangeEvent[] = [];
    let lastRowKey: string | undefined;
    try {
      for await (const entity of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        if (events.length === query.limit) return { events, nextCursor: encodeCursor(lastRowKey!) };
        events.push(fromEntity(query.tenantId, entity));
        lastRowKey = String(entity.rowKey);
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    return { events, nextCursor: undefined };
  }

  /** Deletes the tenant's events older than `cutoff`; returns how many went. */
  async purgeBefore(tenantId: string, cutoff: string): Promise<number> {
    const operations: TableOperation[] = [];
    const filter = odata`PartitionKey eq ${tenantId} and RowKey lt ${cutoff}`;
    try {
      for await (const entity of this.table.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })) {
        operations.push({ kind: "delete", partitionKey: tenantId, rowKey: String(entity.rowKey) });
      }
    } catch (error) {
      if (statusOf(error) === 404) return 0;
      throw error;
    }
    await this.writer.apply(this.table, operations);
    return operations.length;
  }
}

function rowKeyOf(event: ChangeEvent): string {
  // The digest keeps one event per change per page: a page's events share `at`, and both streams write at once.
  const digest = createHash("sha256").update(`${event.kind}|${event.objectId}|${event.groupId ?? ""}`).digest("hex").slice(0, 16);
  return `${event.at}_${event.runId}_${digest}`;
}

function fromEntity(tenantId: string, entity: Record<string, unknown>): ChangeEvent {
  const text = (name: string) => (typeof entity[name] === "string" && entity[name] !== "" ? (entity[name] as string) : undefined);
  return { tenantId, runId: text("runId") ?? "", at: text("at") ?? "", kind: text("kind") ?? "", objectId: text("objectId") ?? "", groupId: text("groupId"), description: text("description") ?? "" };
}
