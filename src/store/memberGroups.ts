// A member's groups as stored on its own row (a user's, a group's, or its entraMemberGroups row), with overflow rows for the rare member in very many groups.
import { odata, type TableClient } from "@azure/data-tables";
import { tableKeys } from "./tableKeys";

/** An overflow row as read: RowKey `{list}_{nnn}`, property `ids` (a JSON array of up to `maxIdsPerProperty` ids). */
export interface OverflowRow {
  rowKey: string;
  ids?: unknown;
}

/** A member's groups: the ones it is an active member of (directly or through nesting), its active direct ones, and direct ones that do not count now. */
export interface MemberGroups {
  /** Sorted; a member's active groups, directly or through nesting (none while the member itself is inactive). */
  groups: string[];
  /** Sorted; direct memberships that count now (neither side soft-deleted, the member in the scope). */
  directGroups: string[];
  /** Sorted; direct memberships that do not count now; internal, kept so they come back when the member or group does. */
  inactiveDirectGroups: string[];
}

export type MemberGroupsList = keyof MemberGroups;
export const memberGroupsLists: readonly MemberGroupsList[] = ["groups", "directGroups", "inactiveDirectGroups"];
/** The columns the lists take on a row; `groupsOverflow` is the number of overflow rows, absent or 0 when the lists are on the row. */
export const memberGroupsColumns = [...memberGroupsLists, "groupsOverflow"] as const;

/**
 * Ids one list property holds: a string property holds 64 KiB of UTF-16, that is 32,768 characters (Table service data model),
 * and an id takes 39 in JSON (36, two quotes, a comma), so 840 fit; 800 leaves room.
 */
export const maxIdsPerProperty = 800;

export function emptyMemberGroups(): MemberGroups {
  return { groups: [], directGroups: [], inactiveDirectGroups: [] };
}

/** The stored columns of a row, as read (undefined values for absent ones). */
export type MemberGroupsColumns = Partial<Record<(typeof memberGroupsColumns)[number], unknown>>;

export function memberGroupsColumnsOf(entity: Record<string, unknown>): MemberGroupsColumns | undefined {
  if (!memberGroupsColumns.some((name) => entity[name] !== undefined)) return undefined;
  return Object.fromEntries(memberGroupsColumns.map((name) => [name, entity[name]]));
}

export function overflowRowCount(columns: MemberGroupsColumns | undefined): number {
  const value = Number(columns?.groupsOverflow ?? 0);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** Parses a JSON array of ids; anything else is no ids. */
export function parseGroupIds(value: unknown): string[] {
  if (typeof value !== "string" || value === "") return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}

/** The lists from a row's columns, or from its overflow rows when it has them (RowKey `{list}_{nnn}`, property `ids`). */
export function decodeMemberGroups(columns: MemberGroupsColumns | undefined, overflowRows: readonly OverflowRow[] = []): MemberGroups {
  if (overflowRowCount(columns) === 0) {
    return { groups: parseGroupIds(columns?.groups), directGroups: parseGroupIds(columns?.directGroups), inactiveDirectGroups: parseGroupIds(columns?.inactiveDirectGroups) };
  }
  const lists = emptyMemberGroups();
  for (const row of [...overflowRows].sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1))) {
    const list = row.rowKey.slice(0, row.rowKey.lastIndexOf("_")) as MemberGroupsList;
    if (memberGroupsLists.includes(list)) lists[list].push(...parseGroupIds(row.ids));
  }
  return lists;
}

export function sameMemberGroups(a: MemberGroups, b: MemberGroups): boolean {
  return memberGroupsLists.every((list) => a[list].length === b[list].length && a[list].every((id, index) => b[list][index] === id));
}

/** What to write for a member's lists: the row's columns and, when one list outgrows a property, the overflow rows to write and the stale ones to delete. */
export interface EncodedMemberGroups {
  columns: { groups: string; directGroups: string; inactiveDirectGroups: string; groupsOverflow: number };
  overflowRows: Array<{ rowKey: string; ids: string }>;
  staleOverflowRowKeys: string[];
}

export function encodeMemberGroups(lists: MemberGroups, overflowBefore: readonly string[]): EncodedMemberGroups {
  const overflows = memberGroupsLists.some((list) => lists[list].length > maxIdsPerProperty);
  const overflowRows: EncodedMemberGroups["overflowRows"] = [];
  if (overflows) {
    for (const list of memberGroupsLists) {
      for (let start = 0, index = 0; start < lists[list].length; start += maxIdsPerProperty, index++) overflowRows.push({ rowKey: `${list}_${String(index).padStart(3, "0")}`, ids: JSON.stringify(lists[list].slice(start, start + maxIdsPerProperty)) });
    }
  }
  const kept = new Set(overflowRows.map((row) => row.rowKey));
  // With overflow rows the row's lists are empty and `groupsOverflow` says where they are: a reader never sees half a list.
  const on = (list: MemberGroupsList) => JSON.stringify(overflows ? [] : lists[list]);
  return {
    columns: { groups: on("groups"), directGroups: on("directGroups"), inactiveDirectGroups: on("inactiveDirectGroups"), groupsOverflow: overflowRows.length },
    overflowRows,
    staleOverflowRowKeys: overflowBefore.filter((rowKey) => !kept.has(rowKey)),
  };
}

/**
 * A member's columns once it is marked deleted, computed where the row is written so the closure after it has nothing to change:
 * none of its memberships count, each kept inactive, with the run's pending changes applied. Undefined when they need overflow rows.
 */
export function deletedMemberGroups(columns: MemberGroupsColumns | undefined, pending: { added?: ReadonlySet<string>; removed?: ReadonlySet<string> }): { columns: EncodedMemberGroups["columns"]; deactivate: string[] } | undefined {
  if (overflowRowCount(columns) > 0) return undefined;
  const lists = decodeMemberGroups(columns);
  const removed = pending.removed ?? new Set<string>();
  const direct = new Set([...lists.directGroups, ...lists.inactiveDirectGroups, ...(pending.added ?? [])].filter((groupId) => !removed.has(groupId) || pending.added?.has(groupId)));
  if (direct.size > maxIdsPerProperty) return undefined;
  // The Members rows that are active now: the ones the lists count, and the ones this run added (written active).
  const deactivate = [...new Set([...lists.directGroups, ...(pending.added ?? [])])].filter((groupId) => direct.has(groupId));
  return { columns: encodeMemberGroups({ groups: [], directGroups: [], inactiveDirectGroups: [...direct].sort() }, []).columns, deactivate };
}

/** A member's lists from its row's columns, reading its overflow rows from the overflow table only when the row says it has some (the reader's and the export's read). */
export async function readMemberGroups(overflowTable: TableClient, member: { tenantId: string; memberId: string }, columns: MemberGroupsColumns | undefined): Promise<MemberGroups> {
  if (overflowRowCount(columns) === 0) return decodeMemberGroups(columns);
  const { partitionKey } = tableKeys.memberGroupsOverflow(member.tenantId, member.memberId, "");
  const rows: OverflowRow[] = [];
  for await (const entity of overflowTable.listEntities<{ ids?: unknown }>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` } })) rows.push({ rowKey: String(entity.rowKey), ids: entity.ids });
  return decodeMemberGroups(columns, rows);
}
