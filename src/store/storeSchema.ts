// The version of the table layout the sync writes, kept in the state table so a reader can refuse a store it does not understand.

/**
 * 1: the layout before the lookup index (no marker). 2: adds the user lookup index (entraUserLookup). 3: a member's groups on its own row, no entraMemberOf.
 * 4: one lookup row per distinct value of a user, with the kinds it is held for (partitions `{tenantId}_{digit}`), instead of one per kind.
 */
export const storeSchemaVersion = 4;
/** The version that put a member's groups on its own row; an older store has them rebuilt by its next run's closure. */
export const membershipLayoutSchemaVersion = 3;

/** The marker name in the state table: PartitionKey `{tenantId}`, RowKey `marker-schema`, property `value` (the version as text). */
export const storeSchemaMarker = "schema";
export const storeSchemaRowKey = `marker-${storeSchemaMarker}`;

/** Parses the stored marker value: a positive integer, or undefined for anything else. */
export function parseSchemaVersion(value: unknown): number | undefined {
  const text = typeof value === "number" ? String(value) : value;
  return typeof text === "string" && /^[1-9][0-9]{0,5}$/.test(text) ? Number(text) : undefined;
}
