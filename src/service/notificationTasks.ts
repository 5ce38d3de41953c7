// The sync-notifications queue: delayed debounce checks and subscription upkeep the webhook hands off so it can answer Graph at once.
import type { QueueClient } from "@azure/storage-queue";
import { z } from "zod";
import { parseQueueMessage, QueueSender } from "./queueMessages";

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

export function parseNotificationTask(raw: unknown): { message: NotificationTask } | { problem: string } {
  return parseQueueMessage(raw, notificationTaskSchema);
}

export interface NotificationTaskQueue {
  send(task: NotificationTask, options?: { delaySeconds?: number }): Promise<void>;
}

export class StorageNotificationTaskQueue implements NotificationTaskQueue {
  private readonly sender: QueueSender;

  constructor(client: QueueClient) {
    this.sender = new QueueSender(client);
  }

  async send(task: NotificationTask, options: { delaySeconds?: number } = {}): Promise<void> {
    const delay = options.delaySeconds === undefined ? undefined : Math.min(maxVisibilityDelaySeconds, Math.max(0, Math.ceil(options.delaySeconds)));
    await this.sender.send(JSON.stringify(task), delay);
  }
}
