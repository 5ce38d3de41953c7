// Keys of the user lookup index (lower-cased mail, user principal name and employee id → user ids), shared by the sync and the reader.
import { createHash } from "node:crypto";

/** What a user can be looked up by; `upn` is the user principal name. */
export type LookupKind = "mail" | "upn" | "employeeId";
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

/** Keys of the lookup table: 16 partitions per kind by the digest's first hex digit, RowKey `{digest}_{userId}`, so duplicates sit side by side. */
export const lookupKeys = {
  row: (tenantId: string, kind: LookupKind, digest: string, userId: string) => ({ partitionKey: `${tenantId}_${kind}_${digest.charAt(0)}`, rowKey: `${digest}_${userId}` }),
  /** The one partition and RowKey range holding every user with this value. */
  range: (tenantId: string, kind: LookupKind, digest: string) => ({ partitionKey: `${tenantId}_${kind}_${digest.charAt(0)}`, rowKeyFrom: `${digest}_`, rowKeyTo: `${digest}\`` }),
} as const;
