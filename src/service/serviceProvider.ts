// Builds the one SyncService a Functions process uses, from app settings, on first use; tests put their own in place.
import { loadSettings } from "../config/settings";
import { compose } from "../compositionRoot";
import type { ConnectionCheckOptions } from "../check/connectionCheck";
import { SyncService } from "./syncService";

let current: SyncService | undefined;

/** The process's service; settings are read and validated the first time, and a bad one fails every call with its one line. */
export function syncService(): SyncService {
  current ??= new SyncService(loadSettings(), { composeTenant: (settings, options) => compose(settings, options) });
  return current;
}

/** Puts a service in place of the one built from app settings (tests); undefined goes back to building it. */
export function useSyncService(service: SyncService | undefined): void {
  current = service;
}

let checkOptions: Pick<ConnectionCheckOptions, "credential" | "vaultCredential"> = {};

/** What the connection check signs in with instead of the settings' credential (the local console host's stand-in); {} goes back. */
export function useConnectionCheckOptions(options: Pick<ConnectionCheckOptions, "credential" | "vaultCredential">): void {
  checkOptions = options;
}

export function connectionCheckOptions(): Pick<ConnectionCheckOptions, "credential" | "vaultCredential"> {
  return checkOptions;
}
