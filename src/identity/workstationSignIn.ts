// Who the CLI reads Microsoft Graph as: the deployed credential mode, or the signed-in admin (Azure CLI or device code, delegated permissions).
import { AzureCliCredential, DeviceCodeCredential, type AccessToken, type GetTokenOptions, type TokenCredential } from "@azure/identity";
import type { Settings } from "../config/settings";
import { needsInstanceDiscoveryDisabled } from "./platformCredential";
import { explainSignInError } from "./signInErrors";
import type { TokenSource } from "./tenantGuard";

/** app: the deployed mode (ENTRA_CREDENTIAL_MODE); cli: the account of `az login`; device: a device-code sign-in in the browser. */
export type SignInChoice = "app" | "cli" | "device";
export const signInChoices: readonly SignInChoice[] = ["app", "cli", "device"];

/** Microsoft Graph Command Line Tools, Microsoft's public client for delegated Graph access (used for device-code sign-in). */
export const graphCommandLineToolsAppId = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/** Where the Functions host gives the app its managed identity; without it, this is a workstation. */
export function runsInAzure(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env["IDENTITY_ENDPOINT"] || env["MSI_ENDPOINT"]);
}

/** The sign-in to use when none is asked for: the admin's Azure CLI account on a workstation when the deployed mode needs the managed identity. */
export function defaultSignIn(settings: Pick<Settings, "credentialMode">, env: Record<string, string | undefined> = process.env): SignInChoice {
  const needsManagedIdentity = settings.credentialMode === "managedIdentity" || settings.credentialMode === "federatedCredential";
  return needsManagedIdentity && !runsInAzure(env) ? "cli" : "app";
}

export interface WorkstationCredential {
  credential: TokenCredential;
  source: TokenSource;
  /** One line for stderr: who reads Graph and why. */
  notice: string;
}

export interface WorkstationSignInOptions {
  /** Where the device-code prompt goes (stderr in the CLI). */
  prompt: (message: string) => void;
}

/** The admin's own credential for `cli` or `device`; undefined for `app`, where the composition root builds the deployed mode's. */
export function workstationCredential(choice: SignInChoice, settings: Pick<Settings, "tenantId" | "authorityHost" | "cloud">, options: WorkstationSignInOptions): WorkstationCredential | undefined {
  if (choice === "cli") {
    return {
      credential: new AzureCliCredential({ tenantId: settings.tenantId }),
      source: "azureCli",
      notice: `Reading Microsoft Graph as the account signed in to the Azure CLI (az login --tenant ${settings.tenantId}), with its delegated permissions; --sign-in app uses the deployed credential mode.`,
    };
  }
  if (choice === "device") {
    return {
      credential: new ExplainedCredential(
        new DeviceCodeCredential({
          tenantId: settings.tenantId,
          clientId: graphCommandLineToolsAppId,
          authorityHost: settings.authorityHost,
          disableInstanceDiscovery: needsInstanceDiscoveryDisabled(settings.authorityHost),
          userPromptCallback: (info) => options.prompt(info.message),
        }),
        { tenantId: settings.tenantId, authorityHost: settings.authorityHost, cloud: settings.cloud, clientId: graphCommandLineToolsAppId, who: "the account signing in with the device code" },
      ),
      source: "deviceCode",
      notice: `Reading Microsoft Graph as the account you sign in with (device code, tenant ${settings.tenantId}), with its delegated permissions.`,
    };
  }
  return undefined;
}

/** A declined or expired sign-in, or an Entra refusal, becomes one line with its fix, as the deployed credentials' failures do. */
class ExplainedCredential implements TokenCredential {
  constructor(
    private readonly inner: TokenCredential,
    private readonly context: Parameters<typeof explainSignInError>[1],
  ) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    try {
      return await this.inner.getToken(scopes, options);
    } catch (error) {
      throw (await explainSignInError(error, this.context)) ?? error;
    }
  }
}
