// Reads the app registration's client secret or certificate from Key Vault, keeps it for a bounded time, and judges its expiry.
import { X509Certificate } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { SecretClient, type KeyVaultSecret } from "@azure/keyvault-secrets";
import type { Settings } from "../config/settings";
import { explainNetworkFailure } from "../errors/networkFailure";
import { SyncError, type SyncErrorCode } from "../errors/syncError";
import { knownSecrets, type Logger } from "../logging/logger";
import { isMicrosoftVaultHost, platformCredential } from "./platformCredential";

/** What the Key Vault secret holds: a client secret, or a certificate as Key Vault exposes it (PEM with the private key). */
export type SecretKind = "clientSecret" | "certificate";

/** Where the credential lives and which app it belongs to; every message about it names these. */
export interface SecretLocation {
  vaultUrl: string;
  secretName: string;
  kind: SecretKind;
  tenantId: string;
  clientId: string;
}

export interface SecretSnapshot {
  value: string;
  version: string;
  expiresOn: Date | undefined;
  contentType: string | undefined;
  /** Epoch ms when it was read. */
  readAt: number;
}

export type KeyVaultProblem = "missing" | "forbidden" | "disabled" | "expired" | "rejected" | "unreachable" | "malformed";

const problemCodes: Record<Exclude<KeyVaultProblem, "rejected">, SyncErrorCode> = {
  missing: "keyVault.secretNotFound",
  forbidden: "keyVault.forbidden",
  disabled: "keyVault.secretDisabled",
  expired: "keyVault.secretExpired",
  unreachable: "keyVault.unreachable",
  malformed: "keyVault.malformed",
};

/** The credential cannot be used: the secret is missing, unreadable, expired, or Entra refuses what it holds. Graph readers fail at once on it. */
export class KeyVaultCredentialError extends SyncError {
  override name = "KeyVaultCredentialError";
  constructor(
    message: string,
    readonly problem: KeyVaultProblem,
    readonly location: SecretLocation,
    options: { code?: SyncErrorCode; cause?: unknown } = {},
  ) {
    super(options.code ?? (problem === "rejected" ? "signIn.invalidSecret" : problemCodes[problem]), message, { cause: options.cause });
  }
}

/** The part of SecretClient the reader uses; tests may hand in a fake. */
export interface SecretGetter {
  getSecret(name: string): Promise<KeyVaultSecret>;
}

export interface SecretReaderOptions {
  logger: Logger;
  /** How long a read value is used before Key Vault is asked again; default secretCacheMs. */
  cacheMs?: number;
  now?: () => number;
}

/** Re-read at least this often, so a rotated secret reaches a long-running host even before Entra rejects the old one. */
export const secretCacheMs = 15 * 60_000;
const dayMs = 86_400_000;

export class KeyVaultSecretReader {
  private cached: SecretSnapshot | undefined;
  private inflight: Promise<SecretSnapshot> | undefined;
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(
    readonly location: SecretLocation,
    private readonly client: SecretGetter,
    private readonly options: SecretReaderOptions,
  ) {
    this.cacheMs = options.cacheMs ?? secretCacheMs;
    this.now = options.now ?? Date.now;
  }

  /** The current value for signing in; fails when the secret is missing, unreadable or past its expiry date. */
  async read(options: { refresh?: boolean } = {}): Promise<SecretSnapshot> {
    const snapshot = await this.inspect(options);
    if (snapshot.expiresOn && snapshot.expiresOn.getTime() <= this.now()) {
      throw new KeyVaultCredentialError(expiredMessage(this.location, snapshot.expiresOn), "expired", this.location);
    }
    return snapshot;
  }

  /** A value read after `readAt`: the cached one if a concurrent caller already re-read the vault, else a fresh read. */
  async readAfter(readAt: number): Promise<SecretSnapshot> {
    const cached = this.cached;
    if (cached && cached.readAt > readAt) return await this.read();
    return await this.read({ refresh: true });
  }

  /** The secret and its attributes, expired or not (status and check report on it). */
  async inspect(options: { refresh?: boolean } = {}): Promise<SecretSnapshot> {
    const cached = this.cached;
    if (!options.refresh && cached && this.now() - cached.readAt < this.cacheMs) return cached;
    // Parallel streams asking at once share one request.
    this.inflight ??= this.fetch().finally(() => (this.inflight = undefined));
    return await this.inflight;
  }

  private async fetch(): Promise<SecretSnapshot> {
    const { secretName, vaultUrl } = this.location;
    let secret: KeyVaultSecret;
    try {
      secret = await this.client.getSecret(secretName);
    } catch (error) {
      throw explainVaultError(error, this.location);
    }
    const value = secret.value;
    if (!value) throw new KeyVaultCredentialError(`${describeSecret(this.location)} has no value. ${storeCommand(this.location)}`, "malformed", this.location);
    rememberSecret(value);
    if (this.location.kind === "certificate") checkCertificateFormat(value, secret.properties.contentType, this.location);
    const snapshot: SecretSnapshot = {
      value,
      version: secret.properties.version ?? "",
      expiresOn: secret.properties.expiresOn ?? (this.location.kind === "certificate" ? certificateEnd(value) : undefined),
      contentType: secret.properties.contentType,
      readAt: this.now(),
    };
    const previous = this.cached;
    this.cached = snapshot;
    if (previous && previous.version !== snapshot.version) {
      this.options.logger.info(`Read a new version of Key Vault secret ${secretName} in ${vaultUrl}: ${snapshot.version} (was ${previous.version})`);
    } else if (!previous) {
      this.options.logger.debug(`Read Key Vault secret ${secretName} in ${vaultUrl}, version ${snapshot.version}${snapshot.expiresOn ? `, expires ${snapshot.expiresOn.toISOString()}` : ""}`);
    }
    return snapshot;
  }
}

export interface CredentialOptions {
  logger: Logger;
  /** What reads Key Vault; default the managed identity in Azure, DefaultAzureCredential locally. */
  vaultCredential?: TokenCredential;
  /** Environment the platform credential is chosen from; default process.env. */
  env?: Record<string, string | undefined>;
}

/** The Key Vault reader of the secret or certificate this tenant's mode signs in with; undefined for modes without one. */
export function createSecretReader(settings: Settings, options: CredentialOptions): KeyVaultSecretReader | undefined {
  const mode = settings.credentialMode;
  if (mode !== "clientSecret" && mode !== "certificate") return undefined;
  // loadSettings guarantees these for both modes; the checks keep the types honest.
  if (!settings.keyVaultUrl || !settings.keyVaultSecretName || !settings.clientId) throw new Error(`Credential mode ${mode} needs KEY_VAULT_URL, KEY_VAULT_SECRET_NAME and ENTRA_CLIENT_ID`);
  const client = new SecretClient(settings.keyVaultUrl, options.vaultCredential ?? platformCredential(settings, options.env), {
    disableChallengeResourceVerification: !isMicrosoftVaultHost(settings.keyVaultUrl),
  });
  const location = { vaultUrl: settings.keyVaultUrl, secretName: settings.keyVaultSecretName, kind: mode, tenantId: settings.tenantId, clientId: settings.clientId };
  return new KeyVaultSecretReader(location, client, { logger: options.logger });
}

/** Where a secret stands against its expiry date and the warning window. */
export type SecretExpiry =
  | { state: "valid" | "expiring" | "expired"; expiresOn: Date; daysLeft: number }
  | { state: "noExpiry"; expiresOn: undefined; daysLeft: undefined };

export function judgeExpiry(expiresOn: Date | undefined, warningDays: number, now: number = Date.now()): SecretExpiry {
  if (!expiresOn) return { state: "noExpiry", expiresOn: undefined, daysLeft: undefined };
  const daysLeft = Math.floor((expiresOn.getTime() - now) / dayMs);
  if (expiresOn.getTime() <= now) return { state: "expired", expiresOn, daysLeft };
  return { state: daysLeft < warningDays ? "expiring" : "valid", expiresOn, daysLeft };
}

/** The vault's name, as `az keyvault … --vault-name` takes it. */
export function vaultNameOf(vaultUrl: string): string {
  const host = new URL(vaultUrl).hostname;
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : (host.split(".")[0] ?? host);
}

export function describeSecret(location: SecretLocation): string {
  return `Key Vault secret "${location.secretName}" in ${location.vaultUrl}`;
}

/** How to put a fresh credential in the vault: the commands an admin runs. */
export function renewCommand(location: SecretLocation): string {
  const vault = vaultNameOf(location.vaultUrl);
  if (location.kind === "certificate") {
    return (
      `Renew it: create a new certificate (PEM with its private key), add it to the app with ` +
      `az ad app credential reset --id ${location.clientId} --cert @new-certificate.pem --append, then store it with ` +
      `az keyvault certificate import --vault-name ${vault} --name ${location.secretName} --file new-certificate-and-key.pem`
    );
  }
  return (
    `Renew it: az ad app credential reset --id ${location.clientId} --append --years 1 --query password -o tsv, then ` +
    `az keyvault secret set --vault-name ${vault} --name ${location.secretName} --value <the new secret> --expires <its end date, e.g. ${isoDay(Date.now() + 365 * dayMs)}T00:00:00Z>`
  );
}

function storeCommand(location: SecretLocation): string {
  const vault = vaultNameOf(location.vaultUrl);
  return location.kind === "certificate"
    ? `Import the app's certificate with its private key: az keyvault certificate import --vault-name ${vault} --name ${location.secretName} --file certificate-and-key.pem`
    : `Store the app's client secret: az keyvault secret set --vault-name ${vault} --name ${location.secretName} --value <client secret> --expires <its end date>`;
}

export function expiringMessage(location: SecretLocation, expiry: { expiresOn: Date; daysLeft: number }): string {
  return `${describeSecret(location)} (the ${kindText(location)} of app ${location.clientId}) expires on ${isoDay(expiry.expiresOn.getTime())}, in ${expiry.daysLeft} days. ${renewCommand(location)}`;
}

export function expiredMessage(location: SecretLocation, expiresOn: Date): string {
  return `${describeSecret(location)} (the ${kindText(location)} of app ${location.clientId}) expired on ${expiresOn.toISOString()}; sign-in to Microsoft Graph stops working. ${renewCommand(location)}`;
}

export function rejectedMessage(location: SecretLocation, reason: string): string {
  return (
    `Microsoft Entra rejected the ${kindText(location)} in ${describeSecret(location)} for app ${location.clientId} in tenant ${location.tenantId} (${reason}), ` +
    `also after reading the secret again. The vault holds a value the app registration does not accept: ${storeCommand(location)}`
  );
}

export function kindText(location: Pick<SecretLocation, "kind">): string {
  return location.kind === "certificate" ? "certificate" : "client secret";
}

/** Turns a Key Vault or credential failure into one line that names the secret, the vault and what to do. */
export function explainVaultError(error: unknown, location: SecretLocation): KeyVaultCredentialError {
  if (error instanceof KeyVaultCredentialError) return error;
  const what = describeSecret(location);
  const vault = vaultNameOf(location.vaultUrl);
  const status = (error as { statusCode?: unknown }).statusCode;
  const code = (error as { code?: unknown }).code;
  // The SDK deserialises Key Vault's innererror as innerError; both spellings are read.
  const body = (error as { details?: { error?: { innerError?: { code?: unknown }; innererror?: { code?: unknown } } } }).details?.error;
  const inner = String(body?.innerError?.code ?? body?.innererror?.code ?? "");
  const name = error instanceof Error ? error.name : "";
  const cause = { cause: error };
  if (status === 404) return new KeyVaultCredentialError(`${what} was not found (404 ${String(code ?? "SecretNotFound")}). ${storeCommand(location)}`, "missing", location, cause);
  if (status === 403 && inner === "SecretDisabled") {
    return new KeyVaultCredentialError(`${what} is disabled. Enable it: az keyvault secret set-attributes --vault-name ${vault} --name ${location.secretName} --enabled true`, "disabled", location, cause);
  }
  if (status === 403 && inner === "SecretExpired") {
    return new KeyVaultCredentialError(`${what} is past its expiry date and Key Vault no longer hands it out (403 SecretExpired). ${renewCommand(location)}`, "expired", location, cause);
  }
  if (status === 403 || status === 401) {
    return new KeyVaultCredentialError(
      `The Function App's identity may not read ${what} (${String(status)} ${String(code ?? "")}). Grant it "Key Vault Secrets User" on the vault: ` +
        `az role assignment create --role "Key Vault Secrets User" --assignee <principal id of the managed identity> --scope $(az keyvault show --name ${vault} --query id -o tsv)` +
        " (run locally, grant it to your own account, or use the vault's Access control page).",
      "forbidden",
      location,
      cause,
    );
  }
  const network = explainNetworkFailure(error, { service: `Key Vault (reading ${what})`, url: location.vaultUrl, setting: "KEY_VAULT_URL" });
  if (network) return new KeyVaultCredentialError(network.message, "unreachable", location, cause);
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  if (["CredentialUnavailableError", "AuthenticationError", "AggregateAuthenticationError", "AuthenticationRequiredError"].includes(name)) {
    return new KeyVaultCredentialError(
      `Could not get a token for Key Vault to read ${what}: ${message}. In Azure the Function App's managed identity reads the vault (set MANAGED_IDENTITY_CLIENT_ID for a user-assigned one); locally sign in with az login.`,
      "unreachable",
      location,
      cause,
    );
  }
  return new KeyVaultCredentialError(`Could not read ${what}: ${message}. Check KEY_VAULT_URL and that the vault is reachable from the app.`, "unreachable", location, cause);
}

/** Masks the value in every later log line and error; for a certificate, each line of the private key too. */
export function rememberSecret(value: string): void {
  const pieces = [value];
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]*?)-----END [A-Z ]*PRIVATE KEY-----/.exec(value);
  if (key) {
    pieces.push(key[0]);
    for (const line of (key[1] ?? "").split(/\r?\n/)) if (line.trim().length >= 16) pieces.push(line.trim());
  }
  for (const piece of pieces) if (!knownSecrets.includes(piece)) knownSecrets.push(piece);
}

function checkCertificateFormat(value: string, contentType: string | undefined, location: SecretLocation): void {
  const vault = vaultNameOf(location.vaultUrl);
  if (contentType === "application/x-pkcs12") {
    throw new KeyVaultCredentialError(
      `${describeSecret(location)} holds a PKCS#12 (PFX) certificate; the app reads PEM. Re-import it with content type application/x-pem-file: ` +
        `az keyvault certificate import --vault-name ${vault} --name ${location.secretName} --file certificate-and-key.pem --policy "$(az keyvault certificate get-default-policy | sed 's/x-pkcs12/x-pem-file/')"`,
      "malformed",
      location,
    );
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(value) || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
    throw new KeyVaultCredentialError(`${describeSecret(location)} is not a PEM certificate with its private key. ${storeCommand(location)}`, "malformed", location);
  }
}

/** A PEM certificate's notAfter, for a vault secret that carries no expiry of its own. */
function certificateEnd(pem: string): Date | undefined {
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!block) return undefined;
  try {
    return new Date(new X509Certificate(block).validTo);
  } catch {
    return undefined;
  }
}

function isoDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}
