// The sync-notifications queue: delayed debounce checks and subscription upkeep the webhook hands off so it can answer Graph at once.
import type { QueueClient } from "@azure/storage-queue";
import { z } from "zod";

/** The queue the notification-task function listens on; also its binding's queueName. */
export const notificationTaskQueueName = "sync-notifications";
/** Storage queues hide a message for at most 7 days; debounce delays are seconds, so this only guards bad input. */
const maxVisibilityDelaySeconds = 7 * 24 * 3600;

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const notificationTaskSchema = z.discriminatedUnion("task", [
  /** Looks at the tenant's pending-notification marker once the quiet period may have passed. */
  z.object({ task: z.literal("debounce"), tenantId: z.string().regex(guidPattern) }),
  /** Brings the tenant's subscriptions in line; `reauthorize` and `recreate` answer lifecycle notifications. */
  z.object({ task: z.literal("subscriptions"), tenantId: z.string().regex(guidPattern), reason: z.enum(["reauthorizationRequired", "subscriptionRemoved", "upkeep"]), subscriptionId: z.string().max(64).optional() }),
]);

export type NotificationTask = z.infer<typeof notificationTaskSchema>;

export function parseNotificationTask(raw: unknown): { task: NotificationTask } | { problem: string } {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      return { problem: "the message is not JSON" };
    }
  }
  const parsed = notificationTaskSchema.safeParse(value);
  if (parsed.success) return { task: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { problem: `${issue.path.join(".") || "message"}: ${issue.message}` };
}

export interface NotificationTaskQueue {
  send(task: NotificationTask, options?: { delaySeconds?: number }): Promise<void>;
}

export class StorageNotificationTaskQueue implements NotificationTaskQueue {
  private created: Promise<unknown> | undefined;

  constructor(private readonly client: QueueClient) {}

  async send(task: NotificationTask, options: { delaySeconds?: number } = {}): Promise<void> {
    this.created ??= this.client.createIfNotExists().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    await this.created;
    const delay = options.delaySeconds === undefined ? undefined : Math.min(maxVisibilityDelaySeconds, Math.max(0, Math.ceil(options.delaySeconds)));
    // Base64, as the queue trigger decodes it by default (host.json extensions.queues.messageEncoding).
    await this.client.sendMessage(Buffer.from(JSON.stringify(task), "utf8").toString("base64"), { visibilityTimeout: delay });
  }
}
