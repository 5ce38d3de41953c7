// Turns a burst of change notifications into one incremental run: a pending marker per tenant plus one delayed check message, safe across instances.
import type { Logger } from "../logging/logger";
import { statusOf } from "../store/tableWriter";
import { requestRun, type RunRequestOutcome } from "./runRequester";
import type { ServiceContext } from "./serviceContext";

/** RowKey of the marker in the tenant's SyncState partition; it exists only while notifications wait for a run. */
const pendingRowKey = "notifications-pending";
/** A burst that never goes quiet still gets a run after this many quiet periods, so a steady trickle cannot starve the tenant. */
const maxBurstQuietPeriods = 3;
/** Notifications within this much of the recorded last one are not written again: the run they wait for comes later anyway. */
const maxAbsorbWindowMs = 1_000;
/** A check message this overdue was lost (its invocation crashed past its retries); the next notification schedules another. */
const lostCheckGraceMs = 5 * 60_000;
/** Conflicting writes from other instances settle within a few rounds. */
const maxRounds = 10;

export interface PendingNotifications {
  firstNotificationAt: string;
  lastNotificationAt: string;
  /** When the delayed check message is due. */
  checkDueAt: string;
  /** Notifications recorded; a lower bound, since those absorbed into the last write are not counted. */
  notifications: number;
}

interface PendingRecord extends PendingNotifications {
  etag: string;
}

export type NotifyOutcome = "scheduled" | "extended" | "absorbed";
export type CheckOutcome = "nothingPending" | "waiting" | "waitingForActiveRun" | "requested";

export interface CheckResult {
  outcome: CheckOutcome;
  run?: RunRequestOutcome;
}

export async function readPending(context: ServiceContext, tenantId: string): Promise<PendingNotifications | undefined> {
  const record = await read(context, tenantId);
  if (!record) return undefined;
  const { etag: _etag, ...pending } = record;
  return pending;
}

/** Records that the tenant changed; the first notification of a burst schedules the one check that follows it. */
export async function recordNotifications(context: ServiceContext, tenantId: string, count: number, logger: Logger): Promise<NotifyOutcome> {
  const quietMs = context.settings.changeNotifications.debounceSeconds * 1000;
  const absorbMs = Math.min(maxAbsorbWindowMs, quietMs / 2);
  for (let round = 0; round < maxRounds; round++) {
    const now = context.clock();
    const marker = await read(context, tenantId);
    if (!marker) {
      const fresh = { firstNotificationAt: iso(now), lastNotificationAt: iso(now), checkDueAt: iso(now + quietMs), notifications: count };
      let etag: string;
      try {
        etag = (await context.tables.syncState.createEntity({ partitionKey: tenantId, rowKey: pendingRowKey, ...fresh })).etag ?? "";
      } catch (error) {
        if (statusOf(error) === 409) continue;
        throw error;
      }
      try {
        await context.notificationTasks.send({ task: "debounce", tenantId }, { delaySeconds: quietMs / 1000 });
      } catch (error) {
        // Without its check the marker would hold every later notification back; removing it lets Graph's retry start over.
        await context.tables.syncState.deleteEntity(tenantId, pendingRowKey, { etag }).catch(() => undefined);
        throw error;
      }
      logger.info(`Change notifications received; an incremental run follows after ${quietMs / 1000} s without further notifications`, { tenantId, notifications: count });
      return "scheduled";
    }
    const checkLost = Date.parse(marker.checkDueAt) + lostCheckGraceMs < now;
    if (!checkLost && now - Date.parse(marker.lastNotificationAt) < absorbMs) return "absorbed";
    const changes = {
      lastNotificationAt: iso(Math.max(now, Date.parse(marker.lastNotificationAt))),
      notifications: marker.notifications + count,
      checkDueAt: checkLost ? iso(now + quietMs) : marker.checkDueAt,
    };
    if (!(await update(context, tenantId, marker, changes))) continue;
    if (checkLost) {
      logger.warn(`The debounce check due at ${marker.checkDueAt} never ran; scheduled another`, { tenantId });
      await context.notificationTasks.send({ task: "debounce", tenantId }, { delaySeconds: quietMs / 1000 });
      return "scheduled";
    }
    return "extended";
  }
  throw new Error(`Could not record change notifications for tenant ${tenantId} after ${maxRounds} rounds of conflicting writes`);
}

/** The delayed check: waits longer while the burst goes on, else requests one incremental run through the lease and queue and clears the marker. */
export async function checkPending(context: ServiceContext, tenantId: string, logger: Logger): Promise<CheckResult> {
  const quietMs = context.settings.changeNotifications.debounceSeconds * 1000;
  for (let round = 0; round < maxRounds; round++) {
    const marker = await read(context, tenantId);
    if (!marker) return { outcome: "nothingPending" };
    const now = context.clock();
    const last = Date.parse(marker.lastNotificationAt);
    const dueAt = Math.min(last + quietMs, Date.parse(marker.firstNotificationAt) + maxBurstQuietPeriods * quietMs);
    if (now < dueAt) {
      if (!(await update(context, tenantId, marker, { checkDueAt: iso(dueAt) }))) continue;
      await context.notificationTasks.send({ task: "debounce", tenantId }, { delaySeconds: (dueAt - now) / 1000 });
      return { outcome: "waiting" };
    }
    const run = await requestRun(context, { tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "notification", requestedBy: "Graph change notifications" }, logger);
    if (run.alreadyRunning) {
      const lease = await context.leases.read(tenantId);
      // A run requested before the last notification may have read its deltas before that change; look again after it.
      if (lease && Date.parse(lease.acquiredAt) <= last) {
        const next = now + quietMs;
        if (!(await update(context, tenantId, marker, { checkDueAt: iso(next) }))) continue;
        await context.notificationTasks.send({ task: "debounce", tenantId }, { delaySeconds: quietMs / 1000 });
        logger.info(`Run ${run.runId} is active and started before the last notification; looking again in ${quietMs / 1000} s`, { tenantId });
        return { outcome: "waitingForActiveRun", run };
      }
    }
    try {
      await context.tables.syncState.deleteEntity(tenantId, pendingRowKey, { etag: marker.etag });
    } catch (error) {
      // A newer notification changed the marker: the next round sees it and schedules the check that follows it.
      if (statusOf(error) === 412) continue;
      if (statusOf(error) !== 404) throw error;
    }
    logger.info(`${marker.notifications} change notification(s) since ${marker.firstNotificationAt} ${run.alreadyRunning ? `are covered by active run ${run.runId}` : `requested run ${run.runId}`}`, { tenantId, runId: run.runId });
    return { outcome: "requested", run };
  }
  throw new Error(`Could not settle the pending notifications of tenant ${tenantId} after ${maxRounds} rounds of conflicting writes`);
}

async function read(context: ServiceContext, tenantId: string): Promise<PendingRecord | undefined> {
  try {
    const entity = await context.tables.syncState.getEntity<Record<string, unknown>>(tenantId, pendingRowKey);
    return {
      firstNotificationAt: String(entity["firstNotificationAt"]),
      lastNotificationAt: String(entity["lastNotificationAt"]),
      checkDueAt: String(entity["checkDueAt"]),
      notifications: Number(entity["notifications"] ?? 0),
      etag: entity.etag,
    };
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function update(context: ServiceContext, tenantId: string, marker: PendingRecord, changes: Partial<PendingNotifications>): Promise<boolean> {
  const { etag, ...current } = marker;
  try {
    await context.tables.syncState.updateEntity({ partitionKey: tenantId, rowKey: pendingRowKey, ...current, ...changes }, "Replace", { etag });
    return true;
  } catch (error) {
    if (statusOf(error) === 412 || statusOf(error) === 404) return false;
    throw error;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
