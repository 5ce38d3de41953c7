// The lookup index's writes from a user's before and after states: one row per distinct value, exact, minimal, and a reconciliation that repairs any store.
import assert from "node:assert/strict";
import { test } from "node:test";
import { lookupDigest, lookupValuesOf, reconcileLookupRows, userLookupOperations, type LookupRow } from "../../src/store/userLookup";
import type { TableOperation } from "../../src/store/tableWriter";

const tenant = "7e57a7e0-5ad1-4c3b-9d0e-57a4d1e5c0de";
const userId = "0f8fad5b-d9cb-469f-a165-70867728950e";
const user = (properties: Record<string, unknown>, deleted = false) => lookupValuesOf({ properties, deleted });
const known = ["ada@contoso.com", "ada.l@contoso.com", "ada@contoso.onmicrosoft.com", "42"];
/** "upsert {value} [{kinds}]" or "delete {value}", the value found back from the digest in the RowKey. */
const describe = (operations: TableOperation[]) =>
  operations.map((operation) => (operation.kind === "upsert" ? `upsert ${operation.properties.value} [${operation.properties.kinds}]` : `delete ${known.find((value) => operation.rowKey.startsWith(lookupDigest(value))) ?? "?"}`));

test("a new user gets one row per distinct non-empty value, lower-cased, naming its kinds; a deleted or missing one none", () => {
  const created = userLookupOperations(tenant, userId, undefined, user({ mail: "Ada@Contoso.com", userPrincipalName: "ada@contoso.onmicrosoft.com", employeeId: null }));
  assert.deepEqual(describe(created), ["upsert ada@contoso.com [mail]", "upsert ada@contoso.onmicrosoft.com [upn]"]);
  assert.equal(created[0]!.rowKey, `${lookupDigest("ada@contoso.com")}_${userId}`);
  assert.equal(created[0]!.partitionKey, `${tenant}_${lookupDigest("ada@contoso.com").charAt(0)}`, "16 partitions per tenant, none per kind");
  assert.equal(user({ mail: "ada@contoso.com" }, true), undefined);
  assert.deepEqual(userLookupOperations(tenant, userId, undefined, user({ mail: "ada@contoso.com" }, true)), []);
});

test("a mail equal to the user principal name is one row with kinds 'mail upn'; an employee id equal to the mail merges too", () => {
  assert.deepEqual(describe(userLookupOperations(tenant, userId, undefined, user({ mail: "Ada@contoso.com", userPrincipalName: "ada@Contoso.com", employeeId: "42" }))), ["upsert ada@contoso.com [mail upn]", "upsert 42 [employeeId]"]);
  assert.deepEqual(describe(userLookupOperations(tenant, userId, undefined, user({ mail: "ada@contoso.com", employeeId: "ADA@contoso.com" }))), ["upsert ada@contoso.com [mail employeeId]"]);
  assert.deepEqual(describe(userLookupOperations(tenant, userId, undefined, user({ mail: "ada@contoso.com", userPrincipalName: "ada@contoso.com", employeeId: "ada@contoso.com" }))), ["upsert ada@contoso.com [mail upn employeeId]"]);
});

test("a mail moved away from the UPN splits the row (two writes), moved back merges it; a change of case or of another property writes nothing", () => {
  const merged = user({ mail: "ada@contoso.com", userPrincipalName: "ada@contoso.com", employeeId: "42" });
  const split = user({ mail: "ada.l@contoso.com", userPrincipalName: "ada@contoso.com", employeeId: "42" });
  assert.deepEqual(describe(userLookupOperations(tenant, userId, merged, split)), ["upsert ada.l@contoso.com [mail]", "upsert ada@contoso.com [upn]"]);
  assert.deepEqual(describe(userLookupOperations(tenant, userId, split, merged)), ["delete ada.l@contoso.com", "upsert ada@contoso.com [mail upn]"]);
  assert.deepEqual(userLookupOperations(tenant, userId, merged, user({ mail: "ADA@contoso.com", userPrincipalName: "Ada@Contoso.com", employeeId: "42", jobTitle: "CTO" })), []);
  assert.deepEqual(describe(userLookupOperations(tenant, userId, merged, undefined)), ["delete ada@contoso.com", "delete 42"], "deletion removes every row, one per distinct value");
});

test("reconciliation writes what is missing, rewrites a row whose kinds differ, deletes what should not be there (old per-kind rows too), and leaves correct rows alone", () => {
  const other = "1f8fad5b-d9cb-469f-a165-70867728950e";
  const values = user({ mail: "ada@contoso.com", userPrincipalName: "ada@contoso.com", employeeId: "42" });
  const [mailRow, idRow] = userLookupOperations(tenant, userId, undefined, values);
  const stored = (operation: TableOperation, kinds: string): LookupRow => ({ partitionKey: operation.partitionKey, rowKey: operation.rowKey, value: operation.kind === "upsert" ? String(operation.properties.value) : "", kinds });
  const stale: LookupRow = { partitionKey: `${tenant}_0`, rowKey: `${"0".repeat(64)}_${other}`, value: "gone@contoso.com", kinds: "mail" };
  const perKind: LookupRow = { partitionKey: `${tenant}_mail_${mailRow!.rowKey.charAt(0)}`, rowKey: mailRow!.rowKey, value: "ada@contoso.com", kinds: "" };
  const operations = reconcileLookupRows(tenant, [{ id: userId, values }], [stored(mailRow!, "mail upn"), stored(idRow!, "upn"), stale, perKind]);
  assert.deepEqual(
    operations.map((operation) => `${operation.kind} ${operation.partitionKey} ${operation.rowKey}${operation.kind === "upsert" ? ` [${operation.properties.kinds}]` : ""}`),
    [`delete ${stale.partitionKey} ${stale.rowKey}`, `delete ${perKind.partitionKey} ${perKind.rowKey}`, `upsert ${idRow!.partitionKey} ${idRow!.rowKey} [employeeId]`],
  );
});
