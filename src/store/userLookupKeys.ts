// Keys of the user lookup index (lower-cased mail, user principal name and employee id → user ids), shared by the sync and the reader.
import { createHash } from "node:crypto";

/** What a user can be looked up by; `upn` is the user principal name. */
export type LookupKind = "mail" | "upn" | "employeeId";
/** Also the order of the kinds in a row's `kinds` property. */
export const lookupKinds: readonly LookupKind[] = ["mail", "upn", "employeeId"];
/** The user property each lookup reads. */
export const lookupProperty: Record<LookupKind, "mail" | "userPrincipalName" | "employeeId"> = { mail: "mail", upn: "userPrincipalName", employeeId: "employeeId" };

/** The lookup form of a value: lower-cased (Unicode default case mapping), nothing else changed. */
export function normalizeLookupValue(value: string): string {
  return value.toLowerCase();
}

/** SHA-256 of the lower-cased value (UTF-8), hex: any value, of any length or character, becomes a safe fixed-length key. */
export function lookupDigest(value: string): string {
  return createHash("sha256").update(normalizeLookupValue(value), "utf8").digest("hex");
}

/** A row's `kinds` property: the kinds a user holds the row's value for, space-separated, in the order of `lookupKinds`. */
export function formatLookupKinds(kinds: Iterable<LookupKind>): string {
  const held = new Set(kinds);
  return lookupKinds.filter((kind) => held.has(kind)).join(" ");
}

/** Whether a stored `kinds` property names this kind; anything not a string names none. */
export function lookupKindsInclude(kinds: unknown, kind: LookupKind): boolean {
  return typeof kinds === "string" && kinds.split(" ").includes(kind);
}

/** Keys of the lookup table: 16 partitions per tenant by the digest's first hex digit, RowKey `{digest}_{userId}`, so duplicates sit side by side. */
export const lookupKeys = {
  row: (tenantId: string, digest: string, userId: string) => ({ partitionKey: `${tenantId}_${digest.charAt(0)}`, rowKey: `${digest}_${userId}` }),
  /** The one partition and RowKey range holding every user with this value, whatever kinds each holds it for. */
  range: (tenantId: string, digest: string) => ({ partitionKey: `${tenantId}_${digest.charAt(0)}`, rowKeyFrom: `${digest}_`, rowKeyTo: `${digest}\`` }),
} as const;
