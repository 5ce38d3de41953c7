// The webhook Graph calls: the validation handshake, and notifications verified by subscription, tenant and clientState before anything starts.
import { z } from "zod";
import type { Logger } from "../logging/logger";
import { ApiError } from "./httpInput";
import { recordNotifications } from "./notificationDebounce";
import type { ServiceContext } from "./serviceContext";
import type { SubscriptionRecord } from "./subscriptionRecords";
export { SubscriptionDirectory } from "./subscriptionDirectory";

/** Graph batches notifications in one POST; 1 MiB holds a thousand of them with room to spare, and refuses anything bigger. */
export const maxNotificationBodyBytes = 1024 * 1024;
/** The most notifications one POST may carry here; larger batches are refused unread. */
const maxNotificationsPerPost = 1000;
/** Validation tokens are opaque; Graph's are a few hundred characters. */
const maxValidationTokenLength = 4096;

export type WebhookAnswer = { status: 200; text: string } | { status: 202 };

const guid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const lifecycleEvents = ["reauthorizationRequired", "subscriptionRemoved", "missed"] as const;

/** changeNotification (changenotification resource type): changeType and lifecycleEvent are mutually exclusive. */
const notificationSchema = z
  .object({
    subscriptionId: z.string().min(1).max(64),
    clientState: z.string().max(255).nullish(),
    tenantId: z.string().regex(guid).nullish(),
    /** Some lifecycle notifications carry organizationId instead of tenantId (msgraph-sdk-java#1551). */
    organizationId: z.string().regex(guid).nullish(),
    changeType: z.string().max(64).nullish(),
    lifecycleEvent: z.string().max(64).nullish(),
    resource: z.string().max(2048).nullish(),
    subscriptionExpirationDateTime: z.string().max(64).nullish(),
  })
  .refine((item) => (item.changeType ? 1 : 0) + (item.lifecycleEvent ? 1 : 0) === 1, "must carry either changeType or lifecycleEvent")
  .refine((item) => Boolean(item.tenantId ?? item.organizationId), "must carry tenantId");

const collectionSchema = z.object({ value: z.array(notificationSchema).min(1).max(maxNotificationsPerPost) });

type Notification = z.infer<typeof notificationSchema>;

export interface WebhookInput {
  /** The validationToken query parameter, when Graph validates the URL. */
  validationToken: string | null;
  contentType: string | null;
  body: Uint8Array;
}

/** Answers one webhook call; throws ApiError (4xx) for anything that is not a verified Graph call, before it changes anything. */
export async function receiveWebhook(context: ServiceContext, input: WebhookInput, logger: Logger): Promise<WebhookAnswer> {
  if (input.validationToken !== null) {
    if (input.validationToken === "" || input.validationToken.length > maxValidationTokenLength) throw new ApiError(400, "invalid_validation_token", `validationToken must be 1 to ${maxValidationTokenLength} characters`);
    logger.info("Answered Microsoft Graph's validation request for the notification URL");
    return { status: 200, text: input.validationToken };
  }
  const notifications = parseNotifications(input);
  await context.ready();
  const verified: Array<{ tenantId: string; notification: Notification }> = [];
  for (const notification of notifications) {
    const tenantId = (notification.tenantId ?? notification.organizationId ?? "").toLowerCase();
    if (!context.settings.tenants.some((tenant) => tenant.tenantId === tenantId)) {
      logger.warn(`Refused a change notification for tenant ${tenantId}, which this deployment does not sync`, { subscriptionId: notification.subscriptionId });
      throw rejected();
    }
    const record = await context.subscriptionDirectory.verify(tenantId, notification.subscriptionId, notification.clientState ?? "");
    if (!record) {
      // The reason goes to the log only; the caller learns nothing about which part was wrong.
      logger.warn(`Refused a change notification: subscription ${notification.subscriptionId} is unknown for tenant ${tenantId} or its clientState does not match`);
      throw rejected();
    }
    verified.push({ tenantId, notification });
  }
  const byTenant = new Map<string, Notification[]>();
  for (const { tenantId, notification } of verified) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), notification]);
  for (const [tenantId, items] of byTenant) await dispatch(context, tenantId, items, logger.child({ tenantId }));
  return { status: 202 };
}

function parseNotifications(input: WebhookInput): Notification[] {
  const [mediaType] = (input.contentType ?? "").toLowerCase().split(";").map((part) => part.trim());
  if (mediaType !== "application/json") throw new ApiError(415, "unsupported_media_type", "A change notification must be application/json");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(input.body)) as unknown;
  } catch {
    throw new ApiError(400, "invalid_json", "The body is not UTF-8 JSON");
  }
  const parsed = collectionSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError(400, "invalid_notification", `Not a change notification collection: ${issue.path.join(".") || "body"} ${issue.message}`);
  }
  return parsed.data.value;
}

async function dispatch(context: ServiceContext, tenantId: string, items: Notification[], logger: Logger): Promise<void> {
  const changes = items.filter((item) => item.changeType).length;
  const events = items.filter((item) => item.lifecycleEvent);
  for (const event of events) {
    logger.info(`Lifecycle notification ${event.lifecycleEvent} for subscription ${event.subscriptionId}`, { subscriptionId: event.subscriptionId });
    if (event.lifecycleEvent === "reauthorizationRequired" || event.lifecycleEvent === "subscriptionRemoved") {
      context.subscriptionDirectory.forget(tenantId);
      await context.notificationTasks.send({ task: "subscriptions", tenantId, reason: event.lifecycleEvent, subscriptionId: event.subscriptionId });
    } else if (!(lifecycleEvents as readonly string[]).includes(event.lifecycleEvent ?? "")) {
      logger.warn(`Ignored lifecycle notification ${event.lifecycleEvent} that this version does not know`);
    }
  }
  // Missed notifications and a removed subscription may both hide changes: one incremental run reads them.
  const runWorthy = changes + events.filter((event) => event.lifecycleEvent === "missed" || event.lifecycleEvent === "subscriptionRemoved").length;
  if (runWorthy > 0) await recordNotifications(context, tenantId, runWorthy, logger);
}

function rejected(): ApiError {
  return new ApiError(403, "notification_rejected", "Not a notification for a subscription of this deployment");
}
