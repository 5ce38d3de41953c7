// Checks a deployment end to end (settings, Key Vault, Graph token and permissions, Graph reads, Table Storage) and says how to fix each failure.
import { groupKindOf } from "../directory/directoryObjects";
import type { TokenCredential } from "@azure/identity";
import { loadSettings, settingsForTenant, SettingsError, type Settings } from "../config/settings";
import { createTables } from "../compositionRoot";
import { createDirectoryCredential, type DirectoryCredential } from "../identity/credentialFactory";
import { describeSecret, expiredMessage, expiringMessage, explainVaultError, judgeExpiry, vaultNameOf } from "../identity/keyVaultSecret";
import { tenantMismatchError, tokenTenantOf, type TokenSource } from "../identity/tenantGuard";
import { defaultSignIn, runsInAzure, workstationCredential, type SignInChoice } from "../identity/workstationSignIn";
import { explainNetworkFailure } from "../errors/networkFailure";
import { syncErrorIn } from "../errors/syncError";
import { explainStorageFailure } from "../store/storageFailure";
import { knownSecrets, redact, silentLogger, type Logger } from "../logging/logger";
import { comparePermissions, decodeTokenClaims, graphAppRoleIds, microsoftGraphAppId, requiredGraphPermissions, rolesOf } from "./graphPermissions";

export type CheckOutcome = "pass" | "warn" | "fail";

export interface CheckResult {
  /** Which check: settings, storage, keyVault, graphToken, graphPermissions, graphUsers, graphGroups. */
  check: string;
  outcome: CheckOutcome;
  message: string;
  /** What to do about a fail or warn. */
  fix?: string;
  /** Set for the per-tenant checks. */
  tenantId?: string;
}

export interface CheckReport {
  /** False when any check failed. */
  ok: boolean;
  results: CheckResult[];
}

export interface ConnectionCheckOptions {
  logger?: Logger;
  /** Graph application permissions the enabled features need; default users and group memberships (devices off). */
  requiredPermissions?: readonly string[];
  /** Replaces the Graph credential the settings describe, for every tenant (tests). */
  credential?: TokenCredential;
  /** What reads Key Vault; default the platform identity. */
  vaultCredential?: TokenCredential;
  /** Who reads Graph: the deployed mode (app) or the admin (cli, device); default app in Azure, cli on a workstation when the mode needs the managed identity. */
  signIn?: SignInChoice;
  /** Where the device-code prompt goes. */
  prompt?: (message: string) => void;
}

/** Runs every check against the settings in env; never throws, and no secret or token appears in the report. */
export async function runConnectionCheck(env: Record<string, string | undefined>, options: ConnectionCheckOptions = {}): Promise<CheckReport> {
  const results: CheckResult[] = [];
  try {
    await checkAll(env, options, results);
  } catch (error) {
    results.push({ check: "internal", outcome: "fail", message: `The check itself failed: ${errorText(error)}` });
  }
  const safe = results.map((result) => ({ ...result, message: redact(result.message, knownSecrets), ...(result.fix ? { fix: redact(result.fix, knownSecrets) } : {}) }));
  return { ok: safe.every((result) => result.outcome !== "fail"), results: safe };
}

/** One line per check: outcome, what was checked, and the fix. */
export function formatCheckReport(report: CheckReport): string {
  const tenants = new Set(report.results.map((result) => result.tenantId).filter(Boolean));
  const lines = report.results.map((result) => {
    const scope = tenants.size > 1 && result.tenantId ? ` [${result.tenantId}]` : "";
    return `${result.outcome.toUpperCase().padEnd(4)} ${result.check}${scope}: ${result.message}${result.fix ? ` Fix: ${result.fix}` : ""}`;
  });
  const failed = report.results.filter((result) => result.outcome === "fail").length;
  const warned = report.results.filter((result) => result.outcome === "warn").length;
  lines.push(failed > 0 ? `${failed} check(s) failed, ${warned} warning(s).` : `All checks passed${warned > 0 ? `, ${warned} warning(s)` : ""}.`);
  return redact(lines.join("\n"), knownSecrets);
}

async function checkAll(env: Record<string, string | undefined>, options: ConnectionCheckOptions, results: CheckResult[]): Promise<void> {
  let settings: Settings;
  try {
    settings = loadSettings(env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    results.push({ check: "settings", outcome: "fail", message: error.message, fix: "Set it in the Function App's settings (or local.settings.json locally); the README's Configuration table shows good values." });
    return;
  }
  results.push({
    check: "settings",
    outcome: "pass",
    message: `Settings are valid: ${settings.tenants.map((tenant) => `tenant ${tenant.tenantId} with ${tenant.credentialMode}`).join(", ")}; Graph ${settings.graphEndpoint}, authority ${settings.authorityHost}.`,
  });
  results.push(await checkStorage(settings));
  for (const tenant of settings.tenants) {
    const tenantSettings = settingsForTenant(settings, tenant.tenantId) ?? settings;
    for (const result of await checkTenant(tenantSettings, options)) results.push({ ...result, tenantId: tenant.tenantId });
  }
}

async function checkStorage(settings: Settings): Promise<CheckResult> {
  const table = createTables(settings).syncState;
  try {
    await table.createTable();
    const page = await table.listEntities({ queryOptions: { select: ["PartitionKey"] } }).byPage({ maxPageSize: 1 }).next();
    const rows = page.done ? 0 : page.value.length;
    return { check: "storage", outcome: "pass", message: `Table Storage: created or found table ${table.tableName} and queried it (${rows} row${rows === 1 ? "" : "s"} read) at ${table.url}.` };
  } catch (error) {
    const unreachable = explainStorageFailure(error, settings.storage);
    if (unreachable) return { check: "storage", outcome: "fail", message: unreachable.message };
    const status = (error as { statusCode?: unknown }).statusCode;
    const fix =
      status === 403
        ? `Grant the app's managed identity "Storage Table Data Contributor" on the storage account: az role assignment create --role "Storage Table Data Contributor" --assignee <principal id of the managed identity> --scope <storage account resource id>`
        : "Check DirectoryStorage__tableServiceUri (or DirectoryStorage locally) and that the account is reachable from the app.";
    return { check: "storage", outcome: "fail", message: `Table Storage: could not create or query table ${table.tableName}: ${errorText(error)}`, fix };
  }
}

async function checkTenant(settings: Settings, options: ConnectionCheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const logger = options.logger ?? silentLogger;
  const directory: DirectoryCredential = createDirectoryCredential(settings, { logger, vaultCredential: options.vaultCredential });
  if (directory.secret) {
    const reader = directory.secret;
    try {
      const snapshot = await reader.inspect();
      const expiry = judgeExpiry(snapshot.expiresOn, settings.secretExpiryWarningDays);
      const read = `Key Vault: read ${describeSecret(reader.location)} (version ${snapshot.version})`;
      if (expiry.state === "expired") results.push({ check: "keyVault", outcome: "fail", message: expiredMessage(reader.location, expiry.expiresOn) });
      else if (expiry.state === "expiring") results.push({ check: "keyVault", outcome: "warn", message: expiringMessage(reader.location, expiry) });
      else if (expiry.state === "noExpiry") {
        results.push({ check: "keyVault", outcome: "warn", message: `${read}; it has no expiry date, so runs cannot warn before the app's credential lapses.`, fix: `Set its end date: az keyvault secret set-attributes --vault-name ${vaultNameOf(reader.location.vaultUrl)} --name ${reader.location.secretName} --expires <end date of the app's credential>` });
      } else results.push({ check: "keyVault", outcome: "pass", message: `${read}; valid until ${expiry.expiresOn.toISOString().slice(0, 10)} (${expiry.daysLeft} days).` });
    } catch (error) {
      results.push({ check: "keyVault", outcome: "fail", message: explainVaultError(error, reader.location).message });
    }
  }
  const signIn = options.credential ? "app" : (options.signIn ?? defaultSignIn(settings));
  const workstation = workstationCredential(signIn, settings, { prompt: options.prompt ?? (() => undefined) });
  const credential = options.credential ?? workstation?.credential ?? directory;
  const source: TokenSource = workstation?.source ?? settings.credentialMode;
  const signedInAs = workstation ? (signIn === "cli" ? "the Azure CLI's account" : "your device-code sign-in") : settings.credentialMode;
  const scope = `${settings.graphEndpoint}/.default`;
  let token: string;
  try {
    const accessToken = await credential.getToken(scope);
    if (!accessToken) throw new Error(`no token for ${scope}`);
    token = accessToken.token;
  } catch (error) {
    const explained = syncErrorIn(error);
    results.push({ check: "graphToken", outcome: "fail", message: `Could not get a Microsoft Graph token (${signedInAs}): ${explained ? explained.message : errorText(error)}`, fix: explained ? undefined : tokenFix(settings, signIn) });
    return results;
  }
  const tokenTenant = tokenTenantOf(token);
  if (tokenTenant !== undefined && tokenTenant !== settings.tenantId) {
    results.push({ check: "tenant", outcome: "fail", message: tenantMismatchError(settings.tenantId, tokenTenant, source).message });
    return results;
  }
  results.push({ check: "tenant", outcome: "pass", message: `The Graph token is for tenant ${settings.tenantId}, the tenant this deployment syncs.` });
  const claims = decodeTokenClaims(token);
  const principal = String(claims["oid"] ?? "<object id of the service principal>");
  const appId = String(claims["appid"] ?? claims["azp"] ?? settings.clientId ?? settings.managedIdentityClientId ?? "");
  const required = options.requiredPermissions ?? requiredGraphPermissions({ devices: settings.syncDevices });
  if (typeof claims["scp"] === "string") {
    // A signed-in admin: Graph answers with the delegated scopes, limited by what the account itself may read.
    const user = String(claims["upn"] ?? claims["unique_name"] ?? claims["name"] ?? principal);
    results.push({ check: "graphToken", outcome: "pass", message: `Got a Microsoft Graph token as ${user} (${signedInAs}, delegated permissions: ${claims["scp"]}); Graph reads use that account's own rights.` });
    results.push({
      check: "graphPermissions",
      outcome: "warn",
      message: `Signed in as a user, so the application permissions of ${settings.credentialMode} mode (${required.join(", ")}) were not checked.`,
      fix: "Run check with --sign-in app in the Function App (GET /api/check) to check the deployed credential.",
    });
  } else {
    results.push({ check: "graphToken", outcome: "pass", message: `Got a Microsoft Graph token (${signedInAs}) for app ${appId}, service principal ${principal}.` });
    results.push(...permissionResults(settings, rolesOf(claims), required, principal));
  }
  const reads = [["graphUsers", "users"], ["graphGroups", "groups"], ...(settings.syncDevices ? [["graphDevices", "devices"] as const] : [])] as const;
  for (const [check, collection] of reads) results.push(await readOne(settings, token, check, collection));
  for (const [setting, ids] of [["SCOPE_GROUPS", settings.scope.includeGroups], ["SCOPE_EXCLUDE_GROUPS", settings.scope.excludeGroups]] as const) {
    for (const id of ids) results.push(await checkScopeGroup(settings, token, setting, id));
  }
  return results;
}

/** A scope group that does not exist, or is of a kind not synced, would silently include or exclude nobody. */
async function checkScopeGroup(settings: Settings, token: string, setting: string, id: string): Promise<CheckResult> {
  const url = `${settings.graphEndpoint}/v1.0/groups/${id}?$select=id,displayName,groupTypes,mailEnabled,securityEnabled`;
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown> & { error?: { code?: string; message?: string } };
    if (response.status === 404) return { check: "scope", outcome: "fail", message: `${setting} names group ${id}, which does not exist in tenant ${settings.tenantId}.`, fix: `Correct the id in ${setting}: az ad group show --group "<display name>" --query id -o tsv` };
    if (!response.ok) return { check: "scope", outcome: "fail", message: `GET /v1.0/groups/${id} answered ${response.status} ${body.error?.code ?? ""}: ${body.error?.message ?? ""}`.trim() };
    const kind = groupKindOf({ groupTypes: Array.isArray(body.groupTypes) ? (body.groupTypes as string[]) : null, mailEnabled: body.mailEnabled === true, securityEnabled: body.securityEnabled === true });
    const name = typeof body.displayName === "string" ? body.displayName : id;
    if (!settings.scope.groupKinds.includes(kind)) {
      return { check: "scope", outcome: "fail", message: `${setting} names group "${name}" (${id}), a ${kind} group, which SYNC_GROUP_KINDS leaves out: it includes or excludes nobody.`, fix: `Add ${kind} to SYNC_GROUP_KINDS, or name another group.` };
    }
    return { check: "scope", outcome: "pass", message: `${setting}: group "${name}" (${id}, ${kind}) exists.` };
  } catch (error) {
    return { check: "scope", outcome: "fail", message: `GET ${url} failed: ${errorText(error)}` };
  }
}

function permissionResults(settings: Settings, granted: string[], required: readonly string[], principal: string): CheckResult[] {
  const { missing, coveredByBroader, unneeded } = comparePermissions(granted, required);
  const graph = settings.graphEndpoint;
  const grant = (permission: string) =>
    `graphSp=$(az ad sp show --id ${microsoftGraphAppId} --query id -o tsv); az rest --method POST --uri ${graph}/v1.0/servicePrincipals/$graphSp/appRoleAssignedTo ` +
    `--body "{\\"principalId\\":\\"${principal}\\",\\"resourceId\\":\\"$graphSp\\",\\"appRoleId\\":\\"${graphAppRoleIds[permission] ?? `<app role id of ${permission}>`}\\"}" (an admin with Privileged Role Administrator; see docs/permissions.md)`;
  const results: CheckResult[] = [];
  for (const permission of missing) {
    results.push({ check: "graphPermissions", outcome: "fail", message: `The token lacks the application permission ${permission}, which the sync needs (granted: ${granted.length > 0 ? granted.join(", ") : "none"}).`, fix: `Grant ${permission}: ${grant(permission)}` });
  }
  for (const { needed, by } of coveredByBroader) {
    results.push({ check: "graphPermissions", outcome: "warn", message: `${needed} is not granted; the broader ${by.join(", ")} covers it.`, fix: `Grant ${needed} instead: ${grant(needed)}; then remove ${by.join(", ")}.` });
  }
  const broader = unneeded.filter((role) => !coveredByBroader.some((entry) => entry.by.includes(role)));
  if (broader.length > 0) {
    results.push({
      check: "graphPermissions",
      outcome: "warn",
      message: `Granted but not needed: ${broader.join(", ")}; the sync needs only ${required.join(", ")}.`,
      fix: `Remove them: list the assignments with az rest --method GET --uri ${graph}/v1.0/servicePrincipals/${principal}/appRoleAssignments, then az rest --method DELETE --uri ${graph}/v1.0/servicePrincipals/${principal}/appRoleAssignments/<assignment id>`,
    });
  }
  if (missing.length === 0 && coveredByBroader.length === 0 && broader.length === 0) {
    results.push({ check: "graphPermissions", outcome: "pass", message: `The token grants exactly what the sync needs: ${required.join(", ")}.` });
  }
  return results;
}

async function readOne(settings: Settings, token: string, check: string, collection: "users" | "groups" | "devices"): Promise<CheckResult> {
  const url = `${settings.graphEndpoint}/v1.0/${collection}?$top=1&$select=id`;
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
    const body = (await response.json().catch(() => ({}))) as { value?: unknown[]; error?: { code?: string; message?: string } };
    if (response.ok) return { check, outcome: "pass", message: `Read ${collection} from Microsoft Graph: GET /v1.0/${collection}?$top=1 answered ${Array.isArray(body.value) ? body.value.length : 0} object(s).` };
    const needed = collection === "users" ? "User.Read.All" : collection === "groups" ? "GroupMember.Read.All" : "Device.Read.All";
    return {
      check,
      outcome: "fail",
      message: `GET /v1.0/${collection}?$top=1&$select=id answered ${response.status} ${body.error?.code ?? ""}: ${body.error?.message ?? ""}`.trim(),
      fix: response.status === 403 ? `Grant the application permission ${needed} (see the graphPermissions line and docs/permissions.md).` : `Check GRAPH_ENDPOINT (${settings.graphEndpoint}) and ENTRA_CLOUD.`,
    };
  } catch (error) {
    const network = explainNetworkFailure(error, { service: "Microsoft Graph", url, setting: "GRAPH_ENDPOINT (or ENTRA_CLOUD)" });
    return network ? { check, outcome: "fail", message: network.message } : { check, outcome: "fail", message: `GET ${url} failed: ${errorText(error)}`, fix: `Check GRAPH_ENDPOINT (${settings.graphEndpoint}) and that the app can reach it.` };
  }
}

/** What to do when no Graph token came back and the error was not already explained, by sign-in and by the AADSTS code Entra answered with. */
function tokenFix(settings: Settings, signIn: SignInChoice): string | undefined {
  if (signIn === "cli") return `Sign in to the directory's tenant: az login --tenant ${settings.tenantId} (the Azure CLI must be installed and on PATH).`;
  if (signIn === "device") return `Finish the device-code sign-in in a browser with an account of tenant ${settings.tenantId}.`;
  if ((settings.credentialMode === "managedIdentity" || settings.credentialMode === "federatedCredential") && !runsInAzure()) {
    return `The managed identity exists only in Azure; on a workstation check as yourself: entra-sync check --sign-in cli (after az login --tenant ${settings.tenantId}).`;
  }
  if (settings.credentialMode === "managedIdentity" || settings.credentialMode === "federatedCredential") {
    return "Check that the Function App has the managed identity and that MANAGED_IDENTITY_CLIENT_ID is its client id (infra sets both).";
  }
  return undefined;
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // MSAL messages span lines (trace and correlation ids); the first lines carry the meaning.
  return text.split(/\r?\n/).filter((line) => line.trim() !== "").slice(0, 2).join(" ").slice(0, 600);
}
