// The identity the Function App itself runs as: its managed identity in Azure, the developer's sign-in locally.
import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import type { CloudName, Settings } from "../config/settings";

/** The managed identity's token for this audience is the client assertion of a federated app (workload-identity-federation-config-app-trust-managed-identity). */
export const tokenExchangeAudiences: Record<CloudName, string> = {
  public: "api://AzureADTokenExchange",
  usgov: "api://AzureADTokenExchangeUSGov",
  china: "api://AzureADTokenExchangeChina",
};

/** Authority hosts MSAL knows; any other host (a stand-in, a private cloud) must skip instance discovery, which would ask login.microsoftonline.com. */
const knownAuthorityHosts = new Set(["login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"]);

export function needsInstanceDiscoveryDisabled(authorityHost: string): boolean {
  return !knownAuthorityHosts.has(new URL(authorityHost).hostname.toLowerCase());
}

/** Vault hosts of the Microsoft clouds; any other (a stand-in) needs the challenge's resource check switched off. */
const vaultHostSuffixes = [".vault.azure.net", ".vault.usgovcloudapi.net", ".vault.azure.cn", ".managedhsm.azure.net"];

export function isMicrosoftVaultHost(vaultUrl: string): boolean {
  const host = new URL(vaultUrl).hostname.toLowerCase();
  return vaultHostSuffixes.some((suffix) => host.endsWith(suffix));
}

/** The app's managed identity: user-assigned when MANAGED_IDENTITY_CLIENT_ID is set, else system-assigned. */
export function managedIdentityCredential(settings: Pick<Settings, "managedIdentityClientId">): ManagedIdentityCredential {
  return settings.managedIdentityClientId ? new ManagedIdentityCredential({ clientId: settings.managedIdentityClientId }) : new ManagedIdentityCredential();
}

/** Reads Key Vault: the managed identity where App Service/Functions set IDENTITY_ENDPOINT, else DefaultAzureCredential so `az login` works locally. */
export function platformCredential(settings: Pick<Settings, "managedIdentityClientId">, env: Record<string, string | undefined> = process.env): TokenCredential {
  if (env["IDENTITY_ENDPOINT"] || env["MSI_ENDPOINT"]) return managedIdentityCredential(settings);
  return new DefaultAzureCredential(settings.managedIdentityClientId ? { managedIdentityClientId: settings.managedIdentityClientId } : {});
}
