// User deletions wait for the end of the run: past the accidental-deletion threshold they are held and the run ends quarantined.
import type { ChangeEvent } from "../directory/changeEvents";
import { forEachConcurrently } from "../common/concurrency";
import { softDeletedEntity } from "../store/directoryEntities";
import { deletedMemberGroups } from "../store/memberGroups";
import { closureWorkOf, type HeldDeletion } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { lookupValuesOf, userLookupOperations } from "../store/userLookup";
import { removeMemberEverywhere } from "./objectRemoval";
import { changeEvent, recordEvents, type RunContext } from "./runContext";
import { addWarning } from "./syncRun";

export interface ApplyHeldDeletionsOptions {
  /** The admin has looked at the deletions: apply them even past the threshold. */
  allowDeletions: boolean;
}

/** Writes the holds staged and released since the last call, so a run that dies keeps them. */
export async function saveHoldChanges(run: RunContext): Promise<void> {
  const holds = run.runState.takeHoldChanges();
  await run.state.holdDeletions(holds.save);
  await run.state.releaseHolds(holds.release);
}

/** Applies the user deletions this and earlier runs held, unless they exceed the accidental-deletion threshold. */
export async function applyHeldDeletions(run: RunContext, options: ApplyHeldDeletionsOptions): Promise<void> {
  const { store, state, tenantId } = run;
  const held = await state.readHeldDeletions();
  if (held.length === 0) return;
  if (await holdsPastThreshold(run, { deletions: held, allowDeletions: options.allowDeletions })) {
    run.logger.warn(`Quarantined: ${held.length} user deletions held back by the accidental-deletion threshold`);
    return;
  }
  const stored = await store.readObjects("users", held.map((deletion) => deletion.userId));
  // The closure left these users' lists for now: the pending membership changes go into the deletion's one write.
  const work = await state.readClosureWork();
  const now = run.now();
  const soft = held.filter((deletion) => deletion.reason !== "deleted" && stored.get(deletion.userId)?.deleted === false);
  const forGood = held.filter((deletion) => deletion.reason === "deleted");
  const events: ChangeEvent[] = [];
  const memberOps: TableOperation[] = [];
  const softOps = soft.map((deletion): TableOperation => {
    const previous = stored.get(deletion.userId)!;
    noteDeletion(run, { deletion, kind: "userSoftDeleted", events, at: now });
    const pending = { added: work.addedEdges?.get(deletion.userId), removed: work.removedEdges?.get(deletion.userId) };
    const deleted = deletedMemberGroups(previous.memberGroups, pending);
    for (const groupId of deleted?.deactivate ?? []) memberOps.push({ kind: "upsert", mode: "Merge", ...tableKeys.member(tenantId, groupId, deletion.userId), properties: { active: false } });
    run.summary.memberships.deactivated += deleted?.deactivate.length ?? 0;
    const memberGroups = deleted?.columns ?? previous.memberGroups;
    return { kind: "upsert", mode: "Replace", ...tableKeys.user(tenantId, deletion.userId), properties: softDeletedEntity(tenantId, "user", { ...previous, memberGroups }, { at: now, outOfScope: deletion.outOfScope }) };
  });
  for (const deletion of forGood) if (stored.has(deletion.userId)) noteDeletion(run, { deletion, kind: "userDeleted", events, at: now });
  await state.markDirty(new Map(soft.map((deletion) => [deletion.userId, "user"] as const)), []);
  // Index rows go before the user rows they follow, so a crash in between leaves the hold to finish the job.
  await store.apply("userLookup", held.flatMap((deletion) => userLookupOperations(tenantId, deletion.userId, lookupValuesOf(stored.get(deletion.userId)), undefined)));
  await store.apply("members", memberOps);
  await store.apply("users", softOps);
  // Memberships go before the user's row, so a crash in between leaves the hold to finish the job.
  await forEachConcurrently(forGood, 8, (deletion) => removeMemberEverywhere(run, deletion.userId, { pendingGroups: work.addedEdges?.get(deletion.userId) }));
  await store.apply("users", forGood.map((deletion): TableOperation => ({ kind: "delete", ...tableKeys.user(tenantId, deletion.userId) })));
  // Nothing is left of them to recompute.
  await state.clearClosureWork(closureWorkOf(work, new Set(forGood.map((deletion) => deletion.userId))));
  await state.releaseHolds(held.map((deletion) => deletion.userId));
  await recordEvents(run, events);
}

function noteDeletion(run: RunContext, input: { deletion: HeldDeletion; kind: "userSoftDeleted" | "userDeleted"; events: ChangeEvent[]; at: string }): void {
  const { deletion, kind } = input;
  if (kind === "userSoftDeleted") run.summary.users.softDeleted++;
  else run.summary.users.deleted++;
  // A user leaving the scope is named by id and rule only, in the plan and in the feed.
  run.runState.plan.record(kind, deletion.outOfScope ? { id: deletion.userId, reason: "left the scope" } : { id: deletion.userId, reason: deletion.name });
  input.events.push(changeEvent(run, { kind, objectId: deletion.userId, description: deletion.name, at: input.at }));
}

/** True when the deletions exceed the threshold and are not allowed: they are then held and the run says so. */
export async function holdsPastThreshold(run: RunContext, input: { deletions: HeldDeletion[]; allowDeletions: boolean }): Promise<boolean> {
  const { deletions } = input;
  const threshold = run.config.deletionThreshold;
  if (!threshold || deletions.length === 0 || input.allowDeletions) return false;
  const activeUsers = (await run.store.listObjectIds("users", "deleted eq false")).size;
  const overCount = threshold.count > 0 && deletions.length > threshold.count;
  const overPercent = threshold.percent > 0 && deletions.length > (activeUsers * threshold.percent) / 100;
  if (!overCount && !overPercent) return false;
  const limit = [threshold.count > 0 ? `${threshold.count} users` : "", threshold.percent > 0 ? `${threshold.percent} % of ${activeUsers} active users` : ""].filter(Boolean).join(" or ");
  run.summary.heldDeletions = { count: deletions.length, sample: deletions.slice(0, 10).map((deletion) => `${deletion.name}${deletion.reason === "deleted" ? " (deleted for good)" : ""}`) };
  addWarning(
    run.summary,
    `${run.summary.dryRun ? "This run would hold" : "Held"} ${deletions.length} user deletions: more than ${limit} (DELETION_THRESHOLD_COUNT / DELETION_THRESHOLD_PERCENT). ` +
      `Everything else was ${run.summary.dryRun ? "planned" : "applied"}. Check the sample, then request a run with allowDeletions to apply them.`,
  );
  return true;
}
