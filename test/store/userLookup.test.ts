// The lookup index's writes from a user's before and after states: exact, minimal, and a reconciliation that repairs any store.
import assert from "node:assert/strict";
import { test } from "node:test";
import { lookupDigest, lookupValuesOf, reconcileLookupRows, userLookupOperations, type LookupRow } from "../../src/store/userLookup";
import type { TableOperation } from "../../src/store/tableWriter";

const tenant = "7e57a7e0-5ad1-4c3b-9d0e-57a4d1e5c0de";
const userId = "0f8fad5b-d9cb-469f-a165-70867728950e";
const user = (properties: Record<string, unknown>, deleted = false) => lookupValuesOf({ properties, deleted });
const describe = (operations: TableOperation[]) => operations.map((operation) => `${operation.kind} ${operation.partitionKey.slice(tenant.length + 1, -2)} ${operation.kind === "upsert" ? operation.properties.value : operation.rowKey.slice(0, 64) === lookupDigest("ada@contoso.com") ? "ada@contoso.com" : "?"}`);

test("a new user gets one row per non-empty value, lower-cased; a deleted or missing one none", () => {
  const created = userLookupOperations(tenant, userId, undefined, user({ mail: "Ada@Contoso.com", userPrincipalName: "ada@contoso.onmicrosoft.com", employeeId: null }));
  assert.deepEqual(describe(created), ["upsert mail ada@contoso.com", "upsert upn ada@contoso.onmicrosoft.com"]);
  assert.equal(created[0]!.rowKey, `${lookupDigest("ada@contoso.com")}_${userId}`);
  assert.equal(created[0]!.partitionKey, `${tenant}_mail_${lookupDigest("ada@contoso.com").charAt(0)}`);
  assert.equal(user({ mail: "ada@contoso.com" }, true), undefined);
  assert.deepEqual(userLookupOperations(tenant, userId, undefined, user({ mail: "ada@contoso.com" }, true)), []);
});

test("a change of mail moves its row; a change of case or of another property writes nothing; deletion removes every row", () => {
  const before = user({ mail: "ada@contoso.com", userPrincipalName: "ada@contoso.onmicrosoft.com", employeeId: "42" });
  assert.deepEqual(describe(userLookupOperations(tenant, userId, before, user({ mail: "ada.l@contoso.com", userPrincipalName: "ada@contoso.onmicrosoft.com", employeeId: "42" }))), ["delete mail ada@contoso.com", "upsert mail ada.l@contoso.com"]);
  assert.deepEqual(userLookupOperations(tenant, userId, before, user({ mail: "ADA@contoso.com", userPrincipalName: "Ada@Contoso.onmicrosoft.com", employeeId: "42", jobTitle: "CTO" })), []);
  assert.equal(userLookupOperations(tenant, userId, before, undefined).filter((operation) => operation.kind === "delete").length, 3);
});

test("reconciliation writes what is missing, deletes what should not be there, and leaves correct rows alone", () => {
  const other = "1f8fad5b-d9cb-469f-a165-70867728950e";
  const wanted = userLookupOperations(tenant, userId, undefined, user({ mail: "ada@contoso.com", employeeId: "42" }));
  const correct = wanted[0]!;
  const stale: LookupRow = { partitionKey: `${tenant}_mail_0`, rowKey: `${"0".repeat(64)}_${other}`, value: "gone@contoso.com" };
  const operations = reconcileLookupRows(tenant, [{ id: userId, values: user({ mail: "ada@contoso.com", employeeId: "42" }) }], [{ partitionKey: correct.partitionKey, rowKey: correct.rowKey, value: "ada@contoso.com" }, stale]);
  assert.deepEqual(
    operations.map((operation) => `${operation.kind} ${operation.rowKey}`),
    [`delete ${stale.rowKey}`, `upsert ${wanted[1]!.rowKey}`],
  );
});
