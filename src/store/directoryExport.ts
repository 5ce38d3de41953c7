// Reads one tenant's directory tables a page at a time as export records named like the table columns (docs/schema.md, "Export").
import type { TableClient } from "@azure/data-tables";
import type { DirectoryTables } from "./directoryStore";
import { memberGroupsColumnsOf, overflowRowCount, readMemberGroups } from "./memberGroups";
import { groupIdFromMembersPartition, tenantPartitionRange } from "./tableKeys";

/** The sections of an export, in the order they are written; each is one directory table (a user's and a group's groups are on its record). */
export const exportSections = ["users", "groups", "devices", "members"] as const;
export type ExportSection = (typeof exportSections)[number];

/** An export record: the row's columns under their table names, plus the ids its keys hold. */
export type ExportRecord = Record<string, string | number | boolean>;

/** A query page holds at most 1,000 entities (Table service, Query Entities). */
const maxQueryPageSize = 1000;
/** Columns that are keys, service metadata or engine-internal; the keys come back as named ids instead. */
const leftOut = new Set(["partitionKey", "rowKey", "etag", "timestamp", "tenantId", "gen", "hash", "inactiveDirectGroups", "groupsOverflow"]);

/** Yields the section's rows a page at a time: the caller writes a page before the next is read, so memory stays at one page. */
export async function* exportPages(tables: DirectoryTables, tenantId: string, section: ExportSection): AsyncIterable<ExportRecord[]> {
  const table: TableClient = tables[section];
  const pages = table.listEntities<Record<string, unknown>>({ queryOptions: { filter: tenantPartitionRange(tenantId) } }).byPage({ maxPageSize: maxQueryPageSize });
  for await (const page of pages) {
    const records = page.map((entity) => exportRecord(tenantId, section, entity));
    // The rare member in very many groups keeps its lists in overflow rows: the record carries them whole all the same.
    for (const [index, entity] of page.entries()) if (overflowRowCount(memberGroupsColumnsOf(entity)) > 0) Object.assign(records[index]!, await overflowLists(tables, tenantId, entity));
    yield records;
  }
}

async function overflowLists(tables: DirectoryTables, tenantId: string, entity: Record<string, unknown>): Promise<ExportRecord> {
  const lists = await readMemberGroups(tables.memberGroupsOverflow, { tenantId, memberId: String(entity.rowKey) }, memberGroupsColumnsOf(entity));
  return { groups: JSON.stringify(lists.groups), directGroups: JSON.stringify(lists.directGroups) };
}

function exportRecord(tenantId: string, section: ExportSection, entity: Record<string, unknown>): ExportRecord {
  const record: ExportRecord = idsOf(tenantId, section, entity);
  for (const [name, value] of Object.entries(entity)) {
    if (leftOut.has(name) || name.startsWith("odata.") || name.endsWith("@odata.type")) continue;
    if (typeof value === "string" || typeof value === "boolean" || typeof value === "number") record[name] = value;
  }
  return record;
}

function idsOf(tenantId: string, section: ExportSection, entity: Record<string, unknown>): ExportRecord {
  const rowKey = String(entity.rowKey);
  if (section === "members") return { groupId: groupIdFromMembersPartition(tenantId, String(entity.partitionKey)), memberId: rowKey };
  return { id: rowKey };
}
