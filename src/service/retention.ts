// Deletes run records, run requests and change events older than RUN_RETENTION_DAYS, tenant by tenant.
import { odata } from "@azure/data-tables";
import { statusOf, TableWriter, emptyStoreMetrics, type TableOperation } from "../store/tableWriter";
import type { ServiceContext } from "./serviceContext";

/** Parallel delete transactions; the purge runs once a day beside the sync, so it stays gentle. */
const purgeConcurrency = 2;
const dayMs = 24 * 3600 * 1000;

export interface PurgeResult {
  tenantId: string;
  cutoff: string;
  runs: number;
  requests: number;
  changes: number;
}

export async function purgeExpired(context: ServiceContext, tenantIds: readonly string[]): Promise<PurgeResult[]> {
  await context.ready();
  const cutoff = new Date(context.clock() - context.settings.runRetentionDays * dayMs).toISOString();
  const writer = new TableWriter(emptyStoreMetrics(), purgeConcurrency);
  const results: PurgeResult[] = [];
  for (const tenantId of tenantIds) {
    // ISO 8601 strings in one format sort as their times do, so a string comparison is a time comparison.
    const runs = await keysWhere(context.tables.runs, odata`PartitionKey eq ${tenantId} and startedAt lt ${cutoff}`);
    await writer.apply(context.tables.runs, runs);
    const requests: TableOperation[] = [];
    for await (const key of context.requests.listRequestedBefore(tenantId, cutoff)) requests.push({ kind: "delete", ...key });
    await writer.apply(context.tables.runRequests, requests);
    const changes = await context.changes.purgeBefore(tenantId, cutoff);
    results.push({ tenantId, cutoff, runs: runs.length, requests: requests.length, changes });
  }
  return results;
}

async function keysWhere(table: ServiceContext["tables"]["runs"], filter: string): Promise<TableOperation[]> {
  const operations: TableOperation[] = [];
  try {
    for await (const entity of table.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })) {
      operations.push({ kind: "delete", partitionKey: String(entity.partitionKey), rowKey: String(entity.rowKey) });
    }
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  return operations;
}
