// Reads and validates every app setting once, so a bad value fails at start with one line that names it.
import { z } from "zod";
import { SyncError } from "../errors/syncError";
import { parseNcrontab } from "../schedule/ncrontab";
import type { GroupKind } from "../directory/directoryObjects";
import { groupKinds, type ScopeSettings } from "../policy/scopePolicy";

function isNcrontab(expression: string): boolean {
  try {
    parseNcrontab(expression);
    return true;
  } catch {
    return false;
  }
}

/** Endpoints of each Microsoft cloud; sovereign clouds differ in both hosts. */
export const cloudEndpoints = {
  public: { graphEndpoint: "https://graph.microsoft.com", authorityHost: "https://login.microsoftonline.com" },
  usgov: { graphEndpoint: "https://graph.microsoft.us", authorityHost: "https://login.microsoftonline.us" },
  china: { graphEndpoint: "https://microsoftgraph.chinacloudapi.cn", authorityHost: "https://login.chinacloudapi.cn" },
} as const;

export type CloudName = keyof typeof cloudEndpoints;
export type CredentialMode = "managedIdentity" | "federatedCredential" | "clientSecret" | "certificate";

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const guid = (example: string) =>
  z.string().trim().regex(guidPattern, `must be a GUID such as ${example}`).transform((value) => value.toLowerCase());
/** The all-zero GUID is the example file's placeholder, never a real tenant. */
const tenantGuid = (example: string) =>
  guid(example).refine((value) => value !== "00000000-0000-0000-0000-000000000000", `is the all-zero placeholder; set the directory's tenant id, a GUID such as ${example} (az account show --query tenantId -o tsv)`);
const httpsUrl = (example: string) =>
  z
    .string()
    .trim()
    .url(`must be an https URL such as ${example}`)
    .refine((value) => value.startsWith("https://"), `must be an https URL such as ${example}`)
    .transform((value) => value.replace(/\/+$/, ""));
const positiveInt = (example: number, max: number) =>
  z.coerce.number({ message: `must be a whole number such as ${example}` }).int(`must be a whole number such as ${example}`).min(1, `must be at least 1, such as ${example}`).max(max, `must be at most ${max}`);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === "" ? undefined : value));

/** Every setting the product reads, by its app-setting name. */
/** One extra tenant in SYNC_TENANTS; anything it leaves out comes from the top-level settings. */
const tenantEntrySchema = z
  .object({
    tenantId: tenantGuid("72f988bf-86f1-41af-91ab-2d7cd011db47"),
    credentialMode: z.enum(["managedIdentity", "federatedCredential", "clientSecret", "certificate"]).optional(),
    clientId: guid("00000000-0000-0000-0000-000000000000").optional(),
    keyVaultSecretName: z.string().regex(/^[0-9a-zA-Z-]{1,127}$/).optional(),
  })
  .strict();

/** A setting holding JSON: text that does not parse fails with the message that shows a good value. */
const jsonText = (message: string) =>
  z.string().transform((text, context) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: "custom", message });
      return z.NEVER;
    }
  });

const tenantListSchema = jsonText('must be a JSON array such as [{"tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","credentialMode":"federatedCredential","clientId":"…"}]')
  .pipe(z.array(tenantEntrySchema, { message: 'must be a JSON array such as [{"tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47"}]' }).min(1));

/** Group id → the consuming application's role names; a user holds every role of every group it belongs to, directly or through nesting. */
const roleNameRule = "must map each group id to role names of 1-64 printable characters, such as {\"2a9e6c3b-1111-4222-8333-444455556666\":[\"Member\",\"Manager\"]}";
const roleName = z.string({ message: roleNameRule }).trim().min(1, roleNameRule).max(64, roleNameRule).regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, roleNameRule);
const roleMappingSchema = jsonText('must be a JSON object from group id to role name(s), such as {"2a9e6c3b-1111-4222-8333-444455556666":"Admin"}')
  .pipe(
    z.record(guid("2a9e6c3b-1111-4222-8333-444455556666"), z.union([roleName, z.array(roleName).min(1, roleNameRule)], { message: roleNameRule }), {
      message: 'must be a JSON object from group id to role name(s), such as {"2a9e6c3b-1111-4222-8333-444455556666":["Member","Manager"]}',
    }),
  );

/** Comma-separated values; blanks between commas are ignored. */
const commaList = (item: z.ZodType<string>) =>
  z.string().transform((text, context) => {
    const values = text.split(",").map((value) => value.trim()).filter((value) => value !== "");
    const parsed: string[] = [];
    for (const value of values) {
      const result = item.safeParse(value);
      if (!result.success) {
        context.addIssue({ code: "custom", message: `has '${value.slice(0, 60)}', which ${result.error.issues[0]?.message ?? "is not valid"}` });
        return z.NEVER;
      }
      parsed.push(result.data);
    }
    return [...new Set(parsed)];
  });
const globRule = "must be a glob of 1-256 printable characters (* any run, ? one character), such as *service*";
const glob = z.string().min(1, globRule).max(256, globRule).regex(/^[^\u0000-\u001f\u007f-\u009f]+$/, globRule);
const booleanSetting = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((value) => value === "true" || value === "false", `must be true or false (${name})`)
    .transform((value) => value === "true");

export const settingsSchema = z
  .object({
    ENTRA_TENANT_ID: tenantGuid("72f988bf-86f1-41af-91ab-2d7cd011db47").optional(),
    SYNC_TENANTS: tenantListSchema.optional(),
    ENTRA_CREDENTIAL_MODE: z
      .enum(["managedIdentity", "federatedCredential", "clientSecret", "certificate"], {
        message: "must be one of managedIdentity, federatedCredential, clientSecret, certificate",
      })
      .default("managedIdentity"),
    ENTRA_CLIENT_ID: guid("00000000-0000-0000-0000-000000000000").optional(),
    MANAGED_IDENTITY_CLIENT_ID: guid("00000000-0000-0000-0000-000000000000").optional(),
    KEY_VAULT_URL: httpsUrl("https://my-vault.vault.azure.net").optional(),
    KEY_VAULT_SECRET_NAME: z
      .string()
      .trim()
      .regex(/^[0-9a-zA-Z-]{1,127}$/, "must be a Key Vault secret name: 1-127 letters, digits and dashes, such as entra-sync-client-secret")
      .optional(),
    SECRET_EXPIRY_WARNING_DAYS: positiveInt(30, 365).default(30),
    ENTRA_CLOUD: z.enum(["public", "usgov", "china"], { message: "must be one of public, usgov, china" }).default("public"),
    GRAPH_ENDPOINT: httpsUrl("https://graph.microsoft.com").optional(),
    AUTHORITY_HOST: httpsUrl("https://login.microsoftonline.com").optional(),
    DirectoryStorage: optionalText,
    DirectoryStorage__tableServiceUri: httpsUrl("https://mystorage.table.core.windows.net").optional(),
    DirectoryStorage__clientId: guid("00000000-0000-0000-0000-000000000000").optional(),
    TABLE_PREFIX: z
      .string()
      .trim()
      .regex(/^[A-Za-z][A-Za-z0-9]{0,19}$/, "must be 1-20 letters and digits starting with a letter, such as entra")
      .default("entra"),
    SYNC_SCHEDULE: z
      .string()
      .trim()
      .refine(isNcrontab, "must be an NCRONTAB expression with six fields {second} {minute} {hour} {day} {month} {day-of-week}, such as 0 0 2 * * * (daily at 02:00 UTC)")
      .default("0 0 2 * * *"),
    GRAPH_MAX_RETRIES: positiveInt(6, 20).default(6),
    // 16: a first sync reads its streams one after the other, so this keeps the transactions in flight that two streams of 8 had.
    SYNC_WRITE_CONCURRENCY: positiveInt(8, 64).default(16),
    DirectoryStorage__queueServiceUri: httpsUrl("https://mystorage.queue.core.windows.net").optional(),
    SYNC_LEASE_TTL_SECONDS: positiveInt(60, 86400).default(60),
    SYNC_RUN_BUDGET_SECONDS: positiveInt(480, 1200).default(480),
    RUN_RETENTION_DAYS: positiveInt(90, 3650).default(90),
    ROLE_MAPPING: roleMappingSchema.optional(),
    DELETION_THRESHOLD_COUNT: z.coerce
      .number({ message: "must be a whole number of users from 0 (no count limit) to 1000000, such as 500" })
      .int("must be a whole number of users from 0 (no count limit) to 1000000, such as 500")
      .min(0, "must be a whole number of users from 0 (no count limit) to 1000000, such as 500")
      .max(1_000_000, "must be a whole number of users from 0 (no count limit) to 1000000, such as 500")
      .default(500),
    DELETION_THRESHOLD_PERCENT: z.coerce
      .number({ message: "must be a percentage from 0 (no percentage limit) to 100, such as 20" })
      .min(0, "must be a percentage from 0 (no percentage limit) to 100, such as 20")
      .max(100, "must be a percentage from 0 (no percentage limit) to 100, such as 20")
      .default(20),
    DELETED_RETENTION_DAYS: z.coerce
      .number({ message: "must be a whole number of days from 0 to 3650, such as 30" })
      .int("must be a whole number of days from 0 to 3650, such as 30")
      .min(0, "must be a whole number of days from 0 to 3650, such as 30")
      .max(3650, "must be a whole number of days from 0 to 3650, such as 30")
      .default(30),
    SCOPE_GROUPS: commaList(guid("2a9e6c3b-1111-4222-8333-444455556666")).optional(),
    SCOPE_GROUP_NAME_PATTERNS: commaList(glob).optional(),
    SCOPE_EXCLUDE_GROUPS: commaList(guid("2a9e6c3b-1111-4222-8333-444455556666")).optional(),
    SCOPE_EXCLUDE_GROUP_NAME_PATTERNS: commaList(glob).optional(),
    SYNC_GROUP_KINDS: commaList(z.enum(["security", "microsoft365", "distribution", "mailEnabledSecurity"], { message: "is not one of security, microsoft365, distribution, mailEnabledSecurity" }))
      .refine((kinds) => kinds.length > 0, "must name at least one of security, microsoft365, distribution, mailEnabledSecurity")
      .optional(),
    SYNC_GUESTS: booleanSetting("sync guests, userType Guest").default(true),
    SYNC_DISABLED_USERS: z.enum(["keep", "exclude"], { message: "must be keep (synced, marked accountEnabled false) or exclude" }).default("keep"),
    USER_EXCLUDE_PATTERNS: commaList(glob).optional(),
    SYNC_DEVICES: booleanSetting("read devices/delta into the devices table; needs Device.Read.All").default(false),
    SYNC_CHANGE_NOTIFICATIONS: booleanSetting("subscribe to Microsoft Graph change notifications so a change starts an incremental run within seconds").default(false),
    CHANGE_NOTIFICATION_URL: httpsUrl("https://func-abc123.azurewebsites.net/api/notifications").optional(),
    CHANGE_NOTIFICATION_DEBOUNCE_SECONDS: positiveInt(10, 300).default(10),
    /** Platform-set (App Service), not a product setting: excluded from settingNames. */
    WEBSITE_HOSTNAME: z.string().trim().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name").optional(),
  })
  .superRefine((settings, context) => {
    if (!settings.ENTRA_TENANT_ID && !settings.SYNC_TENANTS) {
      context.addIssue({ code: "custom", path: ["ENTRA_TENANT_ID"], message: "is required: the directory's tenant id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 (or list tenants in SYNC_TENANTS)" });
    }
    const ids = [settings.ENTRA_TENANT_ID, ...(settings.SYNC_TENANTS ?? []).map((tenant) => tenant.tenantId)].filter(Boolean);
    if (new Set(ids).size !== ids.length) {
      context.addIssue({ code: "custom", path: ["SYNC_TENANTS"], message: "lists a tenant twice; each tenantId may appear once (ENTRA_TENANT_ID counts too)" });
    }
    const mode = settings.ENTRA_CREDENTIAL_MODE;
    if (mode !== "managedIdentity" && !settings.ENTRA_CLIENT_ID) {
      context.addIssue({ code: "custom", path: ["ENTRA_CLIENT_ID"], message: `is required when ENTRA_CREDENTIAL_MODE is ${mode}; set it to the app registration's client id (a GUID)` });
    }
    if ((mode === "clientSecret" || mode === "certificate") && !settings.KEY_VAULT_URL) {
      context.addIssue({ code: "custom", path: ["KEY_VAULT_URL"], message: `is required when ENTRA_CREDENTIAL_MODE is ${mode}; set it to the vault URL such as https://my-vault.vault.azure.net` });
    }
    if ((mode === "clientSecret" || mode === "certificate") && !settings.KEY_VAULT_SECRET_NAME) {
      context.addIssue({ code: "custom", path: ["KEY_VAULT_SECRET_NAME"], message: `is required when ENTRA_CREDENTIAL_MODE is ${mode}; set it to the name of the secret in Key Vault such as entra-sync-client-secret` });
    }
    if (settings.DirectoryStorage && settings.DirectoryStorage__tableServiceUri) {
      context.addIssue({ code: "custom", path: ["DirectoryStorage"], message: "and DirectoryStorage__tableServiceUri are both set; keep one: DirectoryStorage (a connection string) for Azurite locally, DirectoryStorage__tableServiceUri for a storage account reached with an identity" });
    }
    for (const [name, kind] of [["GRAPH_ENDPOINT", "graphEndpoint"], ["AUTHORITY_HOST", "authorityHost"]] as const) {
      const value = settings[name];
      const pinned = (Object.keys(cloudEndpoints) as CloudName[]).find((cloud) => cloudEndpoints[cloud][kind] === value);
      if (pinned && pinned !== settings.ENTRA_CLOUD) {
        context.addIssue({ code: "custom", path: [name], message: `is ${value}, the ${pinned} cloud's, but ENTRA_CLOUD is ${settings.ENTRA_CLOUD}; leave ${name} empty to follow ENTRA_CLOUD` });
      }
    }
    if (settings.SYNC_CHANGE_NOTIFICATIONS && !settings.CHANGE_NOTIFICATION_URL && !settings.WEBSITE_HOSTNAME) {
      context.addIssue({ code: "custom", path: ["CHANGE_NOTIFICATION_URL"], message: "is required when SYNC_CHANGE_NOTIFICATIONS is true outside Azure (where WEBSITE_HOSTNAME gives it): the webhook's public https URL such as https://func-abc123.azurewebsites.net/api/notifications" });
    }
    if (!settings.DirectoryStorage && !settings.DirectoryStorage__tableServiceUri) {
      context.addIssue({ code: "custom", path: ["DirectoryStorage__tableServiceUri"], message: "is required: the Table endpoint such as https://mystorage.table.core.windows.net (or DirectoryStorage as a connection string for Azurite)" });
    }
  });

export type RawSettings = z.infer<typeof settingsSchema>;

/** Set by App Service on every Function App: its public host name, from which the webhook URL is derived. */
const platformHostSetting = "WEBSITE_HOSTNAME";
/** The webhook's route (functions/receiveChangeNotification.ts). */
export const changeNotificationRoute = "notifications";

/** What differs between the tenants one deployment syncs. */
export interface TenantSettings {
  tenantId: string;
  credentialMode: CredentialMode;
  clientId: string | undefined;
  keyVaultSecretName: string | undefined;
}

/** Validated settings in the shape the composition root uses; the top-level tenant fields are the first tenant's. */
export interface Settings extends TenantSettings {
  tenants: TenantSettings[];
  managedIdentityClientId: string | undefined;
  keyVaultUrl: string | undefined;
  secretExpiryWarningDays: number;
  cloud: CloudName;
  graphEndpoint: string;
  authorityHost: string;
  storage: { connectionString: string } | { tableServiceUri: string; clientId: string | undefined };
  tablePrefix: string;
  syncSchedule: string;
  graphMaxRetries: number;
  writeConcurrency: number;
  /** Queue endpoint of the DirectoryStorage connection (identity-based); unset with a connection string. */
  queueServiceUri: string | undefined;
  /** How long a run's lease lasts unrenewed before another request may take the tenant over. */
  leaseTtlSeconds: number;
  /** How long one worker invocation reads pages before it pauses and queues a continuation. */
  runBudgetSeconds: number;
  /** Days the run log and change events are kept. */
  runRetentionDays: number;
  /** A run deleting more users than this (count, or percent of active users; 0 turns one off) holds the deletions. */
  deletionThreshold: { count: number; percent: number };
  /** Days a soft-deleted user or group stays, marked deleted, before it is removed for good. */
  deletedRetentionDays: number;
  /** Group id → role names, resolved per user through nesting and stored on the user's row. */
  roleMapping: Map<string, string[]>;
  /** Which users and groups are synced: scope groups, group kinds and user filters. */
  scope: ScopeSettings;
  /** Devices are read (devices/delta) into their own table; off by default, and only then is Device.Read.All needed. */
  syncDevices: boolean;
  /** Graph change notifications: whether subscriptions exist, the webhook URL Graph posts to, and the quiet period before a run. */
  changeNotifications: ChangeNotificationSettings;
}

export interface ChangeNotificationSettings {
  enabled: boolean;
  /** Undefined only when the feature is off and no URL could be derived. */
  notificationUrl: string | undefined;
  debounceSeconds: number;
}

/** A setting that is missing or malformed; the message is one line naming it. */
export class SettingsError extends SyncError {
  override name = "SettingsError";
  constructor(message: string) {
    super("settings.invalid", message);
  }
}

/** Names of every app setting the code reads (used to check infra and docs agree). */
export const settingNames: readonly string[] = Object.keys(settingsSchema.shape).filter((name) => name !== platformHostSetting);

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const input: Record<string, string> = {};
  for (const name of settingNames) {
    const value = env[name];
    if (value !== undefined && value.trim() !== "") input[name] = value;
  }
  const platformHost = env[platformHostSetting]?.trim();
  const parsed = settingsSchema.safeParse({ ...input, ...(platformHost ? { WEBSITE_HOSTNAME: platformHost } : {}) });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? "settings");
    const message = issue.code === "invalid_type" && input[name] === undefined ? "is required" : issue.message;
    throw new SettingsError(`Setting ${name} ${message}.`);
  }
  const raw = parsed.data;
  const cloud = cloudEndpoints[raw.ENTRA_CLOUD];
  const defaults: Omit<TenantSettings, "tenantId"> = { credentialMode: raw.ENTRA_CREDENTIAL_MODE, clientId: raw.ENTRA_CLIENT_ID, keyVaultSecretName: raw.KEY_VAULT_SECRET_NAME };
  const tenants: TenantSettings[] = [
    ...(raw.ENTRA_TENANT_ID ? [{ tenantId: raw.ENTRA_TENANT_ID, ...defaults }] : []),
    ...(raw.SYNC_TENANTS ?? []).map((tenant) => ({
      tenantId: tenant.tenantId,
      credentialMode: tenant.credentialMode ?? defaults.credentialMode,
      clientId: tenant.clientId ?? defaults.clientId,
      keyVaultSecretName: tenant.keyVaultSecretName ?? defaults.keyVaultSecretName,
    })),
  ];
  for (const tenant of tenants) {
    if (tenant.credentialMode !== "managedIdentity" && !tenant.clientId) throw new SettingsError(`Setting SYNC_TENANTS: tenant ${tenant.tenantId} uses ${tenant.credentialMode} and needs a clientId (the app registration's client id, a GUID).`);
    if ((tenant.credentialMode === "clientSecret" || tenant.credentialMode === "certificate") && !(tenant.keyVaultSecretName && raw.KEY_VAULT_URL)) {
      throw new SettingsError(`Setting SYNC_TENANTS: tenant ${tenant.tenantId} uses ${tenant.credentialMode} and needs keyVaultSecretName and KEY_VAULT_URL.`);
    }
  }
  return {
    ...tenants[0]!,
    tenants,
    managedIdentityClientId: raw.MANAGED_IDENTITY_CLIENT_ID,
    keyVaultUrl: raw.KEY_VAULT_URL,
    secretExpiryWarningDays: raw.SECRET_EXPIRY_WARNING_DAYS,
    cloud: raw.ENTRA_CLOUD,
    graphEndpoint: raw.GRAPH_ENDPOINT ?? cloud.graphEndpoint,
    authorityHost: raw.AUTHORITY_HOST ?? cloud.authorityHost,
    storage: raw.DirectoryStorage
      ? { connectionString: raw.DirectoryStorage }
      : { tableServiceUri: raw.DirectoryStorage__tableServiceUri!, clientId: raw.DirectoryStorage__clientId },
    tablePrefix: raw.TABLE_PREFIX,
    syncSchedule: raw.SYNC_SCHEDULE,
    graphMaxRetries: raw.GRAPH_MAX_RETRIES,
    writeConcurrency: raw.SYNC_WRITE_CONCURRENCY,
    queueServiceUri: raw.DirectoryStorage__queueServiceUri,
    leaseTtlSeconds: raw.SYNC_LEASE_TTL_SECONDS,
    runBudgetSeconds: raw.SYNC_RUN_BUDGET_SECONDS,
    runRetentionDays: raw.RUN_RETENTION_DAYS,
    deletedRetentionDays: raw.DELETED_RETENTION_DAYS,
    deletionThreshold: { count: raw.DELETION_THRESHOLD_COUNT, percent: raw.DELETION_THRESHOLD_PERCENT },
    roleMapping: new Map(Object.entries(raw.ROLE_MAPPING ?? {}).map(([groupId, roles]) => [groupId.toLowerCase(), [...new Set(Array.isArray(roles) ? roles : [roles])].sort()])),
    syncDevices: raw.SYNC_DEVICES,
    changeNotifications: {
      enabled: raw.SYNC_CHANGE_NOTIFICATIONS,
      notificationUrl: raw.CHANGE_NOTIFICATION_URL ?? (raw.WEBSITE_HOSTNAME ? `https://${raw.WEBSITE_HOSTNAME}/api/${changeNotificationRoute}` : undefined),
      debounceSeconds: raw.CHANGE_NOTIFICATION_DEBOUNCE_SECONDS,
    },
    scope: {
      includeGroups: raw.SCOPE_GROUPS ?? [],
      includeGroupPatterns: raw.SCOPE_GROUP_NAME_PATTERNS ?? [],
      excludeGroups: raw.SCOPE_EXCLUDE_GROUPS ?? [],
      excludeGroupPatterns: raw.SCOPE_EXCLUDE_GROUP_NAME_PATTERNS ?? [],
      groupKinds: (raw.SYNC_GROUP_KINDS as GroupKind[] | undefined) ?? [...groupKinds],
      includeGuests: raw.SYNC_GUESTS,
      disabledUsers: raw.SYNC_DISABLED_USERS,
      excludeUserPatterns: raw.USER_EXCLUDE_PATTERNS ?? [],
    },
  };
}

/** The settings one tenant's sync runs with; undefined for a tenant this deployment does not sync. */
export function settingsForTenant(settings: Settings, tenantId: string): Settings | undefined {
  const tenant = settings.tenants.find((candidate) => candidate.tenantId === tenantId.toLowerCase());
  return tenant ? { ...settings, ...tenant } : undefined;
}
