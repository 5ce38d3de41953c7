// Plays the Function App for the change-notification loop: its public HTTPS URL for the webhook, and the queue triggers of both queues.
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { HttpRequest, InvocationContext } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { receiveChangeNotification } from "../../../functions/receiveChangeNotification";
import { runNotificationTask } from "../../../functions/runNotificationTask";
import { runSyncRequest } from "../../../functions/runSyncRequest";
import { notificationTaskQueueName } from "../../../src/service/notificationTasks";
import { syncRequestQueueName } from "../../../src/service/runQueue";
import { ensureStandInCertificate } from "../../../standin/certificate";

export interface HostedCall {
  function: string;
  at: number;
  status?: number;
  error?: string;
}

export interface FunctionAppHost {
  /** https://localhost:<port>/api/notifications */
  notificationUrl: string;
  /** Every invocation in order: webhook calls with their status, queue messages with the error they threw. */
  calls: HostedCall[];
  /** Runs queued messages until both queues stay empty (delayed messages included) or the time is up. */
  drain(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FunctionAppHostOptions {
  connectionString: string;
  certDir: string;
  /** How long an idle queue waits between polls; the real host backs off up to host.json maxPollingInterval (10 s), tests want quick reactions. */
  pollIntervalMs?: number;
}

function quietContext(functionName: string, triggerMetadata: Record<string, unknown> = {}): InvocationContext {
  return new InvocationContext({ functionName, invocationId: `host-${Math.random().toString(16).slice(2)}`, triggerMetadata, logHandler: () => undefined });
}

export async function startFunctionAppHost(options: FunctionAppHostOptions): Promise<FunctionAppHost> {
  const { certPath, keyPath } = ensureStandInCertificate(options.certDir);
  const calls: HostedCall[] = [];
  const server = https.createServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : String(value ?? "")]));
        const httpRequest = new HttpRequest({ method: request.method ?? "POST", url: `https://localhost${request.url ?? "/"}`, headers, ...(body.length > 0 ? { body: { bytes: body } } : {}) });
        const call: HostedCall = { function: "receiveChangeNotification", at: Date.now() };
        calls.push(call);
        if (!(request.url ?? "").startsWith("/api/notifications")) {
          call.status = 404;
          response.writeHead(404).end();
          return;
        }
        const answer = await receiveChangeNotification(httpRequest, quietContext("receiveChangeNotification"));
        call.status = answer.status ?? 200;
        const text = typeof answer.body === "string" ? answer.body : answer.jsonBody === undefined ? "" : JSON.stringify(answer.jsonBody);
        response.writeHead(call.status, { ...(answer.headers as Record<string, string> | undefined), ...(answer.jsonBody !== undefined ? { "content-type": "application/json" } : {}) });
        response.end(text);
      })().catch((error: unknown) => {
        response.writeHead(500).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const queues = [
    { client: new QueueClient(options.connectionString, notificationTaskQueueName), name: "runNotificationTask", handler: runNotificationTask },
    { client: new QueueClient(options.connectionString, syncRequestQueueName), name: "runSyncRequest", handler: runSyncRequest },
  ];
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();
  const pollOnce = async (): Promise<number> => {
    let handled = 0;
    for (const queue of queues) {
      if (!(await queue.client.exists())) continue;
      const { receivedMessageItems } = await queue.client.receiveMessages({ numberOfMessages: 16, visibilityTimeout: 30 });
      for (const item of receivedMessageItems) {
        handled++;
        const call: HostedCall = { function: queue.name, at: Date.now() };
        calls.push(call);
        const message = JSON.parse(Buffer.from(item.messageText, "base64").toString("utf8")) as unknown;
        try {
          await queue.handler(message as never, quietContext(queue.name, { dequeueCount: item.dequeueCount }));
          await queue.client.deleteMessage(item.messageId, item.popReceipt);
        } catch (error) {
          // Left on the queue: it becomes visible again after the visibility timeout, as the host retries it.
          call.error = (error as Error).message;
        }
      }
    }
    return handled;
  };
  const pollInterval = options.pollIntervalMs ?? 100;
  const loop = async () => {
    while (!stopped) {
      let handled = 0;
      busy = pollOnce().then(
        (count) => void (handled = count),
        () => undefined,
      );
      await busy;
      // Like the host: after a poll that found messages it polls again at once; an idle queue waits up to the interval.
      if (handled === 0) await new Promise((resolve) => setTimeout(resolve, pollInterval));
    }
  };
  void loop();
  const waiting = async (): Promise<number> => {
    let count = 0;
    for (const queue of queues) if (await queue.client.exists()) count += (await queue.client.getProperties()).approximateMessagesCount ?? 0;
    return count;
  };
  return {
    notificationUrl: `https://localhost:${port}/api/notifications`,
    calls,
    drain: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await busy;
        if ((await waiting()) === 0) {
          await new Promise((resolve) => setTimeout(resolve, pollInterval * 2));
          await busy;
          if ((await waiting()) === 0) return;
        }
        await new Promise((resolve) => setTimeout(resolve, pollInterval));
      }
      throw new Error(`The queues did not drain within ${timeoutMs} ms`);
    },
    stop: async () => {
      stopped = true;
      await busy;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
