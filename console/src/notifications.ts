// The overview's change-notification panel: whether Graph notifies changes, each subscription with its id and expiry, and what is missing.
import { facts, h } from "./dom.js";
import { dateTime } from "./format.js";

export interface SubscriptionView {
  resource: "users" | "groups";
  subscriptionId: string | null;
  state: "creating" | "active";
  expiresAt: string | null;
  renewedAt: string | null;
}

/** What GET /api/console/status gives per tenant as changeNotifications (docs/api.md). */
export interface ChangeNotificationStatus {
  enabled: boolean;
  notificationUrl: string | null;
  debounceSeconds: number;
  subscriptions: SubscriptionView[];
  groupChanges: "notified" | "nextScheduledRun";
  pending: { firstNotificationAt: string; lastNotificationAt: string; checkDueAt: string; notifications: number } | null;
  lastUpkeepAt: string | null;
  lastError: string | null;
}

/** The upkeep renews a subscription once half of its 29 days are left, every 15 minutes; a week left means renewals are failing. */
const expiringWithinMs = 7 * 86_400_000;

const resources = ["users", "groups"] as const;

/** The warning a subscription calls for, judged at the server's time; undefined when it is healthy. */
function subscriptionWarning(subscription: SubscriptionView | undefined, resource: SubscriptionView["resource"], now: number): string | undefined {
  if (!subscription) return resource === "groups" ? "No groups subscription: group changes wait for the next scheduled run (a groups subscription needs Group.Read.All)." : "No users subscription: changes wait for the next scheduled run until the upkeep timer creates it (within 15 minutes).";
  if (subscription.state === "creating") return "Being created; notifications start once Graph confirms it.";
  const expiresAt = subscription.expiresAt ? Date.parse(subscription.expiresAt) : Number.NaN;
  if (Number.isNaN(expiresAt) || expiresAt <= now) return "Expired: Graph no longer sends its notifications; the upkeep timer creates a new one (see the last upkeep error).";
  if (expiresAt - now < expiringWithinMs) return "Expiring soon: the upkeep should have renewed it; see the last upkeep error.";
  return undefined;
}

/** One row per resource the feature wants (both when on), plus any subscription left behind when it is off. */
function subscriptionTable(status: ChangeNotificationStatus, now: number, idPrefix: string): { table: HTMLTableElement; warnings: number } {
  const wanted = status.enabled ? [...resources] : resources.filter((resource) => status.subscriptions.some((subscription) => subscription.resource === resource));
  let warnings = 0;
  const rows = wanted.map((resource) => {
    const subscription = status.subscriptions.find((candidate) => candidate.resource === resource);
    const warning = status.enabled ? subscriptionWarning(subscription, resource, now) : "Left behind: the feature is off and the upkeep timer deletes it.";
    if (warning) warnings++;
    return h(
      "tr",
      { id: `${idPrefix}-${resource}` },
      h("th", { scope: "row" }, resource),
      h("td", {}, subscription ? h("code", {}, subscription.subscriptionId ?? "(being created)") : "none"),
      h("td", {}, subscription ? dateTime(subscription.expiresAt) : "—"),
      h("td", {}, subscription ? dateTime(subscription.renewedAt) : "—"),
      h("td", {}, warning ? h("span", { class: "warn" }, "Warning: ", warning) : "OK"),
    );
  });
  const table = h(
    "table",
    { class: "subscriptions" },
    h("caption", {}, "Graph subscriptions"),
    h("thead", {}, h("tr", {}, ...["Resource", "Subscription id", "Expires", "Renewed", "Condition"].map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, ...rows),
  );
  return { table, warnings };
}

/** The panel for one tenant; highlighted when a subscription is missing, expiring or expired, or the last upkeep failed. */
export function notificationsPanel(status: ChangeNotificationStatus | undefined, options: { tenantId: string; generatedAt: string }): HTMLElement | null {
  if (!status) return null;
  const id = `notifications-${options.tenantId}`;
  const now = Date.parse(options.generatedAt);
  const { table, warnings } = subscriptionTable(status, Number.isNaN(now) ? Date.now() : now, `subscription-${options.tenantId}`);
  const healthy = warnings === 0 && !status.lastError;
  return h(
    "section",
    { class: `panel notifications ${healthy ? "" : "banner-warn"}`, "aria-labelledby": id },
    h("h2", { id }, "Change notifications"),
    facts([
      ["Notifications", status.enabled ? `on: a change starts an incremental run after ${status.debounceSeconds} s of quiet` : "off (SYNC_CHANGE_NOTIFICATIONS): changes wait for the next scheduled run"],
      ["Group changes", status.groupChanges === "notified" ? "notified" : h("span", { class: status.enabled ? "warn" : "" }, "wait for the next scheduled run")],
      ...(status.enabled
        ? ([
            ["Webhook", status.notificationUrl ?? "none (set CHANGE_NOTIFICATION_URL)"],
            ["Waiting", status.pending ? `${status.pending.notifications} notifications, run due ${dateTime(status.pending.checkDueAt)}` : "nothing"],
            ["Last upkeep", status.lastUpkeepAt ? dateTime(status.lastUpkeepAt) : "not yet (the upkeep timer runs every 15 minutes)"],
          ] as Array<[string, string]>)
        : []),
    ]),
    status.lastError ? h("p", { class: "error" }, `Last upkeep failed: ${status.lastError}`) : null,
    table.tBodies[0]?.rows.length ? table : null,
  );
}
