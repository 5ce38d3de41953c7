// Requests a run: takes the tenant's lease at request time, records the request and queues it, or names the run already active.
import { randomUUID } from "node:crypto";
import type { Logger } from "../logging/logger";
import { logEvent } from "../logging/operationalEvents";
import { newRunId, type SyncMode } from "../sync/syncRun";
import { recordRunFailure } from "./runFailure";
import type { LeaseState } from "./runLease";
import type { RunMessage } from "./runQueue";
import type { RunRequestRecord } from "./runRequests";
import type { ServiceContext } from "./serviceContext";

export interface RunRequestInput {
  tenantId: string;
  mode: SyncMode;
  dryRun: boolean;
  allowDeletions: boolean;
  trigger: "schedule" | "manual";
  requestedBy: string | undefined;
}

export interface RunRequestOutcome {
  tenantId: string;
  runId: string;
  /** True when another run held the tenant: `runId` is that run, and nothing new was queued. */
  alreadyRunning: boolean;
  state: LeaseState;
  /** The active run's mode and dry-run flag, which may differ from what was asked. */
  mode: SyncMode;
  dryRun: boolean;
}

export async function requestRun(context: ServiceContext, input: RunRequestInput, logger: Logger): Promise<RunRequestOutcome> {
  await context.ready();
  const now = context.clock();
  const runId = newRunId(new Date(now));
  const ticket = randomUUID();
  const taken = await context.leases.acquire(input.tenantId, runId, ticket);
  if (!taken.acquired) {
    const holder = taken.holder;
    const active = await context.requests.get(input.tenantId, holder.runId);
    logger.child({ runId: holder.runId, tenantId: input.tenantId }).info(`Run not queued: run ${holder.runId} is already ${holder.state} for this tenant`, { activeRunId: holder.runId, trigger: input.trigger });
    return { tenantId: input.tenantId, runId: holder.runId, alreadyRunning: true, state: holder.state, mode: active?.mode ?? input.mode, dryRun: active?.dryRun ?? input.dryRun };
  }
  const log = logger.child({ runId, tenantId: input.tenantId });
  const requestedAt = new Date(now).toISOString();
  const record: RunRequestRecord = {
    runId,
    tenantId: input.tenantId,
    trigger: input.trigger,
    requestedBy: input.requestedBy,
    mode: input.mode,
    dryRun: input.dryRun,
    allowDeletions: input.allowDeletions,
    requestedAt,
    status: "queued",
    attempts: 0,
    continuations: 0,
    lastAttemptAt: undefined,
    endedAt: undefined,
    failure: undefined,
    lastError: undefined,
  };
  const message: RunMessage = { runId, tenantId: input.tenantId, ticket, trigger: input.trigger, requestedBy: input.requestedBy, mode: input.mode, dryRun: input.dryRun, allowDeletions: input.allowDeletions, requestedAt };
  try {
    await context.requests.create(record);
    await context.queue.send(message);
  } catch (error) {
    // Nothing will work on the run, so the tenant is freed at once instead of when the lease expires.
    await context.leases.release(taken.lease).catch(() => undefined);
    await context.requests.update(input.tenantId, runId, { status: "failed", failure: `Could not queue the run: ${(error as Error).message}` }).catch(() => undefined);
    throw error;
  }
  logEvent(log, "info", "runRequested", `Run queued: ${input.mode}${input.dryRun ? " dry run" : ""}, trigger ${input.trigger}${input.requestedBy ? `, requested by ${input.requestedBy}` : ""}`, { runId, tenantId: input.tenantId, trigger: input.trigger, mode: input.mode, dryRun: input.dryRun });
  if (taken.replaced) await closeAbandonedRun(context, taken.replaced.runId, input.tenantId, taken.replaced.expiresAt, taken.replaced.state, runId, log);
  return { tenantId: input.tenantId, runId, alreadyRunning: false, state: "queued", mode: input.mode, dryRun: input.dryRun };
}

/** A run whose lease expired unrenewed has no live worker; it is recorded as failed so its record does not stay "running". */
async function closeAbandonedRun(context: ServiceContext, runId: string, tenantId: string, expiredAt: string, state: LeaseState, successor: string, logger: Logger): Promise<void> {
  const what = { queued: "was never picked up by a worker", running: "stopped without finishing (its worker crashed or timed out)", retrying: "failed an attempt and was not retried in time" }[state];
  const reason = `Abandoned: the run ${what}; its lease expired at ${expiredAt}, and run ${successor} took the tenant over from the last checkpoint.`;
  try {
    await recordRunFailure(context, tenantId, runId, reason, logger.child({ runId, tenantId }));
  } catch (error) {
    logger.warn(`Could not record run ${runId} as abandoned: ${(error as Error).message}`);
  }
}
