// What a tenant's change notifications look like to an operator: subscriptions, their expiry, what waits for a run, and what needs doing.
import { readPending, type PendingNotifications } from "./notificationDebounce";
import type { ServiceContext } from "./serviceContext";

export interface SubscriptionView {
  resource: "users" | "groups";
  /** Null while an instance is creating it. */
  subscriptionId: string | null;
  state: "creating" | "active";
  expiresAt: string | null;
  renewedAt: string | null;
}

export interface ChangeNotificationStatus {
  enabled: boolean;
  notificationUrl: string | null;
  debounceSeconds: number;
  subscriptions: SubscriptionView[];
  /** notified: a group change starts a run within seconds; nextScheduledRun: it waits for the timer (no Group.Read.All, or the feature is off). */
  groupChanges: "notified" | "nextScheduledRun";
  /** Notifications waiting for their quiet period to end; null when none. */
  pending: PendingNotifications | null;
  lastUpkeepAt: string | null;
  lastError: string | null;
}

/** The tenant's change-notification state and the warnings it calls for; reads the tables only. */
export async function readChangeNotificationStatus(context: ServiceContext, tenantId: string): Promise<{ status: ChangeNotificationStatus; warnings: string[] }> {
  const settings = context.settings.changeNotifications;
  const [records, upkeep, pending] = await Promise.all([context.subscriptions.readAll(tenantId), context.subscriptions.readUpkeep(tenantId), readPending(context, tenantId)]);
  const now = context.clock();
  const subscriptions = records.map((record): SubscriptionView => ({ resource: record.resource, subscriptionId: record.subscriptionId || null, state: record.state, expiresAt: record.expiresAt || null, renewedAt: record.renewedAt || null }));
  const active = (resource: "users" | "groups") => records.some((record) => record.resource === resource && record.state === "active" && Date.parse(record.expiresAt) > now);
  const warnings: string[] = [];
  if (settings.enabled) {
    if (!active("users")) warnings.push(`Change notifications are on but no users subscription is active${upkeep?.lastError ? ` (last upkeep: ${upkeep.lastError})` : " yet; the upkeep timer creates it within 15 minutes"}; until then changes wait for the next scheduled run.`);
    if (!active("groups")) warnings.push(`Group changes wait for the next scheduled run: ${upkeep?.groupsReason ?? "no groups subscription is active yet."} Grant Group.Read.All (the Bicep parameter grantGroupReadAll) to have them notified.`);
  } else if (records.length > 0) {
    warnings.push("SYNC_CHANGE_NOTIFICATIONS is off but subscriptions remain; the upkeep timer deletes them within 15 minutes.");
  }
  return {
    status: {
      enabled: settings.enabled,
      notificationUrl: settings.notificationUrl ?? null,
      debounceSeconds: settings.debounceSeconds,
      subscriptions,
      groupChanges: settings.enabled && active("groups") ? "notified" : "nextScheduledRun",
      pending: pending ?? null,
      lastUpkeepAt: upkeep?.lastUpkeepAt || null,
      lastError: upkeep?.lastError ?? null,
    },
    warnings,
  };
}
