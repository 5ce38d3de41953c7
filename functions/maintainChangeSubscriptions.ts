// Timer every 15 minutes: creates, checks, renews or removes each tenant's Graph change-notification subscriptions as SYNC_CHANGE_NOTIFICATIONS says.
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncService } from "../src/service/serviceProvider";

/** Often enough that turning the feature on or off takes effect within minutes; each tick costs one Graph GET per subscription. */
export const subscriptionUpkeepSchedule = "0 */15 * * * *";

export async function maintainChangeSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  const { failures } = await syncService().maintainSubscriptions(invocationLogger(context));
  // Thrown after every tenant was tried, so the failure shows on the invocation in monitoring.
  if (failures.length > 0) throw new Error(`Subscription upkeep did not complete for: ${failures.join("; ")}`);
}

app.timer("maintainChangeSubscriptions", { schedule: subscriptionUpkeepSchedule, runOnStartup: false, useMonitor: true, handler: maintainChangeSubscriptions });
