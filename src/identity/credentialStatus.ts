// What the status endpoint shows about each tenant's sign-in credential: its mode and, for Key Vault modes, the secret's expiry.
import type { TokenCredential } from "@azure/identity";
import { settingsForTenant, type CredentialMode, type Settings } from "../config/settings";
import { silentLogger, type Logger } from "../logging/logger";
import { createSecretReader, describeSecret, expiredMessage, expiringMessage, explainVaultError, judgeExpiry, type KeyVaultSecretReader, type SecretExpiry, type SecretKind } from "./keyVaultSecret";

export interface SecretStatus {
  vaultUrl: string;
  secretName: string;
  kind: SecretKind;
  /** "unavailable" when the secret could not be read; the message says why and what to do. */
  state: SecretExpiry["state"] | "unavailable";
  expiresOn: string | undefined;
  daysLeft: number | undefined;
  version: string | undefined;
  message: string;
}

export interface CredentialStatus {
  tenantId: string;
  mode: CredentialMode;
  clientId: string | undefined;
  secret: SecretStatus | undefined;
}

/** One status per tenant the deployment syncs; reads Key Vault for the modes that keep a secret there, and never throws. */
export async function readCredentialStatus(settings: Settings, options: { logger?: Logger; vaultCredential?: TokenCredential } = {}): Promise<CredentialStatus[]> {
  return await Promise.all(
    settings.tenants.map(async (tenant) => {
      const tenantSettings = settingsForTenant(settings, tenant.tenantId) ?? settings;
      const reader = createSecretReader(tenantSettings, { logger: options.logger ?? silentLogger, vaultCredential: options.vaultCredential });
      return await credentialStatusOf(tenantSettings, reader);
    }),
  );
}

export async function credentialStatusOf(settings: Settings, reader: KeyVaultSecretReader | undefined, now: number = Date.now()): Promise<CredentialStatus> {
  const base = { tenantId: settings.tenantId, mode: settings.credentialMode, clientId: settings.clientId };
  if (!reader) return { ...base, secret: undefined };
  const { vaultUrl, secretName, kind } = reader.location;
  try {
    const snapshot = await reader.inspect();
    const expiry = judgeExpiry(snapshot.expiresOn, settings.secretExpiryWarningDays, now);
    const message =
      expiry.state === "expired"
        ? expiredMessage(reader.location, expiry.expiresOn)
        : expiry.state === "expiring"
          ? expiringMessage(reader.location, expiry)
          : expiry.state === "noExpiry"
            ? `${describeSecret(reader.location)} has no expiry date, so its end cannot be watched; set it to the end date of the app's ${kind === "certificate" ? "certificate" : "client secret"} with --expires.`
            : `${describeSecret(reader.location)} is valid until ${expiry.expiresOn.toISOString().slice(0, 10)} (${expiry.daysLeft} days).`;
    return {
      ...base,
      secret: { vaultUrl, secretName, kind, state: expiry.state, expiresOn: expiry.expiresOn?.toISOString(), daysLeft: expiry.daysLeft, version: snapshot.version, message },
    };
  } catch (error) {
    return { ...base, secret: { vaultUrl, secretName, kind, state: "unavailable", expiresOn: undefined, daysLeft: undefined, version: undefined, message: explainVaultError(error, reader.location).message } };
  }
}
