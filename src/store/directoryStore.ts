// Reads and writes one tenant's directory tables; every query a consumer or the engine needs lives here.
import type { TableClient } from "@azure/data-tables";
import type { MemberType } from "../directory/directoryObjects";
import { memberOfRowFrom, storedObjectFrom, type MemberOfRow, type StoredObject } from "./directoryEntities";
import { groupIdFromMembersPartition, memberOfRange, membersRange, tableKeys, tenantPartitionRange } from "./tableKeys";
import type { DirectoryTableNames } from "./tableNames";
import type { StoreMetrics, TableOperation } from "./tableWriter";
import type { TableRow, TableStore } from "./tableStore";
import { WithheldTable } from "./withheldTable";
import { forEachConcurrently } from "../common/concurrency";

export type DirectoryTables = { [K in keyof DirectoryTableNames]: TableClient };
/** The directory's own tables, behind the storage port; the state and run tables have owners of their own. */
export type DirectoryTableName = "users" | "groups" | "devices" | "members" | "memberOf" | "nesting" | "userLookup";
export const directoryTableNamesList: readonly DirectoryTableName[] = ["users", "groups", "devices", "members", "memberOf", "nesting", "userLookup"];
export type DirectoryTableStores = Record<DirectoryTableName, TableStore>;

export interface OpenDirectoryStoreOptions {
  tables: DirectoryTableStores;
  tenantId: string;
  /** Where the tables count their reads and writes; every table of the store shares it. */
  metrics: StoreMetrics;
}
/** The tables keyed like users: one row per directory object. */
export type ObjectTable = "users" | "groups" | "devices";
const objectKeys = { users: tableKeys.user, groups: tableKeys.group, devices: tableKeys.device } as const;

type Row = TableRow;

/** One row of the Members table: a direct member of a group. */
export interface MemberRow {
  groupId: string;
  memberId: string;
  memberType: MemberType;
  active: boolean;
  generation: string | undefined;
}

/** The stored directory of one tenant, as plain data (export, tests, comparisons). */
export interface DirectorySnapshot {
  users: StoredObject[];
  groups: StoredObject[];
  members: MemberRow[];
  memberOf: MemberOfRow[];
}

export class DirectoryStore {
  readonly tables: DirectoryTableStores;
  readonly tenantId: string;
  readonly metrics: StoreMetrics;

  constructor(options: OpenDirectoryStoreOptions) {
    this.tables = options.tables;
    this.tenantId = options.tenantId;
    this.metrics = options.metrics;
  }

  /** The same store with its writes withheld: kept in memory and seen by every later read, never sent (a dry run). */
  withWritesWithheld(): DirectoryStore {
    const tables = Object.fromEntries(directoryTableNamesList.map((name) => [name, new WithheldTable(this.tables[name])])) as unknown as DirectoryTableStores;
    return new DirectoryStore({ tables, tenantId: this.tenantId, metrics: this.metrics });
  }

  /** Creates every table if missing; 409 "already exists" is the normal answer after the first run. */
  async ensureTables(): Promise<void> {
    await Promise.all(Object.values(this.tables).map((table) => table.createTable()));
  }

  async apply(table: DirectoryTableName, operations: readonly TableOperation[]): Promise<void> {
    if (operations.length === 0) return;
    await this.tables[table].apply(operations);
  }

  async readObjects(kind: ObjectTable, ids: Iterable<string>): Promise<Map<string, StoredObject>> {
    const found = new Map<string, StoredObject>();
    const keyOf = objectKeys[kind];
    await forEachConcurrently(new Set(ids), 16, async (id) => {
      const key = keyOf(this.tenantId, id);
      const entity = await this.tables[kind].getRow(key.partitionKey, key.rowKey);
      if (entity) found.set(id, storedObjectFrom(entity));
    });
    return found;
  }

  /** Every user or group of the tenant, deleted ones included. */
  async *listObjects(kind: ObjectTable, filter?: string, select?: string[]): AsyncIterable<StoredObject> {
    const fullFilter = filter ? `${tenantPartitionRange(this.tenantId)} and (${filter})` : tenantPartitionRange(this.tenantId);
    for await (const entity of this.query(this.tables[kind], fullFilter, select)) yield storedObjectFrom(entity);
  }

  async listObjectIds(kind: ObjectTable, filter: string): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const object of this.listObjects(kind, filter, ["RowKey"])) ids.add(object.id);
    return ids;
  }

  async hasAnyObjects(): Promise<boolean> {
    for (const kind of ["users", "groups"] as const) {
      for await (const _ of this.query(this.tables[kind], tenantPartitionRange(this.tenantId), ["RowKey"], 1)) return true;
    }
    return false;
  }

  async listMemberOf(memberId: string): Promise<MemberOfRow[]> {
    const rows: MemberOfRow[] = [];
    for await (const entity of this.query(this.tables.memberOf, memberOfRange(this.tenantId, memberId))) rows.push(memberOfRowFrom(entity));
    return rows;
  }

  async *listAllMemberOf(filter?: string): AsyncIterable<MemberOfRow> {
    const fullFilter = filter ? `${tenantPartitionRange(this.tenantId)} and (${filter})` : tenantPartitionRange(this.tenantId);
    for await (const entity of this.query(this.tables.memberOf, fullFilter)) yield memberOfRowFrom(entity);
  }

  async listMembers(groupId: string): Promise<MemberRow[]> {
    const rows: MemberRow[] = [];
    for await (const entity of this.query(this.tables.members, membersRange(this.tenantId, groupId))) rows.push(this.memberRowFrom(entity));
    return rows;
  }

  async *listAllMembers(filter?: string): AsyncIterable<MemberRow> {
    const fullFilter = filter ? `${tenantPartitionRange(this.tenantId)} and (${filter})` : tenantPartitionRange(this.tenantId);
    for await (const entity of this.query(this.tables.members, fullFilter)) yield this.memberRowFrom(entity);
  }

  /** Group-in-group edges (child, parent), kept in one small partition so the whole graph loads in a query. */
  async listNesting(): Promise<Array<{ childId: string; parentId: string }>> {
    const edges: Array<{ childId: string; parentId: string }> = [];
    for await (const entity of this.query(this.tables.nesting, `PartitionKey eq '${this.tenantId}'`)) {
      const [childId, parentId] = String(entity.rowKey).split("_");
      if (childId && parentId) edges.push({ childId, parentId });
    }
    return edges;
  }

  async snapshot(): Promise<DirectorySnapshot> {
    const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
      const all: T[] = [];
      for await (const item of items) all.push(item);
      return all;
    };
    const [users, groups, members, memberOf] = await Promise.all([
      collect(this.listObjects("users")),
      collect(this.listObjects("groups")),
      collect(this.listAllMembers()),
      collect(this.listAllMemberOf()),
    ]);
    return { users, groups, members, memberOf };
  }

  private memberRowFrom(entity: Record<string, unknown>): MemberRow {
    return {
      groupId: groupIdFromMembersPartition(this.tenantId, String(entity.partitionKey)),
      memberId: String(entity.rowKey),
      memberType: (entity.memberType as MemberType) ?? "other",
      active: entity.active !== false,
      generation: typeof entity.gen === "string" ? entity.gen : undefined,
    };
  }

  private query(table: TableStore, filter: string, select?: string[], limit?: number): AsyncIterable<Row> {
    return table.listRows({ filter, select, limit });
  }
}
