// Builds the one SyncService a Functions process uses, from app settings, on first use; tests put their own in place.
import { loadSettings } from "../config/settings";
import { compose } from "../compositionRoot";
import type { TokenCredential } from "@azure/identity";
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

/** The credentials the connection check may be handed (check/ sits above service/, so the shape is spelled here). */
export interface CheckCredentials {
  credential?: TokenCredential;
  vaultCredential?: TokenCredential;
}

let checkOptions: CheckCredentials = {};

/** What the connection check signs in with instead of the settings' credential (the local console host's stand-in); {} goes back. */
export function useConnectionCheckOptions(options: CheckCredentials): void {
  checkOptions = options;
}

export function connectionCheckOptions(): CheckCredentials {
  return checkOptions;
}
