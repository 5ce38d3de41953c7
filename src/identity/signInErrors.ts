// Turns what @azure/identity (MSAL) throws when Entra refuses a sign-in into one line naming the tenant, the app and the fix.
import type { CloudName } from "../config/settings";
import { explainNetworkFailure } from "../errors/networkFailure";
import { SyncError, syncErrorIn, type SyncErrorCode } from "../errors/syncError";
import { tokenExchangeAudiences } from "./platformCredential";

export interface SignInContext {
  tenantId: string;
  clientId: string | undefined;
  authorityHost: string;
  cloud: CloudName;
  /** Who signed in, for the message: "app b0…", "the managed identity", "the Azure CLI". */
  who: string;
}

/** The AADSTS code in an MSAL or @azure/identity message ("AADSTS90002: …" or "Error(s): 90002 - …"). */
export function aadstsCodeOf(text: string): string | undefined {
  return /AADSTS(\d+)/.exec(text)?.[1] ?? /Error\(s\):\s*(\d+)/.exec(text)?.[1];
}

/** Bounded, so a sign-in diagnosis never holds a CLI run longer than the SDK's own retries. */
const discoveryProbeTimeoutMs = 10_000;

/** Explains a failed sign-in; undefined when the error is not one of the known refusals (the caller keeps the original). */
export async function explainSignInError(error: unknown, context: SignInContext): Promise<SyncError | undefined> {
  const already = syncErrorIn(error);
  if (already) return already;
  const text = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}` : String(error);
  const deviceCode = explainDeviceCode(text, context, error);
  if (deviceCode) return deviceCode;
  const code = aadstsCodeOf(text);
  if (code) return explainAadsts(code, context, error);
  const authority = { service: "The Microsoft Entra sign-in endpoint", url: context.authorityHost, setting: "AUTHORITY_HOST (or ENTRA_CLOUD)" };
  if (/endpoints_resolution_error/.test(text)) return await probeAuthority(context, error, authority);
  return explainNetworkFailure(error, authority);
}

/** MSAL says only endpoints_resolution_error when the authority's discovery document fails; asking for it ourselves tells a wrong tenant from an unreachable host. */
async function probeAuthority(context: SignInContext, error: unknown, authority: { service: string; url: string; setting: string }): Promise<SyncError | undefined> {
  const url = `${context.authorityHost}/${encodeURIComponent(context.tenantId)}/v2.0/.well-known/openid-configuration`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(discoveryProbeTimeoutMs) });
    const body = (await response.json().catch(() => ({}))) as { error_description?: unknown; error_codes?: unknown };
    const code = Array.isArray(body.error_codes) && body.error_codes.length > 0 ? String(body.error_codes[0]) : aadstsCodeOf(String(body.error_description ?? ""));
    if (response.status >= 500) return new SyncError("signIn.unavailable", `The sign-in endpoint ${context.authorityHost} answered ${response.status}: Microsoft Entra is unavailable for now.`, { fix: "The next run tries again.", cause: error });
    if (!response.ok && code) return explainAadsts(code, context, error);
    if (!response.ok) return new SyncError("signIn.tenantNotFound", `The sign-in endpoint ${url} answered ${response.status}.`, { fix: `Check ENTRA_TENANT_ID (${context.tenantId}), ENTRA_CLOUD (${context.cloud}) and AUTHORITY_HOST.`, cause: error });
    return undefined;
  } catch (probeError) {
    return explainNetworkFailure(probeError, authority) ?? explainNetworkFailure(error, authority);
  }
}

/** MSAL reports a device-code sign-in the user declined or let expire by the OAuth error alone (v2-oauth2-device-code, "Expected errors"). */
function explainDeviceCode(text: string, context: SignInContext, cause: unknown): SyncError | undefined {
  if (/authorization_declined/.test(text)) {
    return new SyncError("signIn.notCompleted", `The device-code sign-in to tenant ${context.tenantId} was declined at the sign-in page.`, { fix: "Run the command again and approve the sign-in, or sign in with --sign-in cli after az login.", cause });
  }
  if (/expired_token|device_code_expired/.test(text)) {
    return new SyncError("signIn.notCompleted", `The device code expired before the sign-in to tenant ${context.tenantId} was completed (a code lasts 15 minutes).`, { fix: "Run the command again and enter the new code within 15 minutes.", cause });
  }
  return undefined;
}

function explainAadsts(code: string, context: SignInContext, cause: unknown): SyncError {
  const { tenantId, clientId, authorityHost, cloud, who } = context;
  const app = clientId ?? "<app client id>";
  const known: Record<string, [SyncErrorCode, string, string]> = {
    "90002": [
      "signIn.tenantNotFound",
      `Microsoft Entra at ${authorityHost} does not know tenant ${tenantId} (AADSTS90002).`,
      `Check ENTRA_TENANT_ID (the Directory (tenant) ID, az account show --query tenantId -o tsv) and ENTRA_CLOUD (now ${cloud}): a tenant of another cloud is not found in this one.`,
    ],
    "900023": [
      "signIn.tenantNotFound",
      `Microsoft Entra at ${authorityHost} refused the tenant identifier ${tenantId} (AADSTS900023: neither a tenant id nor a domain).`,
      "Set ENTRA_TENANT_ID to the Directory (tenant) ID, a GUID: az account show --query tenantId -o tsv.",
    ],
    "700016": [
      "signIn.unknownClient",
      `App ${app} was not found in tenant ${tenantId} (AADSTS700016).`,
      `Check ENTRA_CLIENT_ID is the app registration's Application (client) ID, not its object id; for an app of another tenant, an admin of ${tenantId} creates its service principal: az ad sp create --id ${app}.`,
    ],
    "7000215": [
      "signIn.invalidSecret",
      `Microsoft Entra refused the client secret of app ${app} in tenant ${tenantId} (AADSTS7000215: invalid client secret).`,
      `Store the secret's value, not its id: az ad app credential reset --id ${app} --append, then put the new value in Key Vault (docs/permissions.md).`,
    ],
    "7000222": [
      "signIn.secretExpired",
      `The client secret of app ${app} in tenant ${tenantId} has expired (AADSTS7000222).`,
      `Create a new one: az ad app credential reset --id ${app} --append, and store it in Key Vault with its end date (docs/permissions.md).`,
    ],
    "700027": [
      "signIn.certificateRejected",
      `Microsoft Entra refused the certificate of app ${app} in tenant ${tenantId} (AADSTS700027: not registered on the app, or its signature does not verify).`,
      `Upload the certificate in Key Vault to the app: az ad app credential reset --id ${app} --cert @certificate.pem --append.`,
    ],
    "70021": [
      "signIn.federationRejected",
      `App ${app} has no federated credential that trusts ${who} (AADSTS70021).`,
      `Add one: az ad app federated-credential create --id ${app} --parameters '{"name":"entra-sync","issuer":"https://login.microsoftonline.com/<tenant of the managed identity>/v2.0","subject":"<principal id of the managed identity>","audiences":["${tokenExchangeAudiences[cloud]}"]}'.`,
    ],
  };
  const entry = known[code];
  if (!entry) return new SyncError("signIn.unavailable", `Microsoft Entra refused the sign-in of ${who} to tenant ${tenantId} (AADSTS${code}).`, { fix: `See https://login.microsoftonline.com/error?code=${code}.`, cause });
  return new SyncError(entry[0], entry[1], { fix: entry[2], cause });
}
