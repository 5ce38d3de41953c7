// Timer on SYNC_SCHEDULE: requests one incremental run per configured tenant, then purges records past their retention.
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

export async function scheduledSync(timer: Timer, context: InvocationContext): Promise<void> {
  const logger = invocationLogger(context);
  if (timer.isPastDue) logger.warn(`The timer is past due (last scheduled ${timer.scheduleStatus?.last ?? "unknown"}); the host was down or busy at the scheduled time, so the runs start now`);
  const { requested, failures } = await syncService().runSchedule(logger);
  for (const outcome of requested) {
    logger.info(outcome.alreadyRunning ? `Run ${outcome.runId} was already ${outcome.state}; none queued` : "Scheduled run queued", { runId: outcome.runId, tenantId: outcome.tenantId });
  }
  // Thrown after every tenant was tried, so the failure shows on the invocation in monitoring.
  if (failures.length > 0) throw new Error(`The scheduled sync did not complete for: ${failures.join("; ")}`);
}

app.timer("scheduledSync", { schedule: "%SYNC_SCHEDULE%", runOnStartup: false, useMonitor: true, handler: scheduledSync });
