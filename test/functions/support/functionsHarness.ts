// Drives the Functions handlers as the host would: real HttpRequest and InvocationContext objects, messages read off the Azurite queue.
import { ClientSecretCredential } from "@azure/identity";
import { HttpRequest, InvocationContext } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import type { Settings } from "../../../src/config/settings";
import { compose } from "../../../src/compositionRoot";
import { runSyncRequest } from "../../../functions/runSyncRequest";
import type { ComposeTenant, ServiceTiming } from "../../../src/service/serviceContext";
import { syncRequestQueueName, type RunMessage } from "../../../src/service/runQueue";
import { SyncService } from "../../../src/service/syncService";
import { useSyncService } from "../../../src/service/serviceProvider";
import { standInClient, testWriteBuffer, type TestEnvironment } from "../../support/testEnvironment";

/** The engine composed as in production, except that it signs in to the stand-in and does not wait out Retry-After. */
export function standInComposer(env: TestEnvironment): ComposeTenant {
  return (settings, options) =>
    compose(settings, {
      ...options,
      credential: new ClientSecretCredential(settings.tenantId, standInClient.clientId, standInClient.clientSecret, { authorityHost: env.standIn.url, disableInstanceDiscovery: true }),
      sleep: async () => undefined,
      writeBufferOperations: testWriteBuffer,
    });
}

/** Builds the service the handlers use for these settings and puts it in place of the one from app settings. */
export function installService(env: TestEnvironment, settings: Settings, timing: Partial<ServiceTiming> = {}): SyncService {
  const service = new SyncService(settings, { composeTenant: standInComposer(env), timing });
  useSyncService(service);
  return service;
}

export interface LoggedLine {
  level: string;
  line: Record<string, unknown>;
}

/** An invocation context whose log lines are kept, parsed, for assertions. */
export function invocation(functionName: string, triggerMetadata: Record<string, unknown> = {}): { context: InvocationContext; lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const context = new InvocationContext({
    functionName,
    invocationId: `test-${Math.random().toString(16).slice(2)}`,
    triggerMetadata,
    logHandler: (level, ...args) => lines.push({ level, line: JSON.parse(String(args[0])) as Record<string, unknown> }),
  });
  return { context, lines };
}

export interface HttpCall {
  method: "GET" | "POST";
  path: string;
  body?: string;
  headers?: Record<string, string>;
  params?: Record<string, string>;
}

/** The function-app origin requests appear to come from; status URLs must point back at it. */
export const origin = "https://entra-sync.example.net";

export function httpRequest(call: HttpCall): HttpRequest {
  return new HttpRequest({ method: call.method, url: `${origin}${call.path}`, headers: call.headers ?? {}, params: call.params ?? {}, ...(call.body === undefined ? {} : { body: { string: call.body } }) });
}

export interface QueuedMessage {
  message: RunMessage;
  dequeueCount: number;
}

export function requestQueue(env: TestEnvironment): QueueClient {
  return new QueueClient(env.azurite.connectionString, syncRequestQueueName);
}

/** Takes every visible message off the queue, decoded as the trigger would decode it. */
export async function takeMessages(queue: QueueClient): Promise<QueuedMessage[]> {
  const taken: QueuedMessage[] = [];
  if (!(await queue.exists())) return taken;
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
    if (receivedMessageItems.length === 0) return taken;
    for (const item of receivedMessageItems) {
      taken.push({ message: JSON.parse(Buffer.from(item.messageText, "base64").toString("utf8")) as RunMessage, dequeueCount: item.dequeueCount });
      await queue.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}

/** Counts the messages waiting, visible or not yet, without taking them. */
export async function queuedCount(queue: QueueClient): Promise<number> {
  if (!(await queue.exists())) return 0;
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

export async function clearQueue(queue: QueueClient): Promise<void> {
  if (await queue.exists()) await queue.clearMessages();
}

/** Feeds queued messages to the worker handler until none are left (continuations included); returns how many ran. */
export async function drainWorker(queue: QueueClient, maxMessages = 50): Promise<number> {
  let handled = 0;
  for (;;) {
    const batch = await takeMessages(queue);
    if (batch.length === 0) return handled;
    for (const item of batch) {
      if (++handled > maxMessages) throw new Error(`More than ${maxMessages} messages: the continuations do not converge`);
      const { context } = invocation("runSyncRequest", { dequeueCount: item.dequeueCount });
      // The host hands the handler the parsed JSON of the message.
      await runSyncRequest(item.message, context);
    }
  }
}
