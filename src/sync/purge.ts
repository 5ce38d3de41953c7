// Removes for good what has been soft-deleted longer than DELETED_RETENTION_DAYS, memberships first so a crash leaves no orphan rows.
import { forEachConcurrently } from "../common/concurrency";
import type { StoredObject } from "../store/directoryEntities";
import { tableKeys } from "../store/tableKeys";
import type { TableOperation } from "../store/tableWriter";
import { removeGroupEverywhere, removeMemberEverywhere } from "./objectRemoval";
import { changeEvent, recordEvents, type RunContext } from "./runContext";

const dayMs = 86_400_000;

export async function purgeExpired(run: RunContext): Promise<void> {
  const days = run.config.deletedRetentionDays;
  if (days === undefined) return;
  const now = run.config.clock();
  const cutoff = new Date(now - days * dayMs).toISOString();
  for (const stream of ["users", "groups"] as const) {
    const expired: StoredObject[] = [];
    for await (const object of run.store.listObjects(stream, `deleted eq true and deletedAt lt '${cutoff}'`)) expired.push(object);
    if (expired.length === 0) continue;
    const users = stream === "users";
    await forEachConcurrently(expired, 8, (object) => (users ? removeMemberEverywhere(run, object.id) : removeGroupEverywhere(run, object.id)));
    const keyOf = users ? tableKeys.user : tableKeys.group;
    await run.store.apply(stream, expired.map((object): TableOperation => ({ kind: "delete", ...keyOf(run.tenantId, object.id) })));
    (users ? run.summary.users : run.summary.groups).purged += expired.length;
    const kind = users ? "userPurged" : "groupPurged";
    const at = new Date(now).toISOString();
    const reason = (object: StoredObject) => `deleted since ${object.deletedAt ?? "?"}, past the ${days}-day retention`;
    for (const object of expired) run.runState.plan.record(kind, { id: object.id, reason: reason(object) });
    await recordEvents(run, expired.map((object) => changeEvent(run, { kind, objectId: object.id, description: `${object.id}: ${reason(object)}`, at })));
    run.logger.info(`Purged ${expired.length} ${stream} soft-deleted before ${cutoff} (DELETED_RETENTION_DAYS ${days})`);
  }
}
