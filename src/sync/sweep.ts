// After a full read: what it did not find no longer exists in the directory, and is marked deleted, held, or removed.
import type { StreamName } from "../directory/directoryObjects";
import type { ChangeEvent } from "../directory/changeEvents";
import { forEachConcurrently } from "../common/concurrency";
import { groupDerived, softDeletedEntity, type StoredObject } from "../store/directoryEntities";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { saveHoldChanges } from "./heldDeletions";
import { removeGroupEverywhere } from "./objectRemoval";
import { describeObject } from "./pageApplier";
import { changeEvent, recordEvents, type RunContext } from "./runContext";
import { addWarning } from "./syncRun";

export interface SweepOptions {
  stream: StreamName;
  /** The full read's stamp: every object and membership it wrote carries it. */
  generation: string;
}

export async function sweep(run: RunContext, options: SweepOptions): Promise<void> {
  if (options.stream === "devices") return await sweepDevices(run, options.generation);
  if (options.stream === "users") return await sweepUsers(run, options.generation);
  await sweepGroups(run, options.generation);
  await sweepMemberships(run, options.generation);
}

/** Users go through the accidental-deletion threshold like any other deletion: a broken full read must not empty the tables. */
async function sweepUsers(run: RunContext, generation: string): Promise<void> {
  const missing: StoredObject[] = [];
  for await (const user of run.store.listObjects("users", `gen ne '${generation}' and deleted eq false`)) {
    // Users the filters left out in this read are already held as scope exits.
    if (!run.runState.isScopeHeld(user.id)) missing.push(user);
  }
  if (missing.length === 0) return;
  // Entra's deleted items tell soft from gone: a soft-deleted user stays, restorable; the others are removed with their memberships.
  const softDeleted = await run.source.listDeletedIds("users");
  if (!softDeleted) addWarning(run.summary, "Could not read deleted users (User.Read.All): users a full read did not find are marked deleted, not removed.");
  const now = run.now();
  for (const user of missing) {
    const soft = !softDeleted || softDeleted.has(user.id.toLowerCase());
    const why = soft ? "not found by a full read; in Entra's deleted items" : "not found by a full read, nor in Entra's deleted items: deleted for good";
    run.runState.stageDeletion({ userId: user.id, reason: soft ? "changed" : "deleted", name: `${describeObject(user.id, user.properties)}: ${why}`, heldAt: now });
  }
  await saveHoldChanges(run);
  run.logger.info(`Full read of users did not find ${missing.length} stored users; their deletion waits for the threshold check`);
}

/** Groups a full read did not find: security and distribution groups cannot be soft-deleted in Entra, so they are gone; a Microsoft 365 group may be in deleted items. */
async function sweepGroups(run: RunContext, generation: string): Promise<void> {
  const missing: StoredObject[] = [];
  const markedDeleted: StoredObject[] = [];
  for await (const group of run.store.listObjects("groups", `gen ne '${generation}'`)) (group.deleted ? markedDeleted : missing).push(group);
  const unified = (group: StoredObject) => groupDerived(group.properties).kind === "microsoft365";
  const toCheck = [...missing, ...markedDeleted].filter(unified);
  if (missing.length === 0 && toCheck.length === 0) return;
  // Reading deleted groups needs Group.Read.All, beyond the least privilege the sync asks for; without it a missing Microsoft 365 group stays marked deleted.
  const softDeleted = toCheck.length > 0 ? await run.source.listDeletedIds("groups") : new Set<string>();
  if (!softDeleted && missing.some(unified)) addWarning(run.summary, `${missing.filter(unified).length} Microsoft 365 groups a full read did not find are marked deleted: telling soft-deleted from gone needs Group.Read.All, which is not granted.`);
  const inDeletedItems = (group: StoredObject) => unified(group) && (!softDeleted || softDeleted.has(group.id.toLowerCase()));
  const soft = missing.filter(inDeletedItems);
  // Marked deleted earlier and now gone from deleted items too (purged in Entra): removed.
  const gone = [...missing.filter((group) => !inDeletedItems(group)), ...markedDeleted.filter((group) => softDeleted !== undefined && unified(group) && !inDeletedItems(group))];
  await markGroupsDeleted(run, soft);
  await removeGroups(run, gone);
  if (soft.length + gone.length > 0) run.logger.info(`Full read of groups did not find ${soft.length + gone.length} stored groups; ${soft.length} marked deleted, ${gone.length} removed`);
}

async function markGroupsDeleted(run: RunContext, groups: StoredObject[]): Promise<void> {
  const { tenantId, summary } = run;
  const now = run.now();
  const events: ChangeEvent[] = [];
  const ops = groups.map((group): TableOperation => {
    summary.groups.softDeleted++;
    run.runState.plan.record("groupSoftDeleted", { id: group.id, name: describeName(group), reason: "not found by a full read; in Entra's deleted items" });
    events.push(changeEvent(run, { kind: "groupSoftDeleted", objectId: group.id, description: `${describeObject(group.id, group.properties)}: not found by a full read`, at: now }));
    return { kind: "upsert", mode: "Replace", ...tableKeys.group(tenantId, group.id), properties: softDeletedEntity(tenantId, "group", group, { at: now }) };
  });
  await run.state.markDirty(new Map(), groups.map((group) => group.id));
  await run.store.apply("groups", ops);
  await recordEvents(run, events);
}

/** Groups gone for good: memberships first, so a crash leaves the row for the next full read to find again. */
async function removeGroups(run: RunContext, groups: StoredObject[]): Promise<void> {
  const now = run.now();
  const events: ChangeEvent[] = [];
  for (const group of groups) {
    run.summary.groups.deleted++;
    run.runState.plan.record("groupDeleted", { id: group.id, name: describeName(group), reason: "not found by a full read, nor in Entra's deleted items" });
    events.push(changeEvent(run, { kind: "groupDeleted", objectId: group.id, description: `${describeObject(group.id, group.properties)}: not found by a full read, deleted for good`, at: now }));
  }
  await forEachConcurrently(groups, 8, (group) => removeGroupEverywhere(run, group.id));
  await run.store.apply("groups", groups.map((group): TableOperation => ({ kind: "delete", ...tableKeys.group(run.tenantId, group.id) })));
  await recordEvents(run, events);
}

function describeName(group: StoredObject): string | undefined {
  return typeof group.properties.displayName === "string" ? group.properties.displayName : undefined;
}

/** Memberships a full read did not find are gone. */
async function sweepMemberships(run: RunContext, generation: string): Promise<void> {
  const { store, tenantId } = run;
  const memberOps: TableOperation[] = [];
  const nestingOps: TableOperation[] = [];
  for await (const row of store.listAllMembers(`gen ne '${generation}'`)) {
    run.summary.memberships.removed++;
    memberOps.push({ kind: "delete", ...tableKeys.member(tenantId, row.groupId, row.memberId) });
    if (row.memberType === "group") nestingOps.push({ kind: "delete", ...tableKeys.nesting(tenantId, row.memberId, row.groupId) });
  }
  await Promise.all([store.apply("members", memberOps), store.apply("nesting", nestingOps)]);
}

/** Devices a full read did not find are gone: Entra deletes devices for good, so their rows go at once. */
async function sweepDevices(run: RunContext, generation: string): Promise<void> {
  const gone: string[] = [];
  for await (const device of run.store.listObjects("devices", `gen ne '${generation}'`, ["RowKey"])) gone.push(device.id);
  if (gone.length === 0) return;
  run.summary.devices!.deleted += gone.length;
  for (const id of gone) run.runState.plan.record("deviceDeleted", { id, reason: "not found by a full read" });
  await run.store.apply("devices", gone.map((id): TableOperation => ({ kind: "delete", ...tableKeys.device(run.tenantId, id) })));
  run.logger.info(`Full read of devices did not find ${gone.length} stored devices; removed them`);
}
