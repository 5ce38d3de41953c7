// Reads and writes one tenant's directory tables; every query a consumer or the engine needs lives here.
import type { TableClient } from "@azure/data-tables";
import type { MemberType } from "../directory/directoryObjects";
import { storedObjectFrom, type StoredObject } from "./directoryEntities";
import { decodeMemberGroups, memberGroupsColumnsOf, overflowRowCount, type MemberGroups, type MemberGroupsColumns } from "./memberGroups";
import { groupIdFromMembersPartition, membersRange, tableKeys, tenantPartitionRange } from "./tableKeys";
import type { DirectoryTableNames } from "./tableNames";
import { statusOf, type StoreMetrics, type TableOperation } from "./tableWriter";
import type { TableRow, TableStore } from "./tableStore";
import { WithheldTable } from "./withheldTable";
import { forEachConcurrently } from "../common/concurrency";

export type DirectoryTables = { [K in keyof DirectoryTableNames]: TableClient };
/** The directory's own tables, behind the storage port; the state and run tables have owners of their own. */
export type DirectoryTableName = "users" | "groups" | "devices" | "members" | "memberGroups" | "memberGroupsOverflow" | "nesting" | "userLookup" | "legacyMemberOf";
export const directoryTableNamesList: readonly DirectoryTableName[] = ["users", "groups", "devices", "members", "memberGroups", "memberGroupsOverflow", "nesting", "userLookup", "legacyMemberOf"];
/** Tables a store of this version never creates: the older layout's, only emptied when found. */
const legacyTables: ReadonlySet<DirectoryTableName> = new Set(["legacyMemberOf"]);
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

/** A row of entraMemberGroups: the direct groups of a member with no user or group row of its own. */
export interface MemberGroupsRow {
  memberId: string;
  memberType: MemberType;
  columns: MemberGroupsColumns | undefined;
}

/** The stored directory of one tenant, as plain data (export, tests, comparisons). */
export interface DirectorySnapshot {
  users: StoredObject[];
  groups: StoredObject[];
  members: MemberRow[];
  /** Each user's and group's groups, read from its row (and overflow rows), by id. */
  memberGroups: Map<string, MemberGroups>;
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
    await Promise.all(directoryTableNamesList.filter((name) => !legacyTables.has(name)).map((name) => this.tables[name].createTable()));
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

  /** A member's groups from wherever it keeps them: its user row, its group row, or its entraMemberGroups row; empty lists for a member with none. */
  async readMemberGroups(memberId: string): Promise<MemberGroups> {
    const own = (await this.readObjects("users", [memberId])).get(memberId) ?? (await this.readObjects("groups", [memberId])).get(memberId);
    const columns = own ? own.memberGroups : (await this.readMemberGroupsRows([memberId])).get(memberId)?.columns;
    return (await this.decodeMemberGroups(memberId, columns)).lists;
  }

  /** The entraMemberGroups rows of these members, where they have one. */
  async readMemberGroupsRows(ids: Iterable<string>): Promise<Map<string, MemberGroupsRow>> {
    const found = new Map<string, MemberGroupsRow>();
    await forEachConcurrently(new Set(ids), 16, async (id) => {
      const key = tableKeys.memberGroups(this.tenantId, id);
      const entity = await this.tables.memberGroups.getRow(key.partitionKey, key.rowKey);
      if (entity) found.set(id, memberGroupsRowFrom(entity));
    });
    return found;
  }

  /** Every entraMemberGroups row of the tenant, in member id order. */
  async *listAllMemberGroupsRows(): AsyncIterable<MemberGroupsRow> {
    for await (const entity of this.query(this.tables.memberGroups, tenantPartitionRange(this.tenantId))) yield memberGroupsRowFrom(entity);
  }

  /** The RowKeys of a member's overflow rows and its lists from them; one query, made only for a member whose row says it has some. */
  async readOverflow(memberId: string): Promise<{ rowKeys: string[]; rows: Row[] }> {
    const rows: Row[] = [];
    for await (const entity of this.query(this.tables.memberGroupsOverflow, `PartitionKey eq '${tableKeys.memberGroupsOverflow(this.tenantId, memberId, "").partitionKey}'`)) rows.push(entity);
    return { rowKeys: rows.map((row) => row.rowKey), rows };
  }

  /** A member's lists from its row's columns, reading its overflow rows when it has some. */
  async decodeMemberGroups(memberId: string, columns: MemberGroupsColumns | undefined): Promise<{ lists: MemberGroups; overflowRowKeys: string[] }> {
    if (overflowRowCount(columns) === 0) return { lists: decodeMemberGroups(columns), overflowRowKeys: [] };
    const overflow = await this.readOverflow(memberId);
    return { lists: decodeMemberGroups(columns, overflow.rows), overflowRowKeys: overflow.rowKeys };
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
    const [users, groups, members] = await Promise.all([collect(this.listObjects("users")), collect(this.listObjects("groups")), collect(this.listAllMembers())]);
    const memberGroups = new Map<string, MemberGroups>();
    for (const object of [...users, ...groups]) memberGroups.set(object.id, (await this.decodeMemberGroups(object.id, object.memberGroups)).lists);
    return { users, groups, members, memberGroups };
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

  /** Deletes every row the tenant has in schema version 2's entraMemberOf, a page at a time; a table that was never there holds none. */
  async emptyLegacyMemberOf(): Promise<number> {
    let deleted = 0;
    let page: TableOperation[] = [];
    try {
      for await (const row of this.query(this.tables.legacyMemberOf, tenantPartitionRange(this.tenantId), ["PartitionKey", "RowKey"])) {
        page.push({ kind: "delete", partitionKey: row.partitionKey, rowKey: row.rowKey });
        if (page.length >= 1000) {
          await this.apply("legacyMemberOf", page);
          deleted += page.length;
          page = [];
        }
      }
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    await this.apply("legacyMemberOf", page);
    return deleted + page.length;
  }

  private query(table: TableStore, filter: string, select?: string[], limit?: number): AsyncIterable<Row> {
    return table.listRows({ filter, select, limit });
  }
}

function memberGroupsRowFrom(entity: Record<string, unknown>): MemberGroupsRow {
  return { memberId: String(entity.rowKey), memberType: (entity.memberType as MemberType) ?? "other", columns: memberGroupsColumnsOf(entity) };
}
