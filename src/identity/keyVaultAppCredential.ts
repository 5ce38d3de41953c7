// Signs in as the app registration with the client secret or certificate kept in Key Vault, re-reading it when Entra rejects it.
import { ClientCertificateCredential, ClientSecretCredential, type AccessToken, type GetTokenOptions, type TokenCredential } from "@azure/identity";
import type { Logger } from "../logging/logger";
import { KeyVaultCredentialError, describeSecret, kindText, rejectedMessage, type KeyVaultSecretReader, type SecretSnapshot } from "./keyVaultSecret";
import type { SyncErrorCode } from "../errors/syncError";
import { needsInstanceDiscoveryDisabled } from "./platformCredential";
import { aadstsCodeOf } from "./signInErrors";

export interface KeyVaultAppCredentialOptions {
  authorityHost: string;
  logger: Logger;
}

export class KeyVaultAppCredential implements TokenCredential {
  private current: { value: string; credential: TokenCredential } | undefined;

  constructor(
    readonly reader: KeyVaultSecretReader,
    private readonly options: KeyVaultAppCredentialOptions,
  ) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const snapshot = await this.reader.read();
    try {
      return await this.credentialFor(snapshot).getToken(scopes, options);
    } catch (error) {
      const reason = rejectionOf(error);
      if (!reason) throw error;
      const location = this.reader.location;
      // A rotation replaces the value in the vault and revokes the old one at Entra; the cached copy is then stale.
      this.options.logger.warn(`Microsoft Entra rejected the ${kindText(location)} from ${describeSecret(location)} (${reason}); reading it again in case it was rotated`);
      // Both streams can be rejected at once; the second uses the value the first re-read instead of reading again.
      const fresh = await this.reader.readAfter(snapshot.readAt);
      if (fresh.value === snapshot.value) throw new KeyVaultCredentialError(rejectedMessage(location, reason), "rejected", location, { code: rejectionCode(reason), cause: error });
      try {
        const token = await this.credentialFor(fresh).getToken(scopes, options);
        this.options.logger.info(`Signed in with the rotated ${kindText(location)}, version ${fresh.version} of ${describeSecret(location)}`);
        return token;
      } catch (second) {
        const again = rejectionOf(second);
        if (!again) throw second;
        throw new KeyVaultCredentialError(rejectedMessage(location, again), "rejected", location, { code: rejectionCode(again), cause: second });
      }
    }
  }

  /** One credential per value, so MSAL's token cache survives re-reads that find the same secret. */
  private credentialFor(snapshot: SecretSnapshot): TokenCredential {
    if (this.current?.value === snapshot.value) return this.current.credential;
    const { tenantId, clientId, kind } = this.reader.location;
    const authority = { authorityHost: this.options.authorityHost, disableInstanceDiscovery: needsInstanceDiscoveryDisabled(this.options.authorityHost) };
    const credential =
      kind === "certificate"
        ? new ClientCertificateCredential(tenantId, clientId, { certificate: snapshot.value }, authority)
        : new ClientSecretCredential(tenantId, clientId, snapshot.value, authority);
    this.current = { value: snapshot.value, credential };
    return credential;
  }
}

/** Entra's answer when it does not accept the client's credential: OAuth error invalid_client, with the AADSTS code. */
export function rejectionOf(error: unknown): string | undefined {
  if (!(error instanceof Error) || error instanceof KeyVaultCredentialError) return undefined;
  const text = `${error.message} ${JSON.stringify((error as { errorResponse?: unknown }).errorResponse ?? "")}`;
  if (!/\binvalid_client\b/.test(text)) return undefined;
  const code = /AADSTS(\d+)/.exec(text)?.[1] ?? /Error\(s\):\s*(\d+)/.exec(text)?.[1];
  return code ? `invalid_client, AADSTS${code}${aadstsMeaning[code] ? `: ${aadstsMeaning[code]}` : ""}` : "invalid_client";
}

/** The AADSTS codes a rotation or a wrong value produces (Entra authentication and authorization error codes). */
const aadstsMeaning: Record<string, string> = {
  "7000215": "invalid client secret",
  "7000222": "the client secret has expired",
  "700027": "the certificate is not registered on the app or its signature does not verify",
  "700024": "the client assertion is outside its valid time range",
};

/** The stable code of a refusal, by its AADSTS code. */
function rejectionCode(reason: string): SyncErrorCode {
  const code = aadstsCodeOf(reason);
  if (code === "7000222") return "signIn.secretExpired";
  if (code === "700027" || code === "700024") return "signIn.certificateRejected";
  return "signIn.invalidSecret";
}
