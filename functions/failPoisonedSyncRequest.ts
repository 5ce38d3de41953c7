// Queue trigger on sync-requests-poison: a request the host gave up on ends its run as failed, with the reason, and frees the tenant.
import { app, type InvocationContext } from "@azure/functions";
import { invocationLogger } from "../src/service/invocationLogger";
import { syncPoisonQueueName } from "../src/service/runQueue";
import { syncService } from "../src/service/serviceProvider";

export async function failPoisonedSyncRequest(message: unknown, context: InvocationContext): Promise<void> {
  await syncService().processPoisonMessage(message, { logger: invocationLogger(context) });
}

app.storageQueue("failPoisonedSyncRequest", { queueName: syncPoisonQueueName, connection: "DirectoryStorage", handler: failPoisonedSyncRequest });
