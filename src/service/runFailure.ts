// Ends a run as failed with its reason in both logs, when the engine could not say so itself (retries exhausted, poisoned, abandoned).
import type { Logger } from "../logging/logger";
import { logEvent } from "../logging/operationalEvents";
import { newRunSummary, type SyncRunSummary } from "../sync/syncRun";
import type { RunLeaseRecord } from "./runLease";
import type { RunRequestRecord } from "./runRequests";
import { runLogOf, type ServiceContext } from "./serviceContext";

/** A run record for a run the engine never started, so the import log still shows it and why it failed. */
export function summaryFromRequest(record: Pick<RunRequestRecord, "runId" | "tenantId" | "trigger" | "requestedBy" | "mode" | "dryRun" | "requestedAt">): SyncRunSummary {
  const { runId, tenantId, trigger, requestedBy, mode, dryRun, requestedAt } = record;
  return newRunSummary({ runId, tenantId, trigger, requestedBy, mode, dryRun, status: "failed", startedAt: requestedAt });
}

export interface RecordFailureOptions {
  /** The lease to give up, when this caller holds the run's lease. */
  lease?: RunLeaseRecord;
  /** The request record, when the caller already read it. */
  request?: RunRequestRecord;
}

/** Marks the run failed with `reason` in the run log and the request record, and releases its lease if given. */
export async function recordRunFailure(context: ServiceContext, tenantId: string, runId: string, reason: string, logger: Logger, options: RecordFailureOptions = {}): Promise<void> {
  const now = new Date(context.clock()).toISOString();
  const runLog = runLogOf(context, tenantId);
  const request = options.request ?? (await context.requests.get(tenantId, runId));
  const summary = (await runLog.get(runId)) ?? (request ? summaryFromRequest(request) : undefined);
  if (summary) {
    const previousError = summary.status === "failed" ? summary.error : undefined;
    summary.status = "failed";
    summary.error = previousError && !reason.includes(previousError) ? `${reason} Last error: ${previousError}` : reason;
    summary.endedAt = now;
    summary.durationMs = Date.parse(now) - Date.parse(summary.startedAt);
    await runLog.save(summary);
  }
  await context.requests.update(tenantId, runId, { status: "failed", failure: reason, endedAt: now });
  if (options.lease) await context.leases.release(options.lease);
  logEvent(logger, "error", "runFailed", `Run failed: ${reason}`, { runId, tenantId, reason });
}
