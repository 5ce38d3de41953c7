// Queue trigger on sync-notifications: a debounce check that may request one incremental run, or subscription upkeep answering a lifecycle event.
import { app, type InvocationContext } from "@azure/functions";
import { invocationLogger } from "../src/service/invocationLogger";
import { notificationTaskQueueName } from "../src/service/notificationTasks";
import { syncService } from "../src/service/serviceProvider";

export async function runNotificationTask(message: unknown, context: InvocationContext): Promise<void> {
  await syncService().processNotificationTask(message, { logger: invocationLogger(context) });
}

app.storageQueue("runNotificationTask", { queueName: notificationTaskQueueName, connection: "DirectoryStorage", handler: runNotificationTask });
