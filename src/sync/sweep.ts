// After a full read: what it did not find no longer exists in the directory, and is marked deleted, held, or removed.
import type { StreamName } from "../directory/directoryObjects";
import { objectEntity } from "../store/directoryEntities";
import type { HeldDeletion } from "../store/syncStateStore";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { saveHoldChanges } from "./heldDeletions";
import { describeObject } from "./pageApplier";
import { changeEvent, recordEvents, type RunContext } from "./runContext";

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
  const holds: HeldDeletion[] = [];
  const now = run.now();
  for await (const user of run.store.listObjects("users", `gen ne '${generation}' and deleted eq false`)) {
    // Users the filters left out in this read are already held as scope exits.
    if (run.runState.isScopeHeld(user.id)) continue;
    holds.push({ userId: user.id, reason: "changed", name: `${describeObject(user.id, user.properties)}: not found by a full read`, heldAt: now });
  }
  for (const hold of holds) run.runState.stageDeletion(hold);
  await saveHoldChanges(run);
  if (holds.length > 0) run.logger.info(`Full read of users did not find ${holds.length} stored users; their deletion waits for the threshold check`);
}

/** Groups a full read did not find are marked deleted; their members are recomputed. */
async function sweepGroups(run: RunContext, generation: string): Promise<void> {
  const { store, tenantId, summary } = run;
  const now = run.now();
  const ops: TableOperation[] = [];
  const events = [];
  const dirtyGroups: string[] = [];
  for await (const group of store.listObjects("groups", `gen ne '${generation}' and deleted eq false`)) {
    summary.groups.softDeleted++;
    run.runState.plan.record("groupSoftDeleted", { id: group.id, name: typeof group.properties.displayName === "string" ? group.properties.displayName : undefined, reason: "not found by a full read" });
    events.push(changeEvent(run, { kind: "groupSoftDeleted", objectId: group.id, description: `${describeObject(group.id, group.properties)}: not found by a full read`, at: now }));
    dirtyGroups.push(group.id);
    ops.push({ kind: "upsert", mode: "Replace", ...tableKeys.group(tenantId, group.id), properties: objectEntity(tenantId, "group", group.properties, { deleted: true, deletedAt: now, generation: group.generation ?? "", changedAt: now }) });
  }
  await run.state.markDirty(new Map(), dirtyGroups);
  await store.apply("groups", ops);
  await recordEvents(run, events);
  if (ops.length > 0) run.logger.info(`Full read of groups did not find ${ops.length} stored groups; marked them deleted`);
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
