// Runs one sync outside the Functions host (the CLI) as the app's worker does: under the tenant's lease, into the same change feed and success marker.
import { randomUUID } from "node:crypto";
import type { Composition } from "../compositionRoot";
import type { Settings } from "../config/settings";
import type { Logger } from "../logging/logger";
import type { SyncRequest, SyncResult } from "../sync/syncEngine";
import { newRunId, type SyncRunSummary } from "../sync/syncRun";
import { ChangeFeed } from "./changeFeed";
import { LeaseKeeper, leaseRenewalInterval, RunLeases, type RunLeaseRecord } from "./runLease";
import { RunRequestLog } from "./runRequests";
import type { ComposeTenant } from "./serviceContext";
import { openServiceTables } from "./serviceStorage";

export type LeasedRunResult =
  | { started: true; result: SyncResult; tookOverFrom: RunLeaseRecord | undefined; continued: SyncRunSummary | undefined }
  | { started: false; holder: RunLeaseRecord };

export interface RunUnderLeaseOptions {
  logger: Logger;
  /** Builds the engine, handed the change feed; the CLI passes compose(), tests the stand-ins' composer. */
  composeTenant: ComposeTenant;
}

export async function runUnderLease(settings: Settings, request: SyncRequest, options: RunUnderLeaseOptions): Promise<LeasedRunResult> {
  const service = openServiceTables(settings);
  // The Functions app's own feed table: a consumer following it sees CLI-started changes like any other run's.
  const composition = options.composeTenant(settings, { logger: options.logger, changeSink: new ChangeFeed(service.changes) });
  const ttlMs = settings.leaseTtlSeconds * 1000;
  const leases = new RunLeases(service.syncState, ttlMs);
  await Promise.all([composition.store.ensureTables(), service.changes.createTable(), service.runRequests.createTable()]);
  const continues = await pausedRunToContinue(composition, request);
  const runId = continues?.runId ?? request.runId ?? newRunId();
  const acquired = await leases.acquire(settings.tenantId, runId, randomUUID());
  if (!acquired.acquired) return { started: false, holder: acquired.holder };
  if (acquired.replaced && acquired.replaced.runId !== runId) await closeAbandonedRecord(composition, acquired.replaced, runId);
  const running = await leases.update(acquired.lease, { state: "running" });
  const keeper = new LeaseKeeper(running, leases, leaseRenewalInterval(ttlMs), options.logger);
  keeper.start();
  try {
    const result = await composition.engine.run({ ...request, runId, continues, heartbeat: keeper.heartbeat });
    const { summary } = result;
    if ((summary.status === "succeeded" || summary.status === "quarantined") && !summary.dryRun) {
      await new RunRequestLog(service.runRequests).recordSuccess(settings.tenantId, { runId: summary.runId, endedAt: summary.endedAt ?? new Date().toISOString() });
    }
    return { started: true, result, tookOverFrom: acquired.replaced, continued: continues };
  } finally {
    await keeper.stop();
    await leases.release(keeper.lease);
  }
}

/** A run that was stopped at a checkpoint (Ctrl-C) is carried on under its own id by the next run of the same kind, so one record tells the whole run. */
async function pausedRunToContinue(composition: Composition, request: SyncRequest): Promise<SyncRunSummary | undefined> {
  if (request.mode === "full" || request.continues) return request.continues;
  const [latest] = await composition.runLog.listRecent(1);
  return latest?.status === "paused" && latest.dryRun === (request.dryRun ?? false) ? latest : undefined;
}

/** A crashed holder's record still says "running": it ends as failed, naming the run that took over, as the app's worker records it. */
async function closeAbandonedRecord(composition: Composition, abandoned: RunLeaseRecord, successor: string): Promise<void> {
  const record = await composition.runLog.get(abandoned.runId);
  if (!record || (record.status !== "running" && record.status !== "paused")) return;
  const now = new Date().toISOString();
  await composition.runLog.save({ ...record, status: "failed", error: `Abandoned: the run stopped without finishing (crashed or killed); its lease expired at ${abandoned.expiresAt}, and run ${successor} took the tenant over from the last checkpoint.`, endedAt: now, durationMs: Date.parse(now) - Date.parse(record.startedAt) });
}
