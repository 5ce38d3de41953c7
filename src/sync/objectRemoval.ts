// Removes an object's memberships in every direction when it is deleted for good, so no orphan rows are left behind.
import type { StoredObject } from "../store/directoryEntities";
import type { DirectoryStore } from "../store/directoryStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import type { RunContext } from "./runContext";

/** Every direct group a member's rows list (its own row and its entraMemberGroups row), and the rows to delete with them. */
async function directGroupsOf(store: DirectoryStore, memberId: string, own: StoredObject | undefined): Promise<{ groups: Set<string>; overflowOps: TableOperation[]; rowOps: TableOperation[] }> {
  const rowless = (await store.readMemberGroupsRows([memberId])).get(memberId);
  const groups = new Set<string>();
  const overflowRowKeys = new Set<string>();
  for (const columns of [own?.memberGroups, rowless?.columns]) {
    const decoded = await store.decodeMemberGroups(memberId, columns);
    for (const groupId of [...decoded.lists.directGroups, ...decoded.lists.inactiveDirectGroups]) groups.add(groupId);
    decoded.overflowRowKeys.forEach((rowKey) => overflowRowKeys.add(rowKey));
  }
  const overflowOps = [...overflowRowKeys].map((rowKey): TableOperation => ({ kind: "delete", ...tableKeys.memberGroupsOverflow(store.tenantId, memberId, rowKey) }));
  const rowOps: TableOperation[] = rowless ? [{ kind: "delete", ...tableKeys.memberGroups(store.tenantId, memberId) }] : [];
  return { groups, overflowOps, rowOps };
}

export interface RemoveMemberOptions {
  /** Memberships added in this run that the member's lists do not name yet. */
  pendingGroups?: Iterable<string>;
}

/** A user (or device) deleted for good leaves no membership behind; called before its own row is deleted, which lists them. */
export async function removeMemberEverywhere(run: Pick<RunContext, "store">, memberId: string, options: RemoveMemberOptions = {}): Promise<void> {
  const { store } = run;
  const own = (await store.readObjects("users", [memberId])).get(memberId);
  const { groups, overflowOps, rowOps } = await directGroupsOf(store, memberId, own);
  for (const groupId of options.pendingGroups ?? []) groups.add(groupId);
  await store.apply("members", [...groups].map((groupId): TableOperation => ({ kind: "delete", ...tableKeys.member(store.tenantId, groupId, memberId) })));
  await Promise.all([store.apply("memberGroupsOverflow", overflowOps), store.apply("memberGroups", rowOps)]);
}

/** A group deleted for good loses its member rows and nesting edges; its members and child groups are recomputed without it. */
export async function removeGroupEverywhere(run: Pick<RunContext, "store" | "state">, groupId: string): Promise<void> {
  const { store, state } = run;
  const tenantId = store.tenantId;
  const own = (await store.readObjects("groups", [groupId])).get(groupId);
  const [members, parents] = await Promise.all([store.listMembers(groupId), directGroupsOf(store, groupId, own)]);
  const parentIds = new Set(parents.groups);
  for (const edge of await store.listNesting()) if (edge.childId === groupId) parentIds.add(edge.parentId);
  const childGroups = members.filter((member) => member.memberType === "group").map((member) => member.memberId);
  // Each member's list still names the group: the closure drops it from there, as from a removed membership.
  await state.markDirty(new Map(members.map((member) => [member.memberId, member.memberType] as const)), childGroups, { removedEdges: members.map((member) => [member.memberId, groupId] as [string, string]) });
  const nestingOps: TableOperation[] = [
    ...childGroups.map((childId): TableOperation => ({ kind: "delete", ...tableKeys.nesting(tenantId, childId, groupId) })),
    ...[...parentIds].map((parentId): TableOperation => ({ kind: "delete", ...tableKeys.nesting(tenantId, groupId, parentId) })),
  ];
  const memberOps: TableOperation[] = [
    ...members.map((member): TableOperation => ({ kind: "delete", ...tableKeys.member(tenantId, groupId, member.memberId) })),
    ...[...parentIds].map((parentId): TableOperation => ({ kind: "delete", ...tableKeys.member(tenantId, parentId, groupId) })),
  ];
  await Promise.all([store.apply("nesting", nestingOps), store.apply("members", memberOps)]);
  await Promise.all([store.apply("memberGroupsOverflow", parents.overflowOps), store.apply("memberGroups", parents.rowOps)]);
}

