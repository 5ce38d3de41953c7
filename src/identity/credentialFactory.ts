// Builds the credential that reads Microsoft Graph, for the credential mode the settings choose.
import { ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import type { Settings } from "../config/settings";
import type { Logger } from "../logging/logger";

export interface CredentialOptions {
  logger: Logger;
}

export function createDirectoryCredential(settings: Settings, _options: CredentialOptions): TokenCredential {
  if (settings.credentialMode === "managedIdentity") {
    return settings.managedIdentityClientId ? new ManagedIdentityCredential({ clientId: settings.managedIdentityClientId }) : new ManagedIdentityCredential();
  }
  throw new Error(`Credential mode ${settings.credentialMode} is not available yet`);
}
