// Brings a tenant's store to the schema version this sync writes: the lookup index first, then (with the run's closure) the membership layout.
import type { Logger } from "../logging/logger";
import type { DirectoryStore } from "./directoryStore";
import { lookupIndexSchemaVersion, parseSchemaVersion, storeSchemaMarker, storeSchemaVersion } from "./storeSchema";
import type { SyncStateStore } from "./syncStateStore";
import { tenantPartitionRange } from "./tableKeys";
import { lookupValuesOf, reconcileLookupRows, type LookupRow, type LookupValues } from "./userLookup";

/** The version a store is at before this run, read from its marker (1 without one). */
export async function readStoreSchemaVersion(state: SyncStateStore): Promise<number> {
  return parseSchemaVersion(await state.readMarker(storeSchemaMarker)) ?? 1;
}

/**
 * One point read on a current store. An older one gets the lookup index (version 2) here, recorded once built so a crash repeats
 * the build; the membership layout of version 3 is rebuilt by the run's closure and recorded by `finishMembershipLayout` after it.
 */
export async function upgradeStoreSchema(store: DirectoryStore, state: SyncStateStore, logger: Logger): Promise<void> {
  const found = await readStoreSchemaVersion(state);
  if (found === storeSchemaVersion) return;
  if (found > storeSchemaVersion) {
    throw new Error(`The store of tenant ${store.tenantId} has schema version ${found}, newer than this sync's ${storeSchemaVersion}: a newer version of entra-table-sync wrote it; deploy that version (or newer) rather than an older one.`);
  }
  if (found < lookupIndexSchemaVersion) await buildLookupIndex(store, state, logger);
}

/** After the run's closure rebuilt every member's groups on its row: the old by-member table is emptied and only then version 3 recorded, so a crash repeats the rebuild. */
export async function finishMembershipLayout(store: DirectoryStore, state: SyncStateStore, logger: Logger): Promise<void> {
  const deleted = await store.emptyLegacyMemberOf();
  await state.saveMarker(storeSchemaMarker, String(storeSchemaVersion));
  logger.info(`Store schema -> ${storeSchemaVersion}: each member's groups are on its own row; ${deleted} entraMemberOf rows deleted`);
}

async function buildLookupIndex(store: DirectoryStore, state: SyncStateStore, logger: Logger): Promise<void> {
  const started = Date.now();
  const users: Array<{ id: string; values: LookupValues | undefined }> = [];
  for await (const user of store.listObjects("users", "deleted eq false", ["RowKey", "mail", "userPrincipalName", "employeeId", "deleted"])) users.push({ id: user.id, values: lookupValuesOf(user) });
  const stored: LookupRow[] = [];
  for await (const row of store.tables.userLookup.listRows({ filter: tenantPartitionRange(store.tenantId), select: ["PartitionKey", "RowKey", "value"] })) {
    stored.push({ partitionKey: row.partitionKey, rowKey: row.rowKey, value: String(row.value ?? "") });
  }
  const operations = reconcileLookupRows(store.tenantId, users, stored);
  await store.apply("userLookup", operations);
  await state.saveMarker(storeSchemaMarker, String(lookupIndexSchemaVersion));
  logger.info(`Store schema -> ${lookupIndexSchemaVersion}: user lookup index built for ${users.length} users (${operations.length} writes) in ${Date.now() - started} ms`);
}
