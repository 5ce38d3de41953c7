// Builds the credential that reads Microsoft Graph, for the credential mode the settings choose.
import { ClientAssertionCredential, type AccessToken, type GetTokenOptions, type TokenCredential } from "@azure/identity";
import type { CredentialMode, Settings } from "../config/settings";
import type { Logger } from "../logging/logger";
import { credentialStatusOf, type CredentialStatus } from "./credentialStatus";
import { KeyVaultAppCredential } from "./keyVaultAppCredential";
import { KeyVaultCredentialError, createSecretReader, expiredMessage, expiringMessage, judgeExpiry, type CredentialOptions, type KeyVaultSecretReader } from "./keyVaultSecret";
import { managedIdentityCredential, needsInstanceDiscoveryDisabled, tokenExchangeAudiences } from "./platformCredential";
import { explainSignInError } from "./signInErrors";
import { runsInAzure } from "./workstationSignIn";
import { SyncError } from "../errors/syncError";

export type { CredentialOptions } from "./keyVaultSecret";

/** A Graph credential that can also say how healthy it is: expiring or missing secrets, for runs and the status endpoint. */
export interface DirectoryCredential extends TokenCredential {
  readonly mode: CredentialMode;
  /** The Key Vault secret behind the credential, for clientSecret and certificate modes. */
  readonly secret: KeyVaultSecretReader | undefined;
  /** Warnings a run records at its start (a secret expiring soon); throws when the credential cannot work (missing or expired secret). */
  health(): Promise<string[]>;
  /** What the status endpoint shows; never throws. */
  status(): Promise<CredentialStatus>;
}

export function createDirectoryCredential(settings: Settings, options: CredentialOptions): DirectoryCredential {
  const secret = createSecretReader(settings, options);
  return new SettingsCredential(settings, graphCredential(settings, secret, options), secret, options.logger, options.env);
}

function graphCredential(settings: Settings, secret: KeyVaultSecretReader | undefined, options: CredentialOptions): TokenCredential {
  const authority = { authorityHost: settings.authorityHost, disableInstanceDiscovery: needsInstanceDiscoveryDisabled(settings.authorityHost) };
  switch (settings.credentialMode) {
    case "managedIdentity":
      return managedIdentityCredential(settings);
    case "federatedCredential": {
      const identity = managedIdentityCredential(settings);
      const audience = tokenExchangeAudiences[settings.cloud];
      // The managed identity's token for the exchange audience is the app's client assertion; no secret exists anywhere.
      const assertion = async (): Promise<string> => {
        const token = await identity.getToken(`${audience}/.default`);
        if (!token) throw new Error(`The managed identity returned no token for ${audience}`);
        return token.token;
      };
      return new ClientAssertionCredential(settings.tenantId, settings.clientId!, assertion, authority);
    }
    case "clientSecret":
    case "certificate":
      return new KeyVaultAppCredential(secret!, { authorityHost: settings.authorityHost, logger: options.logger });
  }
}

/** The mode's credential plus the Key Vault reader behind it, so runs and status can ask about expiry. */
class SettingsCredential implements DirectoryCredential {
  readonly mode: CredentialMode;

  constructor(
    private readonly settings: Settings,
    private readonly inner: TokenCredential,
    readonly secret: KeyVaultSecretReader | undefined,
    private readonly logger: Logger,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.mode = settings.credentialMode;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    try {
      return await this.inner.getToken(scopes, options);
    } catch (error) {
      throw (await this.explain(error)) ?? error;
    }
  }

  /** One line naming the tenant, the app and the fix, for the refusals Entra and the platform are known to give. */
  private async explain(error: unknown): Promise<SyncError | undefined> {
    const { tenantId, clientId, authorityHost, cloud, credentialMode, managedIdentityClientId } = this.settings;
    const identity = `the managed identity${managedIdentityClientId ? ` ${managedIdentityClientId}` : ""}`;
    const who = credentialMode === "managedIdentity" ? identity : credentialMode === "federatedCredential" ? identity : `app ${clientId ?? ""}`;
    const explained = await explainSignInError(error, { tenantId, clientId, authorityHost, cloud, who });
    if (explained) return explained;
    if ((credentialMode === "managedIdentity" || credentialMode === "federatedCredential") && !runsInAzure(this.env)) {
      return new SyncError("signIn.unavailable", `No managed identity here: ENTRA_CREDENTIAL_MODE=${credentialMode} signs in with the Function App's managed identity, which exists only in Azure.`, {
        fix: `On a workstation read Graph as yourself: --sign-in cli after az login --tenant ${tenantId} (docs/permissions.md, "From a workstation").`,
        cause: error,
      });
    }
    return undefined;
  }

  async health(): Promise<string[]> {
    if (!this.secret) return [];
    const snapshot = await this.secret.inspect();
    const expiry = judgeExpiry(snapshot.expiresOn, this.settings.secretExpiryWarningDays);
    if (expiry.state === "expired") throw new KeyVaultCredentialError(expiredMessage(this.secret.location, expiry.expiresOn), "expired", this.secret.location);
    if (expiry.state !== "expiring") return [];
    const warning = expiringMessage(this.secret.location, expiry);
    this.logger.warn(warning, { secretName: this.secret.location.secretName, vaultUrl: this.secret.location.vaultUrl, expiresOn: expiry.expiresOn.toISOString() });
    return [warning];
  }

  status(): Promise<CredentialStatus> {
    return credentialStatusOf(this.settings, this.secret);
  }
}
