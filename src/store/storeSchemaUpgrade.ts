// Brings a tenant's store to the schema version this sync writes: the lookup index first, then (with the run's closure) the membership layout if older.
import type { Logger } from "../logging/logger";
import type { DirectoryStore } from "./directoryStore";
import { membershipLayoutSchemaVersion, parseSchemaVersion, storeSchemaMarker, storeSchemaVersion } from "./storeSchema";
import type { SyncStateStore } from "./syncStateStore";
import { tenantPartitionRange } from "./tableKeys";
import { lookupValuesOf, reconcileLookupRows, type LookupRow, type LookupValues } from "./userLookup";

/** The version a store is at before this run, read from its marker (1 without one). */
export async function readStoreSchemaVersion(state: SyncStateStore): Promise<number> {
  return parseSchemaVersion(await state.readMarker(storeSchemaMarker)) ?? 1;
}

/**
 * One point read on a current store. An older one gets its lookup index reconciled into the current format here; a store already on the
 * membership layout (3) then records the current version, an older one records it after the run's closure rebuilt that layout
 * (`finishMembershipLayout`). Either way a crash before the marker repeats the whole upgrade.
 */
export async function upgradeStoreSchema(store: DirectoryStore, state: SyncStateStore, logger: Logger): Promise<void> {
  const found = await readStoreSchemaVersion(state);
  if (found === storeSchemaVersion) return;
  if (found > storeSchemaVersion) {
    throw new Error(`The store of tenant ${store.tenantId} has schema version ${found}, newer than this sync's ${storeSchemaVersion}: a newer version of entra-table-sync wrote it; deploy that version (or newer) rather than an older one.`);
  }
  await reconcileLookupIndex(store, logger);
  if (found >= membershipLayoutSchemaVersion) {
    await state.saveMarker(storeSchemaMarker, String(storeSchemaVersion));
    logger.info(`Store schema ${found} -> ${storeSchemaVersion}: the user lookup index holds one row per distinct value`);
  }
}

/** Whether this run must rebuild every member's groups on its row (a store older than version 3), and record the version after it. */
export async function needsMembershipLayout(state: SyncStateStore): Promise<boolean> {
  return (await readStoreSchemaVersion(state)) < membershipLayoutSchemaVersion;
}

/** After the run's closure rebuilt every member's groups on its row: the old by-member table is emptied and only then the current version recorded, so a crash repeats the rebuild. */
export async function finishMembershipLayout(store: DirectoryStore, state: SyncStateStore, logger: Logger): Promise<void> {
  const deleted = await store.emptyLegacyMemberOf();
  await state.saveMarker(storeSchemaMarker, String(storeSchemaVersion));
  logger.info(`Store schema -> ${storeSchemaVersion}: each member's groups are on its own row; ${deleted} entraMemberOf rows deleted`);
}

/** The index made exactly what the stored users call for: rows of an older format (other partitions) deleted, missing ones written; repeatable. */
async function reconcileLookupIndex(store: DirectoryStore, logger: Logger): Promise<void> {
  const started = Date.now();
  const users: Array<{ id: string; values: LookupValues | undefined }> = [];
  for await (const user of store.listObjects("users", "deleted eq false", ["RowKey", "mail", "userPrincipalName", "employeeId", "deleted"])) users.push({ id: user.id, values: lookupValuesOf(user) });
  const stored: LookupRow[] = [];
  for await (const row of store.tables.userLookup.listRows({ filter: tenantPartitionRange(store.tenantId), select: ["PartitionKey", "RowKey", "value", "kinds"] })) {
    stored.push({ partitionKey: row.partitionKey, rowKey: row.rowKey, value: String(row.value ?? ""), kinds: String(row.kinds ?? "") });
  }
  const operations = reconcileLookupRows(store.tenantId, users, stored);
  await store.apply("userLookup", operations);
  logger.info(`User lookup index reconciled for ${users.length} users: ${stored.length} rows found, ${operations.length} writes, in ${Date.now() - started} ms`);
}
