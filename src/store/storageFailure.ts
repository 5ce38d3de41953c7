// Says why Table Storage could not be reached, and for the local emulator that Azurite is not running and what to set instead.
import type { Settings } from "../config/settings";
import { networkFailureOf } from "../errors/networkFailure";
import { SyncError } from "../errors/syncError";

/** The table endpoint the settings point at, as a URL. */
export function tableEndpointOf(storage: Settings["storage"]): string {
  if (!("connectionString" in storage)) return storage.tableServiceUri;
  const text = storage.connectionString;
  if (/UseDevelopmentStorage=true/i.test(text)) return "http://127.0.0.1:10002/devstoreaccount1";
  const explicit = /TableEndpoint=([^;]+)/i.exec(text)?.[1];
  if (explicit) return explicit;
  const account = /AccountName=([^;]+)/i.exec(text)?.[1] ?? "account";
  const suffix = /EndpointSuffix=([^;]+)/i.exec(text)?.[1] ?? "core.windows.net";
  return `https://${account}.table.${suffix}`;
}

function isLocal(url: string): boolean {
  return ["127.0.0.1", "localhost", "::1", "[::1]"].includes(new URL(url).hostname);
}

/** One line for a storage endpoint that cannot be reached; undefined for other failures. */
export function explainStorageFailure(error: unknown, storage: Settings["storage"]): SyncError | undefined {
  const failure = networkFailureOf(error);
  if (!failure) return undefined;
  const endpoint = tableEndpointOf(storage);
  const host = new URL(endpoint).host;
  if ("connectionString" in storage && isLocal(endpoint)) {
    return new SyncError("storage.unreachable", `No Azurite (local Table Storage emulator) is running at ${host} (${failure.systemCode}), which DirectoryStorage points at.`, {
      fix: "Start it (npx azurite-table --location .azurite --tablePort " + (new URL(endpoint).port || "10002") + "), or use a storage account: remove DirectoryStorage and set DirectoryStorage__tableServiceUri=https://<account>.table.core.windows.net (you need Storage Table Data Reader, or Contributor to sync).",
      cause: error,
    });
  }
  const setting = "connectionString" in storage ? "DirectoryStorage" : "DirectoryStorage__tableServiceUri";
  return new SyncError("storage.unreachable", `Table Storage at ${host} could not be reached (${failure.systemCode}).`, {
    fix: `Check ${setting} and that this machine may reach the account (firewall, private endpoint).`,
    cause: error,
  });
}
