// Keys never contain what Table Storage forbids, and tenants' key ranges never overlap.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertSafeKey, InvalidKeyError, isObjectId, tableKeys, tenantPartitionRange } from "../../src/store/tableKeys";

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const user = "0a1b2c3d-0000-4000-8000-000000000001";

describe("table keys", () => {
  test("only GUIDs are accepted as object ids", () => {
    assert.equal(isObjectId(user), true);
    for (const bad of ["", "x/y", "a#b", "../etc", `${user}?`, 42, null, "0A1B2C3D-0000-4000-8000-000000000001"]) assert.equal(isObjectId(bad), false, String(bad));
  });

  test("forbidden characters and oversize keys are rejected", () => {
    for (const bad of ["a/b", "a\\b", "a#b", "a?b", "a\u0001b", "a\u007fb", "a\u0085b", "", "x".repeat(1025)]) {
      assert.throws(() => assertSafeKey(bad), InvalidKeyError);
    }
    assert.equal(assertSafeKey(`${tenant}_${user}`), `${tenant}_${user}`);
  });

  test("every key built from GUIDs is safe and starts with the tenant", () => {
    const keys = [tableKeys.user(tenant, user), tableKeys.group(tenant, user), tableKeys.member(tenant, user, user), tableKeys.memberGroups(tenant, user), tableKeys.memberGroupsOverflow(tenant, user, "groups_000"), tableKeys.nesting(tenant, user, user)];
    for (const key of keys) {
      assertSafeKey(key.partitionKey);
      assertSafeKey(key.rowKey);
      assert.ok(key.partitionKey.startsWith(tenant));
    }
    assert.equal(tableKeys.user(tenant, user).partitionKey, `${tenant}_${user.slice(0, 2)}`);
    assert.equal(tableKeys.member(tenant, user, user).partitionKey, `${tenant}_${user}_${Math.floor(parseInt(user[0]!, 16) / 4)}`);
    assert.equal(tableKeys.memberGroups(tenant, user).partitionKey, `${tenant}_${user.slice(0, 2)}`);
    assert.equal(tableKeys.memberGroupsOverflow(tenant, user, "groups_000").partitionKey, `${tenant}_${user}`);
  });

  test("one tenant's range excludes another whose id shares a prefix", () => {
    const range = tenantPartitionRange(tenant);
    const lower = `${tenant}_`;
    const upper = `${tenant}\``;
    assert.ok(range.includes(lower) && range.includes(upper));
    const other = `${tenant}0_f`;
    assert.ok(!(other >= lower && other < upper));
    assert.ok(`${tenant}_f` >= lower && `${tenant}_f` < upper);
  });
});
