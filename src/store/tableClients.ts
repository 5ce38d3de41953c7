// The one place that opens Table Storage clients: a connection string (Azurite) or the endpoint with the managed identity.
import { TableClient } from "@azure/data-tables";
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";

/** Where the tables live, as the settings describe the DirectoryStorage connection. */
export type TableStorageLocation = { connectionString: string } | { tableServiceUri: string; clientId: string | undefined };

/** Opens table clients by name on one connection; the credential is built once and shared. */
export function tableClientOpener(storage: TableStorageLocation): (tableName: string) => TableClient {
  if ("connectionString" in storage) {
    return (name) => TableClient.fromConnectionString(storage.connectionString, name, { allowInsecureConnection: storage.connectionString.includes("http://") });
  }
  const credential: TokenCredential = storage.clientId ? new ManagedIdentityCredential({ clientId: storage.clientId }) : new DefaultAzureCredential();
  return (name) => new TableClient(storage.tableServiceUri, name, credential);
}
