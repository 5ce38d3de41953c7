// Derives, from the stand-in's model, exactly what the store must hold, and compares the two entity by entity.
import assert from "node:assert/strict";
import { groupPropertyNames, userPropertyNames } from "../../src/directory/directoryObjects";
import type { DirectorySnapshot } from "../../src/store/directoryStore";
import type { DirectoryModel } from "../../standin/directoryModel";

interface ComparableStore {
  users: string[];
  groups: string[];
  members: string[];
  memberOf: string[];
}

/** Lines about soft-deleted objects: the store may lack them (a full read never returns such objects) but must not contradict them. */
type OptionalLines = Record<keyof ComparableStore, Set<string>>;

function objectLine(id: string, properties: object, names: readonly string[], deleted: boolean): string {
  // Graph does not say what a soft-deleted object looked like when it went, so only its state is compared.
  if (deleted) return `${id} DELETED`;
  const values = names.map((name) => {
    const value = (properties as Record<string, unknown>)[name];
    if (value === null || value === undefined) return `${name}=∅`;
    return `${name}=${Array.isArray(value) ? JSON.stringify(value) : String(value)}`;
  });
  return `${id} ${deleted ? "DELETED " : ""}${values.join(" ")}`;
}

/** What the store must contain for this model; soft-deleted objects stay, marked deleted, with inactive memberships. */
export function expectedStore(model: DirectoryModel): ComparableStore & { optional: OptionalLines } {
  const users = [...model.users.values()].map((user) => objectLine(user.id, user, userPropertyNames, user.deleted));
  const groups = [...model.groups.values()].map((group) => objectLine(group.id, group, groupPropertyNames, group.deleted));
  const isDeleted = (id: string) => model.users.get(id)?.deleted === true || model.groups.get(id)?.deleted === true;
  const optional: OptionalLines = { users: new Set(), groups: new Set(), members: new Set(), memberOf: new Set() };
  for (const user of model.users.values()) if (user.deleted) optional.users.add(objectLine(user.id, user, userPropertyNames, true));
  for (const group of model.groups.values()) if (group.deleted) optional.groups.add(objectLine(group.id, group, groupPropertyNames, true));
  const members: string[] = [];
  const directOf = new Map<string, Array<{ groupId: string; type: string }>>();
  const parentsOf = new Map<string, string[]>();
  for (const [groupId, groupMembers] of model.members) {
    if (!model.groups.has(groupId)) continue;
    for (const [memberId, type] of groupMembers) {
      const active = !isDeleted(memberId) && !isDeleted(groupId);
      members.push(`${groupId} <- ${memberId} ${type} ${active ? "active" : "inactive"}`);
      if (isDeleted(memberId) || isDeleted(groupId)) optional.members.add(members[members.length - 1]!);
      const list = directOf.get(memberId) ?? [];
      list.push({ groupId, type });
      directOf.set(memberId, list);
      if (type === "group") parentsOf.set(memberId, [...(parentsOf.get(memberId) ?? []), groupId]);
    }
  }
  const ancestors = (groupId: string): Set<string> => {
    const seen = new Set<string>([groupId]);
    const found = new Set<string>();
    const queue = [groupId];
    while (queue.length > 0) {
      for (const parent of parentsOf.get(queue.pop()!) ?? []) {
        if (seen.has(parent) || isDeleted(parent)) continue;
        seen.add(parent);
        found.add(parent);
        queue.push(parent);
      }
    }
    return found;
  };
  const memberOf: string[] = [];
  for (const [memberId, direct] of directOf) {
    const type = direct[0]!.type;
    const rows = new Map<string, { direct: boolean; directActive: boolean; inherited: boolean }>();
    for (const edge of direct) rows.set(edge.groupId, { direct: true, directActive: !isDeleted(memberId) && !isDeleted(edge.groupId), inherited: false });
    if (!isDeleted(memberId)) {
      for (const edge of direct) {
        if (isDeleted(edge.groupId)) continue;
        for (const ancestor of ancestors(edge.groupId)) {
          if (ancestor === memberId) continue;
          const row = rows.get(ancestor) ?? { direct: false, directActive: false, inherited: false };
          row.inherited = true;
          rows.set(ancestor, row);
        }
      }
    }
    for (const [groupId, row] of rows) {
      const line = `${memberId} -> ${groupId} ${type} direct=${row.direct} directActive=${row.directActive} inherited=${row.inherited}`;
      memberOf.push(line);
      if (!row.inherited && (isDeleted(memberId) || isDeleted(groupId))) optional.memberOf.add(line);
    }
  }
  return { users: users.sort(), groups: groups.sort(), members: members.sort(), memberOf: memberOf.sort(), optional };
}

export function comparableSnapshot(snapshot: DirectorySnapshot): ComparableStore {
  const parse = (value: string | boolean | null | undefined, name: string) => (name === "groupTypes" && typeof value === "string" ? JSON.parse(value) : value);
  const users = snapshot.users.map((user) =>
    objectLine(user.id, Object.fromEntries(userPropertyNames.map((name) => [name, parse(user.properties[name], name)])), userPropertyNames, user.deleted),
  );
  const groups = snapshot.groups.map((group) =>
    objectLine(group.id, Object.fromEntries(groupPropertyNames.map((name) => [name, parse(group.properties[name], name)])), groupPropertyNames, group.deleted),
  );
  const members = snapshot.members.map((row) => `${row.groupId} <- ${row.memberId} ${row.memberType} ${row.active ? "active" : "inactive"}`);
  const memberOf = snapshot.memberOf.map(
    (row) => `${row.memberId} -> ${row.groupId} ${row.memberType} direct=${row.direct} directActive=${row.directActive} inherited=${row.inherited}`,
  );
  return { users: users.sort(), groups: groups.sort(), members: members.sort(), memberOf: memberOf.sort() };
}

/** Fails with a readable diff naming the table, listing entities missing from and unexpected in the store. */
export function assertStoreMatches(snapshot: DirectorySnapshot, model: DirectoryModel): void {
  const actual = comparableSnapshot(snapshot);
  const expected = expectedStore(model);
  for (const table of ["users", "groups", "members", "memberOf"] as const) {
    const actualSet = new Set(actual[table]);
    const expectedSet = new Set(expected[table]);
    const missing = expected[table].filter((line) => !actualSet.has(line) && !expected.optional[table].has(line));
    const unexpected = actual[table].filter((line) => !expectedSet.has(line));
    assert.deepEqual({ table, missing: missing.slice(0, 10), unexpected: unexpected.slice(0, 10) }, { table, missing: [], unexpected: [] });
    assert.equal(new Set(actual[table]).size, actual[table].length, `${table}: no row twice`);
  }
}
