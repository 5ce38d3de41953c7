// Works on one queued run request: claims the run's lease, runs the engine within a time budget, then finishes, continues or retries it.
import { describeFailure } from "../errors/syncError";
import { randomUUID } from "node:crypto";
import { odata } from "@azure/data-tables";
import { settingsForTenant } from "../config/settings";
import type { Logger } from "../logging/logger";
import { logEvent } from "../logging/operationalEvents";
import { addWarning, type SyncRunSummary } from "../sync/syncRun";
import { recordRunFailure } from "./runFailure";
import { ProgressRecorder } from "./runProgress";
import { LeaseKeeper, LeaseLostError, type RunLeaseRecord } from "./runLease";
import { maxDequeueCount, parseRunMessage, syncPoisonQueueName, type RunMessage } from "./runQueue";
import type { RunRequestRecord } from "./runRequests";
import { runLogOf, type ServiceContext } from "./serviceContext";

/** What became of a message: the first four worked on the run, the rest did not touch it. */
export type WorkOutcome = "succeeded" | "quarantined" | "paused" | "failed" | "leaseLost" | "stale" | "deferred" | "dropped";

export interface WorkResult {
  outcome: WorkOutcome;
  runId?: string;
  summary?: SyncRunSummary;
}

export interface WorkOptions {
  /** The trigger's dequeueCount: 1 on first delivery. */
  dequeueCount: number;
  logger: Logger;
}

/** An attempt failed and retries remain: thrown so the host redelivers the message after the visibility timeout. */
export class RunAttemptError extends Error {
  override name = "RunAttemptError";
}

export async function processRunMessage(context: ServiceContext, raw: unknown, options: WorkOptions): Promise<WorkResult> {
  await context.ready();
  const parsed = parseRunMessage(raw);
  if ("problem" in parsed) {
    // Retrying cannot fix a message this app did not write, so it is logged and dropped rather than poisoned.
    options.logger.error(`Dropped a message on the sync-requests queue that is not a run request (${parsed.problem})`);
    return { outcome: "dropped" };
  }
  const message = parsed.message;
  const { runId, tenantId } = message;
  const logger = options.logger.child({ runId, tenantId });
  const lease = await context.leases.read(tenantId);
  if (!lease || lease.runId !== runId || lease.ticket !== message.ticket) {
    const holder = !lease ? "the run already ended" : lease.runId === runId ? "a later message of this run holds the lease" : `run ${lease.runId} holds the tenant`;
    logger.info(`Skipped a stale message: ${holder}`);
    return { outcome: "stale", runId };
  }
  const tenantSettings = settingsForTenant(context.settings, tenantId);
  if (!tenantSettings) {
    await recordRunFailure(context, tenantId, runId, "The tenant is no longer configured (ENTRA_TENANT_ID or SYNC_TENANTS), so the run was not started.", logger, { lease });
    return { outcome: "failed", runId };
  }
  if (lease.state === "running" && !context.leases.isExpired(lease)) {
    // A duplicate delivery, or the redelivery of an attempt that died moments ago: look again once the lease would have expired.
    const delaySeconds = Math.max(1, Math.ceil((Date.parse(lease.expiresAt) - context.clock()) / 1000) + 1);
    await context.queue.send(message, { delaySeconds });
    logger.warn(`Another invocation holds this run's lease until ${lease.expiresAt}; the message was deferred by ${delaySeconds} s`);
    return { outcome: "deferred", runId };
  }
  if (lease.ticketAttempts >= maxDequeueCount) {
    const reason = `Gave up after ${lease.ticketAttempts} attempts that stopped without finishing (the worker crashed or timed out each time).`;
    await recordRunFailure(context, tenantId, runId, reason, logger, { lease });
    return { outcome: "failed", runId };
  }
  let claimed: RunLeaseRecord;
  try {
    claimed = await context.leases.update(lease, { state: "running", ticketAttempts: lease.ticketAttempts + 1 });
  } catch (error) {
    if (!(error instanceof LeaseLostError)) throw error;
    logger.info("Skipped: another invocation claimed this message's run first");
    return { outcome: "stale", runId };
  }
  // Crashes do not raise the dequeue count of a deferred copy, so the lease's own count of claims also bounds the attempts.
  const attempt = Math.max(options.dequeueCount, claimed.ticketAttempts);
  const keeper = new LeaseKeeper(claimed, context.leases, context.timing.renewEveryMs, logger, context.clock);
  keeper.start();
  try {
    return await attemptRun(context, message, tenantSettings, attempt, keeper, logger);
  } catch (error) {
    await keeper.stop();
    if (error instanceof RunAttemptError) throw error;
    if (keeper.lostError) return { outcome: "leaseLost", runId };
    const reason = describeFailure(error);
    if (attempt >= maxDequeueCount) {
      await recordRunFailure(context, tenantId, runId, `Failed on attempt ${attempt} of ${maxDequeueCount}, the last: ${reason}`, logger, { lease: keeper.lease });
      return { outcome: "failed", runId };
    }
    // The redelivered message may claim the run again only once the lease no longer says "running".
    await context.leases.update(keeper.lease, { state: "retrying" }).catch(() => undefined);
    await context.requests.update(tenantId, runId, { status: "retrying", lastError: reason }).catch(() => undefined);
    throw error;
  } finally {
    await keeper.stop();
  }
}

async function attemptRun(
  context: ServiceContext,
  message: RunMessage,
  tenantSettings: NonNullable<ReturnType<typeof settingsForTenant>>,
  attempt: number,
  keeper: LeaseKeeper,
  logger: Logger,
): Promise<WorkResult> {
  const { runId, tenantId } = message;
  const now = new Date(context.clock()).toISOString();
  const request = await context.requests.get(tenantId, runId);
  await context.requests.update(tenantId, runId, { status: "running", attempts: (request?.attempts ?? 0) + 1, lastAttemptAt: now });
  const continues = await previousState(context, message, now, logger);
  const progress = new ProgressRecorder(context.requests, { tenantId, runId, clock: context.clock, logger });
  const composition = context.composeTenant(tenantSettings, { logger, changeSink: context.changes, onProgress: progress.record });
  logger.info(`Attempt ${attempt} started${continues ? `, continuing from page ${continues.streams.users.pages} of users and ${continues.streams.groups.pages} of groups` : ""}`, { attempt });
  const { summary } = await composition.engine.run({
    mode: message.mode,
    dryRun: message.dryRun,
    allowDeletions: message.allowDeletions,
    trigger: message.trigger,
    requestedBy: message.requestedBy,
    runId,
    deadline: context.clock() + context.timing.runBudgetMs,
    continues,
    heartbeat: keeper.heartbeat,
  });
  await progress.settle();
  await keeper.stop();
  if (keeper.lostError) {
    logger.warn("Stopped: the run's lease was taken over, so another invocation carries on");
    return { outcome: "leaseLost", runId, summary };
  }
  const lease = keeper.lease;
  // A quarantined run applied everything but the held deletions: it ended, and its data is as fresh as a success's.
  if (summary.status === "succeeded" || summary.status === "quarantined") {
    await context.leases.release(lease);
    await context.requests.update(tenantId, runId, { status: summary.status, endedAt: summary.endedAt });
    if (!summary.dryRun) await context.requests.recordSuccess(tenantId, { runId, endedAt: summary.endedAt ?? now });
    if (summary.status === "quarantined") {
      logEvent(logger, "warn", "runQuarantined", `Run quarantined: ${summary.heldDeletions?.count ?? 0} user deletions held above the threshold; review them and request a run with allowDeletions`, { runId, tenantId, trigger: summary.trigger, dryRun: summary.dryRun, heldDeletions: summary.heldDeletions?.count ?? 0 });
    } else logEvent(logger, "info", "runSucceeded", "Run succeeded", { runId, tenantId, trigger: summary.trigger, dryRun: summary.dryRun });
    return { outcome: summary.status, runId, summary };
  }
  if (summary.status === "paused") {
    await queueContinuation(context, message, summary, lease, request, logger);
    return { outcome: "paused", runId, summary };
  }
  if (attempt >= maxDequeueCount) {
    await recordRunFailure(context, tenantId, runId, `Failed on attempt ${attempt} of ${maxDequeueCount}, the last: ${summary.error ?? "unknown error"}`, logger, { lease, request });
    return { outcome: "failed", runId, summary };
  }
  await context.leases.update(lease, { state: "retrying" });
  await context.requests.update(tenantId, runId, { status: "retrying", lastError: summary.error });
  throw new RunAttemptError(`Attempt ${attempt} of ${maxDequeueCount} failed and will be retried from the last checkpoint: ${summary.error ?? "unknown error"}`);
}

/** The state a later attempt carries on from: the run log's record (newest), else the paused summary the message carries. */
async function previousState(context: ServiceContext, message: RunMessage, now: string, logger: Logger): Promise<SyncRunSummary | undefined> {
  const recorded = (await runLogOf(context, message.tenantId).get(message.runId)) ?? message.continues;
  if (!recorded) return undefined;
  const progressed = recorded.streams.users.pages + recorded.streams.groups.pages > 0;
  if (!progressed && message.mode === "full") {
    // A continued run resumes its checkpoints; a full run that read nothing yet must start its full read afresh instead.
    await deleteRunRecord(context, message.tenantId, message.runId);
    logger.info("The earlier attempt read no page, so this attempt starts the full read afresh");
    return undefined;
  }
  if (recorded.status === "running") addWarning(recorded, `An attempt stopped without finishing (crash or timeout); at ${now} the run resumed from its last checkpoint, and changes counted in the interrupted part are missing from these counts.`);
  if (recorded.status === "failed") addWarning(recorded, `An attempt failed (${recorded.error ?? "unknown error"}); at ${now} the run was retried from its last checkpoint.`);
  return recorded;
}

async function queueContinuation(context: ServiceContext, message: RunMessage, summary: SyncRunSummary, lease: RunLeaseRecord, request: RunRequestRecord | undefined, logger: Logger): Promise<void> {
  const ticket = randomUUID();
  const queued = await context.leases.update(lease, { state: "queued", ticket, ticketAttempts: 0 });
  try {
    await context.queue.send({ ...message, ticket, trigger: "continuation", continues: summary });
  } catch (error) {
    // Hand the run back to this message, which the host redelivers because the error is rethrown.
    await context.leases.update(queued, { state: "retrying", ticket: message.ticket, ticketAttempts: lease.ticketAttempts }).catch(() => undefined);
    throw error;
  }
  await context.requests.update(message.tenantId, message.runId, { status: "paused", continuations: (request?.continuations ?? 0) + 1 });
  logger.info(`Paused at the time budget; continuation queued (users page ${summary.streams.users.pages}, groups page ${summary.streams.groups.pages})`);
}

/** Removes a run's record from the run log, so a restarted attempt leaves one record, not two. */
async function deleteRunRecord(context: ServiceContext, tenantId: string, runId: string): Promise<void> {
  const filter = odata`PartitionKey eq ${tenantId} and runId eq ${runId}`;
  for await (const entity of context.tables.runs.listEntities({ queryOptions: { filter, select: ["PartitionKey", "RowKey"] } })) {
    await context.tables.runs.deleteEntity(tenantId, String(entity.rowKey));
  }
}

export interface PoisonOptions {
  logger: Logger;
}

/** A message the host gave up on: the run is marked failed with the reason, and its lease released if it still holds it. */
export async function processPoisonMessage(context: ServiceContext, raw: unknown, options: PoisonOptions): Promise<WorkResult> {
  await context.ready();
  const parsed = parseRunMessage(raw);
  if ("problem" in parsed) {
    options.logger.error(`Dropped a message on ${syncPoisonQueueName} that is not a run request (${parsed.problem})`);
    return { outcome: "dropped" };
  }
  const { runId, tenantId, ticket } = parsed.message;
  const logger = options.logger.child({ runId, tenantId });
  const lease = await context.leases.read(tenantId);
  const holdsLease = lease !== undefined && lease.runId === runId && lease.ticket === ticket;
  const request = await context.requests.get(tenantId, runId);
  if (!holdsLease && (request?.status === "succeeded" || request?.status === "failed" || lease?.runId === runId)) {
    logger.info(`A poisoned copy of a message arrived after the run moved on (${request?.status ?? "continuing"}); nothing to do`);
    return { outcome: "stale", runId };
  }
  const reason = `The request was moved to ${syncPoisonQueueName} after ${maxDequeueCount} attempts; the last did not finish (timeout, crash, or an error before the run could record it).`;
  await recordRunFailure(context, tenantId, runId, reason, logger, { lease: holdsLease ? lease : undefined, request });
  return { outcome: "failed", runId };
}
