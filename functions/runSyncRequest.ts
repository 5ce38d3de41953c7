// Queue trigger on sync-requests: works on one run request within the time budget; a failed attempt throws so the host retries it.
import { app, type InvocationContext } from "@azure/functions";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncRequestQueueName } from "../src/service/runQueue";
import { syncService } from "../src/service/serviceProvider";

export async function runSyncRequest(message: unknown, context: InvocationContext): Promise<void> {
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
  await syncService().processRunMessage(message, { dequeueCount: Number.isFinite(dequeueCount) ? dequeueCount : 1, logger: invocationLogger(context) });
}

app.storageQueue("runSyncRequest", { queueName: syncRequestQueueName, connection: "DirectoryStorage", handler: runSyncRequest });
