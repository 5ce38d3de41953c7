// The user lookup index: which writes keep it exact as users change (the sync's side; the keys are in userLookupKeys.ts).
import type { EntityProperties, TableOperation } from "./tableWriter";
import { formatLookupKinds, lookupDigest, lookupKeys, lookupKinds, lookupProperty, normalizeLookupValue, type LookupKind } from "./userLookupKeys";

export { lookupDigest, lookupKeys, lookupKinds, lookupProperty, normalizeLookupValue, type LookupKind };

/** The indexed values of one active user; undefined (the whole object) for a user with no row or a deleted one. */
export type LookupValues = Partial<Record<LookupKind, string>>;

/** The values a stored user is found by: none when it is deleted (soft-deleted, out of scope) or has no row. */
export function lookupValuesOf(user: { properties: Record<string, unknown>; deleted: boolean } | undefined): LookupValues | undefined {
  if (!user || user.deleted) return undefined;
  const values: LookupValues = {};
  for (const kind of lookupKinds) {
    const value = user.properties[lookupProperty[kind]];
    if (typeof value === "string" && value !== "") values[kind] = normalizeLookupValue(value);
  }
  return values;
}

/** The index writes that take one user from its `before` state to its `after` state: one row per distinct value; nothing when no value or its kinds changed. */
export function userLookupOperations(tenantId: string, userId: string, before: LookupValues | undefined, after: LookupValues | undefined): TableOperation[] {
  const old = kindsByValue(before);
  const next = kindsByValue(after);
  const operations: TableOperation[] = [];
  for (const value of old.keys()) {
    if (!next.has(value)) operations.push({ kind: "delete", ...lookupKeys.row(tenantId, lookupDigest(value), userId) });
  }
  for (const [value, kinds] of next) {
    if (old.get(value) !== kinds) operations.push({ kind: "upsert", mode: "Replace", ...lookupKeys.row(tenantId, lookupDigest(value), userId), properties: lookupRowProperties(value, kinds) });
  }
  return operations;
}

/** Each distinct value of a user with its `kinds` property: a mail equal to the user principal name is one row, not two. */
function kindsByValue(values: LookupValues | undefined): Map<string, string> {
  const byValue = new Map<string, LookupKind[]>();
  for (const kind of lookupKinds) {
    const value = values?.[kind];
    if (value !== undefined) byValue.set(value, [...(byValue.get(value) ?? []), kind]);
  }
  return new Map([...byValue].map(([value, kinds]) => [value, formatLookupKinds(kinds)]));
}

function lookupRowProperties(value: string, kinds: string): EntityProperties {
  // The kinds let a lookup skip a row held for another kind without a read; the value lets a row be checked by hand. The reader still checks the user row.
  return { value, kinds };
}

/** An index row as the reconciliation compares it: its keys, value and kinds. */
export interface LookupRow {
  partitionKey: string;
  rowKey: string;
  value: string;
  kinds: string;
}

/** The writes that make the stored index rows exactly those the users call for: a store without an index gets one, a damaged or older one is repaired. */
export function reconcileLookupRows(tenantId: string, users: Iterable<{ id: string; values: LookupValues | undefined }>, stored: Iterable<LookupRow>): TableOperation[] {
  const wanted = new Map<string, TableOperation>();
  for (const user of users) {
    for (const operation of userLookupOperations(tenantId, user.id, undefined, user.values)) wanted.set(`${operation.partitionKey}|${operation.rowKey}`, operation);
  }
  const operations: TableOperation[] = [];
  for (const row of stored) {
    const key = `${row.partitionKey}|${row.rowKey}`;
    const want = wanted.get(key);
    if (want && want.kind === "upsert" && want.properties.value === row.value && want.properties.kinds === row.kinds) wanted.delete(key);
    else if (!want) operations.push({ kind: "delete", partitionKey: row.partitionKey, rowKey: row.rowKey });
  }
  return [...operations, ...wanted.values()];
}

/** The index writes for a page of users, from each one's state before the page to its state after it. */
export function lookupOperationsBetween(
  tenantId: string,
  before: ReadonlyMap<string, LookupValues | undefined>,
  after: ReadonlyMap<string, { properties: Record<string, unknown>; deleted: boolean }>,
  userIds: Iterable<string>,
): TableOperation[] {
  const operations: TableOperation[] = [];
  for (const id of new Set(userIds)) operations.push(...userLookupOperations(tenantId, id, before.get(id), lookupValuesOf(after.get(id))));
  return operations;
}

/** Each user's indexed values now, to compare with after a page. */
export function lookupValuesBefore(users: ReadonlyMap<string, { properties: Record<string, unknown>; deleted: boolean }>): Map<string, LookupValues | undefined> {
  return new Map([...users].map(([id, user]) => [id, lookupValuesOf(user)]));
}
