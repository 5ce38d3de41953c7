// Reads one tenant's directory tables a page at a time as export records named like the table columns (docs/schema.md, "Export").
import type { TableClient } from "@azure/data-tables";
import type { DirectoryTables } from "./directoryStore";
import { groupIdFromMembersPartition, tenantPartitionRange } from "./tableKeys";

/** The sections of an export, in the order they are written; each is one directory table. */
export const exportSections = ["users", "groups", "devices", "members", "memberOf"] as const;
export type ExportSection = (typeof exportSections)[number];

/** An export record: the row's columns under their table names, plus the ids its keys hold. */
export type ExportRecord = Record<string, string | number | boolean>;

/** A query page holds at most 1,000 entities (Table service, Query Entities). */
const maxQueryPageSize = 1000;
/** Columns that are keys, service metadata or engine-internal; the keys come back as named ids instead. */
const leftOut = new Set(["partitionKey", "rowKey", "etag", "timestamp", "tenantId", "gen", "hash"]);

/** Yields the section's rows a page at a time: the caller writes a page before the next is read, so memory stays at one page. */
export async function* exportPages(tables: DirectoryTables, tenantId: string, section: ExportSection): AsyncIterable<ExportRecord[]> {
  const table: TableClient = tables[section];
  const pages = table.listEntities<Record<string, unknown>>({ queryOptions: { filter: tenantPartitionRange(tenantId) } }).byPage({ maxPageSize: maxQueryPageSize });
  for await (const page of pages) yield page.map((entity) => exportRecord(tenantId, section, entity));
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
  if (section === "memberOf") {
    const [memberId = "", groupId = ""] = rowKey.split("_");
    return { memberId, groupId };
  }
  return { id: rowKey };
}
