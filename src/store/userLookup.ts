// The user lookup index: which writes keep it exact as users change (the sync's side; the keys are in userLookupKeys.ts).
import type { EntityProperties, TableOperation } from "./tableWriter";
import { lookupDigest, lookupKeys, lookupKinds, lookupProperty, normalizeLookupValue, type LookupKind } from "./userLookupKeys";

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

/** The index writes that take one user from its `before` state to its `after` state; nothing when no indexed value changed. */
export function userLookupOperations(tenantId: string, userId: string, before: LookupValues | undefined, after: LookupValues | undefined): TableOperation[] {
  const operations: TableOperation[] = [];
  for (const kind of lookupKinds) {
    const old = before?.[kind];
    const next = after?.[kind];
    if (old === next) continue;
    if (old !== undefined) operations.push({ kind: "delete", ...lookupKeys.row(tenantId, kind, lookupDigest(old), userId) });
    if (next !== undefined) operations.push({ kind: "upsert", mode: "Replace", ...lookupKeys.row(tenantId, kind, lookupDigest(next), userId), properties: lookupRowProperties(next) });
  }
  return operations;
}

function lookupRowProperties(value: string): EntityProperties {
  // The value itself, so a row can be read and checked by hand; the reader still checks the user row.
  return { value };
}

/** An index row as the reconciliation compares it: its keys and value. */
export interface LookupRow {
  partitionKey: string;
  rowKey: string;
  value: string;
}

/** The writes that make the stored index rows exactly those the users call for: a store without an index gets one, a damaged one is repaired. */
export function reconcileLookupRows(tenantId: string, users: Iterable<{ id: string; values: LookupValues | undefined }>, stored: Iterable<LookupRow>): TableOperation[] {
  const wanted = new Map<string, TableOperation>();
  for (const user of users) {
    for (const operation of userLookupOperations(tenantId, user.id, undefined, user.values)) wanted.set(`${operation.partitionKey}|${operation.rowKey}`, operation);
  }
  const operations: TableOperation[] = [];
  for (const row of stored) {
    const key = `${row.partitionKey}|${row.rowKey}`;
    const want = wanted.get(key);
    if (want && want.kind === "upsert" && want.properties.value === row.value) wanted.delete(key);
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
