// The structured events the alert rules (infra/app/alerts.bicep) query: each names its fields, so a renamed field fails to compile and fails the rule test.
import type { Logger } from "./logger";

/** Event name → the fields every line of it carries (besides `event`, `runId` and `tenantId`, which every line has). */
export const operationalEvents = {
  /** A run was queued for a tenant (timer or request): the tenants this deployment looks after. */
  runRequested: ["trigger", "mode", "dryRun"],
  /** A run ended and applied everything. */
  runSucceeded: ["trigger", "dryRun"],
  /** A run ended holding user deletions above the threshold (DELETION_THRESHOLD_COUNT / _PERCENT) for an admin to review. */
  runQuarantined: ["trigger", "dryRun", "heldDeletions"],
  /** A run ended failed for good (retries used up, poisoned or abandoned). */
  runFailed: ["reason"],
  /** A Key Vault secret the sign-in uses expires within SECRET_EXPIRY_WARNING_DAYS, has expired, or cannot be read. */
  secretExpiring: ["secretName", "vaultUrl", "state", "daysLeft", "expiresOn"],
} as const satisfies Record<string, readonly string[]>;

export type OperationalEvent = keyof typeof operationalEvents;
/** Fields every line has, whatever the event. */
export const commonEventFields = ["event", "runId", "tenantId"] as const;

type EventFields<E extends OperationalEvent> = { [K in (typeof operationalEvents)[E][number]]: string | number | boolean | null | undefined };

/** Logs one operational event: the message for people, the fields for the alert rules. */
export function logEvent<E extends OperationalEvent>(logger: Logger, level: "info" | "warn" | "error", event: E, message: string, fields: EventFields<E> & { runId?: string | null; tenantId: string }): void {
  logger[level](message, { event, ...fields });
}
