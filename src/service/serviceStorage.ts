// Opens the Functions app's own tables and the sync-requests queue on the DirectoryStorage connection, as the host does.
import type { TableClient } from "@azure/data-tables";
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import { QueueClient } from "@azure/storage-queue";
import { SettingsError, type Settings } from "../config/settings";
import { tableClientOpener } from "../store/tableClients";
import { directoryTableNames } from "../store/tableNames";

/** Tables the Functions surface reads and writes; the directory tables stay with the composition root. */
export interface ServiceTables {
  /** Holds each tenant's lease next to its checkpoints. */
  syncState: TableClient;
  runs: TableClient;
  runRequests: TableClient;
  changes: TableClient;
}

/** Per run: what was asked, by whom, and how its attempts went (the request side of the run log). */
export const runRequestsTableName = (prefix: string) => `${prefix}RunRequests`;
/** Per entity change events, the change feed. */
export const changesTableName = (prefix: string) => `${prefix}Changes`;

function storageCredential(settings: Settings): TokenCredential {
  const clientId = "clientId" in settings.storage ? settings.storage.clientId : undefined;
  return clientId ? new ManagedIdentityCredential({ clientId }) : new DefaultAzureCredential();
}

export function openServiceTables(settings: Settings): ServiceTables {
  const open = tableClientOpener(settings.storage);
  const names = directoryTableNames(settings.tablePrefix);
  return {
    syncState: open(names.syncState),
    runs: open(names.runs),
    runRequests: open(runRequestsTableName(settings.tablePrefix)),
    changes: open(changesTableName(settings.tablePrefix)),
  };
}

/** The queue client for one queue of the DirectoryStorage connection: the same account the queue trigger listens on. */
export function openQueue(settings: Settings, queueName: string): QueueClient {
  const storage = settings.storage;
  if ("connectionString" in storage) return new QueueClient(storage.connectionString, queueName);
  if (!settings.queueServiceUri) {
    throw new SettingsError("Setting DirectoryStorage__queueServiceUri is required by the Functions app: the Queue endpoint such as https://mystorage.queue.core.windows.net (or DirectoryStorage as a connection string for Azurite).");
  }
  return new QueueClient(`${settings.queueServiceUri}/${queueName}`, storageCredential(settings));
}
