// Membership events wait in the state store until the run completes, then only those a consumer can see are recorded: group synced and active, member an active user or group.
import type { PendingMembershipEvent } from "../store/syncStateStore";
import { recordEvents, type RunContext } from "./runContext";

/** Pending events decided per chunk at the end of a run, so a resync with a large churn never holds them all in memory. */
const decideChunk = 1_000;

/** Saved before the change's own writes (a replay rewrites the same rows) and not in memory: a paused run's continuation decides them, once users read by id entered the scope. */
export async function deferMembershipEvents(run: RunContext, pending: readonly PendingMembershipEvent[]): Promise<void> {
  // Without a sink (a dry run) no event is recorded, so none is kept.
  if (pending.length === 0 || run.changeSink === undefined) return;
  await run.state.savePendingMembershipEvents(pending);
}

/** At the run's end: records the visible pending events, a chunk at a time, and removes each chunk once recorded. */
export async function recordVisibleMembershipEvents(run: RunContext): Promise<void> {
  if (run.changeSink === undefined) return;
  for (;;) {
    const pending = await run.state.readPendingMembershipEvents(decideChunk);
    if (pending.length === 0) return;
    const visible = await visibleOf(run, pending);
    await recordEvents(run, await stamp(run, visible));
    await run.state.removePendingMembershipEvents(pending);
  }
}

/** The time and run that record the event, saved first: a paused invocation counts as ended to feed readers, and a re-record after a crash rewrites the same feed row. */
async function stamp(run: RunContext, visible: PendingMembershipEvent[]): Promise<PendingMembershipEvent["event"][]> {
  const at = run.now();
  const fresh = visible.filter((entry) => !entry.stamped).map((entry) => ({ ...entry, event: { ...entry.event, at, runId: run.summary.runId }, stamped: true }));
  await run.state.savePendingMembershipEvents(fresh);
  return [...visible.filter((entry) => entry.stamped), ...fresh].map((entry) => entry.event);
}

async function visibleOf(run: RunContext, pending: PendingMembershipEvent[]): Promise<PendingMembershipEvent[]> {
  const userIds = pending.filter((entry) => entry.memberType === "user").map((entry) => entry.event.objectId);
  const groupIds = pending.flatMap((entry) => [entry.event.groupId!, ...(entry.memberType === "group" ? [entry.event.objectId] : [])]);
  const [users, groups] = await Promise.all([run.store.readObjects("users", userIds), run.store.readObjects("groups", groupIds)]);
  const active = (found: ReturnType<typeof users.get>) => found !== undefined && !found.deleted;
  const visible = (entry: PendingMembershipEvent): boolean => {
    if (!active(groups.get(entry.event.groupId!))) return false;
    if (entry.memberType === "user") return active(users.get(entry.event.objectId));
    if (entry.memberType === "group") return active(groups.get(entry.event.objectId));
    return true;
  };
  return pending.filter(visible);
}
