// Removes an object's memberships in every direction when it is deleted for good, so no orphan rows are left behind.
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import type { RunContext } from "./runContext";

/** A user (or device) deleted for good leaves no membership behind, in either direction. */
export async function removeMemberEverywhere(run: Pick<RunContext, "store">, memberId: string): Promise<void> {
  const { store } = run;
  const rows = await store.listMemberOf(memberId);
  const memberOps = rows.filter((row) => row.direct).map((row): TableOperation => ({ kind: "delete", ...tableKeys.member(store.tenantId, row.groupId, memberId) }));
  const memberOfOps = rows.map((row): TableOperation => ({ kind: "delete", ...tableKeys.memberOf(store.tenantId, memberId, row.groupId) }));
  await store.apply("members", memberOps);
  await store.apply("memberOf", memberOfOps);
}

/** A group deleted for good loses its member rows and nesting edges; its members and child groups are recomputed. */
export async function removeGroupEverywhere(run: Pick<RunContext, "store" | "state">, groupId: string): Promise<void> {
  const { store, state } = run;
  const tenantId = store.tenantId;
  const [members, parents] = await Promise.all([store.listMembers(groupId), store.listMemberOf(groupId)]);
  const directParents = parents.filter((row) => row.direct);
  const childGroups = members.filter((member) => member.memberType === "group").map((member) => member.memberId);
  await state.markDirty(new Map(members.map((member) => [member.memberId, member.memberType] as const)), childGroups);
  const nestingOps: TableOperation[] = [
    ...childGroups.map((childId): TableOperation => ({ kind: "delete", ...tableKeys.nesting(tenantId, childId, groupId) })),
    ...directParents.map((row): TableOperation => ({ kind: "delete", ...tableKeys.nesting(tenantId, groupId, row.groupId) })),
  ];
  const memberOps: TableOperation[] = [
    ...members.map((member): TableOperation => ({ kind: "delete", ...tableKeys.member(tenantId, groupId, member.memberId) })),
    ...directParents.map((row): TableOperation => ({ kind: "delete", ...tableKeys.member(tenantId, row.groupId, groupId) })),
  ];
  const memberOfOps: TableOperation[] = [
    ...members.map((member): TableOperation => ({ kind: "delete", ...tableKeys.memberOf(tenantId, member.memberId, groupId) })),
    ...parents.map((row): TableOperation => ({ kind: "delete", ...tableKeys.memberOf(tenantId, groupId, row.groupId) })),
  ];
  await Promise.all([store.apply("nesting", nestingOps), store.apply("members", memberOps)]);
  await store.apply("memberOf", memberOfOps);
}
