// Records the run's membership events that a consumer can see: the group is a synced, active group and the member an active user or group.
import type { ChangeEvent } from "../directory/changeEvents";
import { recordEvents, type RunContext } from "./runContext";

export async function recordVisibleMembershipEvents(run: RunContext): Promise<void> {
  const deferred = run.runState.takeMembershipEvents();
  if (deferred.length === 0) return;
  const userIds = deferred.filter((entry) => entry.memberType === "user").map((entry) => entry.event.objectId);
  const groupIds = deferred.flatMap((entry) => [entry.event.groupId!, ...(entry.memberType === "group" ? [entry.event.objectId] : [])]);
  const [users, groups] = await Promise.all([run.store.readObjects("users", userIds), run.store.readObjects("groups", groupIds)]);
  const active = (found: ReturnType<typeof users.get>) => found !== undefined && !found.deleted;
  const visible = (entry: { event: ChangeEvent; memberType: string }): boolean => {
    if (!active(groups.get(entry.event.groupId!))) return false;
    if (entry.memberType === "user") return active(users.get(entry.event.objectId));
    if (entry.memberType === "group") return active(groups.get(entry.event.objectId));
    return true;
  };
  await recordEvents(run, deferred.filter(visible).map((entry) => entry.event));
}
