// Reading and sending the app's queue messages: JSON as the queue trigger hands it over, Base64 text as it expects to decode it.
import type { QueueClient } from "@azure/storage-queue";
import type { z } from "zod";

/** Parses a message as the trigger hands it over (parsed JSON, or text when the host did not parse it) against its schema. */
export function parseQueueMessage<T>(raw: unknown, schema: z.ZodType<T>): { message: T } | { problem: string } {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw) as unknown;
    } catch {
      return { problem: "the message is not JSON" };
    }
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { message: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { problem: `${issue.path.join(".") || "message"}: ${issue.message}` };
}

/** Sends JSON text to one queue, creating it on first use; a failed creation is tried again by the next send. */
export class QueueSender {
  private created: Promise<unknown> | undefined;

  constructor(private readonly client: QueueClient) {}

  async send(json: string, visibilityDelaySeconds: number | undefined): Promise<void> {
    this.created ??= this.client.createIfNotExists().catch((error: unknown) => {
      this.created = undefined;
      throw error;
    });
    await this.created;
    // The queue trigger decodes Base64 by default (host.json extensions.queues.messageEncoding), so the text is sent encoded.
    await this.client.sendMessage(Buffer.from(json, "utf8").toString("base64"), { visibilityTimeout: visibilityDelaySeconds });
  }
}
