// Derives, from the stand-in's model, exactly what the store must hold, and compares the two entity by entity.
import assert from "node:assert/strict";
import { groupPropertyNames, userPropertyNames } from "../../src/directory/directoryObjects";
import { expectedStore, memberGroupsLine, objectLine, type ComparableStore } from "../../standin/expectedStore";
import type { DirectorySnapshot } from "../../src/store/directoryStore";
import type { DirectoryModel } from "../../standin/directoryModel";

export function comparableSnapshot(snapshot: DirectorySnapshot): ComparableStore {
  const parse = (value: string | boolean | null | undefined, name: string) => (name === "groupTypes" && typeof value === "string" ? JSON.parse(value) : value);
  const users = snapshot.users.map((user) =>
    objectLine(user.id, Object.fromEntries(userPropertyNames.map((name) => [name, parse(user.properties[name], name)])), userPropertyNames, user.deleted),
  );
  const groups = snapshot.groups.map((group) =>
    objectLine(group.id, Object.fromEntries(groupPropertyNames.map((name) => [name, parse(group.properties[name], name)])), groupPropertyNames, group.deleted),
  );
  const members = snapshot.members.map((row) => `${row.groupId} <- ${row.memberId} ${row.memberType} ${row.active ? "active" : "inactive"}`);
  const memberGroups = [...snapshot.memberGroups].map(([id, lists]) => memberGroupsLine(id, lists));
  return { users: users.sort(), groups: groups.sort(), members: members.sort(), memberGroups: memberGroups.sort() };
}

/** Fails with a readable diff naming the table, listing entities missing from and unexpected in the store. */
export function assertStoreMatches(snapshot: DirectorySnapshot, model: DirectoryModel): void {
  const actual = comparableSnapshot(snapshot);
  const expected = expectedStore(model);
  for (const table of ["users", "groups", "members", "memberGroups"] as const) {
    const actualSet = new Set(actual[table]);
    const expectedSet = new Set(expected[table]);
    const missing = expected[table].filter((line) => !actualSet.has(line) && !expected.optional[table].has(line));
    const unexpected = actual[table].filter((line) => !expectedSet.has(line));
    assert.deepEqual({ table, missing: missing.slice(0, 10), unexpected: unexpected.slice(0, 10) }, { table, missing: [], unexpected: [] });
    assert.equal(new Set(actual[table]).size, actual[table].length, `${table}: no row twice`);
  }
}
