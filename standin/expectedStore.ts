// What the store must hold for a model, derived from the model alone: the ground truth of tests and of the benchmark's churn count.
import { groupPropertyNames, userPropertyNames } from "../src/directory/directoryObjects";
import type { DirectoryModel } from "./directoryModel";

export interface ComparableStore {
  users: string[];
  groups: string[];
  members: string[];
  /** Each user's and group's groups as its row holds them: `{id} groups=[...] direct=[...]`, active ones only, sorted. */
  memberGroups: string[];
}

export function memberGroupsLine(id: string, lists: { groups: readonly string[]; directGroups: readonly string[] }): string {
  return `${id} groups=${JSON.stringify([...lists.groups].sort())} direct=${JSON.stringify([...lists.directGroups].sort())}`;
}

/** Lines about soft-deleted objects: the store may lack them (a full read never returns such objects) but must not contradict them. */
export type OptionalLines = Record<keyof ComparableStore, Set<string>>;

export function objectLine(id: string, properties: object, names: readonly string[], deleted: boolean): string {
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
  const optional: OptionalLines = { users: new Set(), groups: new Set(), members: new Set(), memberGroups: new Set() };
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
  const memberGroups: string[] = [];
  for (const object of [...model.users.values(), ...model.groups.values()]) {
    const memberId = object.id;
    const direct = isDeleted(memberId) ? [] : (directOf.get(memberId) ?? []).map((edge) => edge.groupId).filter((groupId) => !isDeleted(groupId));
    const groups = new Set(direct);
    for (const groupId of direct) for (const ancestor of ancestors(groupId)) groups.add(ancestor);
    // A group in a cycle reaches itself; membership of oneself is meaningless.
    groups.delete(memberId);
    const line = memberGroupsLine(memberId, { groups: [...groups], directGroups: [...new Set(direct)] });
    memberGroups.push(line);
    if (isDeleted(memberId)) optional.memberGroups.add(line);
  }
  return { users: users.sort(), groups: groups.sort(), members: members.sort(), memberGroups: memberGroups.sort(), optional };
}


/** Each expected row under its key (the line up to its content), so two expectations can be diffed row by row. */
export function expectedRows(model: DirectoryModel): Map<string, string> {
  const expected = expectedStore(model);
  const rows = new Map<string, string>();
  const keyed = (table: string, line: string, keyLength: number) => rows.set(`${table}|${line.split(" ").slice(0, keyLength).join(" ")}`, line);
  for (const line of expected.users) keyed("users", line, 1);
  for (const line of expected.groups) keyed("groups", line, 1);
  for (const line of expected.members) keyed("members", line, 3);
  for (const line of expected.memberGroups) keyed("memberGroups", line, 1);
  return rows;
}

export interface RowCounts {
  added: number;
  changed: number;
  removed: number;
  total: number;
}

export type RowsChanged = RowCounts & { byTable: Record<string, RowCounts> };

/** Rows added, changed and removed between two keyed row sets (expectations here, store digests in bench/storeDigest.ts), in all and per table (the key up to its first '|'). */
export function diffRows(before: Map<string, string>, after: Map<string, string>, onChange?: (key: string) => void): RowsChanged {
  const all: RowCounts = { added: 0, changed: 0, removed: 0, total: 0 };
  const byTable: Record<string, RowCounts> = {};
  const count = (key: string, kind: "added" | "changed" | "removed") => {
    const table = (byTable[key.slice(0, key.indexOf("|"))] ??= { added: 0, changed: 0, removed: 0, total: 0 });
    for (const counts of [all, table]) {
      counts[kind]++;
      counts.total++;
    }
    onChange?.(key);
  };
  for (const [key, line] of after) {
    const earlier = before.get(key);
    if (earlier === undefined) count(key, "added");
    else if (earlier !== line) count(key, "changed");
  }
  for (const key of before.keys()) if (!after.has(key)) count(key, "removed");
  return { ...all, byTable };
}
