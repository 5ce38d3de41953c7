// The sync-requests queue: what a run request message holds, and sending one the way the queue trigger expects to read it.
import type { QueueClient } from "@azure/storage-queue";
import { z } from "zod";
import { parseQueueMessage, QueueSender } from "./queueMessages";
import type { SyncRunSummary } from "../sync/syncRun";
import { guidPattern } from "../common/objectId";

/** The queue the worker function listens on; also its binding's queueName. */
export const syncRequestQueueName = "sync-requests";
/** Where the Functions host moves a message after maxDequeueCount failed attempts. */
export const syncPoisonQueueName = `${syncRequestQueueName}-poison`;
/** Must equal host.json extensions.queues.maxDequeueCount (a test checks): the last attempt records the failure itself. */
export const maxDequeueCount = 5;
/** A queue message is at most 64 KiB of Base64 text, which holds 48 KiB of JSON. */
const maxMessageJsonBytes = 48 * 1024;

const runIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;


export const runMessageSchema = z.object({
  runId: z.string().regex(runIdPattern),
  tenantId: z.string().regex(guidPattern),
  /** Which message may run the run next; copies with an older ticket are stale. */
  ticket: z.string().min(1).max(64),
  trigger: z.enum(["schedule", "manual", "notification", "continuation"]),
  requestedBy: z.string().max(256).optional(),
  mode: z.enum(["incremental", "full"]),
  dryRun: z.boolean(),
  allowDeletions: z.boolean(),
  requestedAt: z.string(),
  /** The paused run this message continues; left out when too big for a message (the run log has it too). */
  continues: z.custom<SyncRunSummary>((value) => typeof value === "object" && value !== null && typeof (value as { runId?: unknown }).runId === "string").optional(),
});

export type RunMessage = z.infer<typeof runMessageSchema>;

export function isRunId(value: string): boolean {
  return runIdPattern.test(value);
}

/** Reads a message as the trigger hands it over: parsed JSON, or text when the host did not parse it. */
export function parseRunMessage(raw: unknown): { message: RunMessage } | { problem: string } {
  return parseQueueMessage(raw, runMessageSchema);
}

export interface SendOptions {
  /** Seconds the message stays invisible, for a deferred retry. */
  delaySeconds?: number;
}

/** Where run requests go; the Storage implementation below, or a fake in unit tests. */
export interface RunQueue {
  send(message: RunMessage, options?: SendOptions): Promise<void>;
}

export class StorageRunQueue implements RunQueue {
  private readonly sender: QueueSender;

  constructor(client: QueueClient) {
    this.sender = new QueueSender(client);
  }

  async send(message: RunMessage, options: SendOptions = {}): Promise<void> {
    let json = JSON.stringify(message);
    if (Buffer.byteLength(json) > maxMessageJsonBytes) json = JSON.stringify({ ...message, continues: undefined });
    await this.sender.send(json, options.delaySeconds);
  }
}
