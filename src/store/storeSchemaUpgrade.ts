// Brings a tenant's store to the schema version this sync writes (building what an older store lacks), then records the version.
import type { Logger } from "../logging/logger";
import type { DirectoryStore } from "./directoryStore";
import { parseSchemaVersion, storeSchemaMarker, storeSchemaVersion } from "./storeSchema";
import type { SyncStateStore } from "./syncStateStore";
import { tenantPartitionRange } from "./tableKeys";
import { lookupValuesOf, reconcileLookupRows, type LookupRow, type LookupValues } from "./userLookup";

/** One point read on a current store; otherwise builds the lookup index from the stored users and only then records the version, so a crash repeats the build. */
export async function upgradeStoreSchema(store: DirectoryStore, state: SyncStateStore, logger: Logger): Promise<void> {
  const found = parseSchemaVersion(await state.readMarker(storeSchemaMarker));
  if (found === storeSchemaVersion) return;
  if (found !== undefined && found > storeSchemaVersion) {
    throw new Error(`The store of tenant ${store.tenantId} has schema version ${found}, newer than this sync's ${storeSchemaVersion}: a newer version of entra-table-sync wrote it; deploy that version (or newer) rather than an older one.`);
  }
  const started = Date.now();
  const users: Array<{ id: string; values: LookupValues | undefined }> = [];
  for await (const user of store.listObjects("users", "deleted eq false", ["RowKey", "mail", "userPrincipalName", "employeeId", "deleted"])) users.push({ id: user.id, values: lookupValuesOf(user) });
  const stored: LookupRow[] = [];
  for await (const row of store.tables.userLookup.listRows({ filter: tenantPartitionRange(store.tenantId), select: ["PartitionKey", "RowKey", "value"] })) {
    stored.push({ partitionKey: row.partitionKey, rowKey: row.rowKey, value: String(row.value ?? "") });
  }
  const operations = reconcileLookupRows(store.tenantId, users, stored);
  await store.apply("userLookup", operations);
  await state.saveMarker(storeSchemaMarker, String(storeSchemaVersion));
  logger.info(`Store schema ${found ?? 1} -> ${storeSchemaVersion}: user lookup index built for ${users.length} users (${operations.length} writes) in ${Date.now() - started} ms`);
}
