// Settings fail at start with one line that names the setting and shows a good value.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadSettings, SettingsError, settingsForTenant } from "../../src/config/settings";

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const base = { ENTRA_TENANT_ID: tenant, DirectoryStorage: "UseDevelopmentStorage=true" };

describe("settings", () => {
  test("defaults follow the public cloud and managed identity", () => {
    const settings = loadSettings(base);
    assert.equal(settings.graphEndpoint, "https://graph.microsoft.com");
    assert.equal(settings.authorityHost, "https://login.microsoftonline.com");
    assert.equal(settings.credentialMode, "managedIdentity");
    assert.equal(settings.syncSchedule, "0 0 2 * * *");
    assert.equal(settings.tablePrefix, "entra");
  });

  test("sovereign clouds change both endpoints, and explicit endpoints win", () => {
    assert.equal(loadSettings({ ...base, ENTRA_CLOUD: "usgov" }).graphEndpoint, "https://graph.microsoft.us");
    assert.equal(loadSettings({ ...base, ENTRA_CLOUD: "china" }).authorityHost, "https://login.chinacloudapi.cn");
    assert.equal(loadSettings({ ...base, GRAPH_ENDPOINT: "https://graph.example.test/" }).graphEndpoint, "https://graph.example.test");
  });

  test("several tenants: each inherits what it leaves out from the top-level settings", () => {
    const other = "11111111-2222-3333-4444-555555555555";
    const settings = loadSettings({ ...base, ENTRA_CLIENT_ID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", SYNC_TENANTS: JSON.stringify([{ tenantId: other.toUpperCase(), credentialMode: "federatedCredential" }]) });
    assert.deepEqual(
      settings.tenants.map((t) => [t.tenantId, t.credentialMode, t.clientId]),
      [
        [tenant, "managedIdentity", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
        [other, "federatedCredential", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
      ],
    );
    assert.equal(settingsForTenant(settings, other)?.credentialMode, "federatedCredential");
    assert.equal(settingsForTenant(settings, "99999999-2222-3333-4444-555555555555"), undefined);
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ["missing tenant", { DirectoryStorage: "x" }, /^Setting ENTRA_TENANT_ID is required: the directory.s tenant id, a GUID/],
    ["tenant not a GUID", { ...base, ENTRA_TENANT_ID: "contoso" }, /^Setting ENTRA_TENANT_ID must be a GUID such as /],
    ["the all-zero placeholder tenant", { ...base, ENTRA_TENANT_ID: "00000000-0000-0000-0000-000000000000" }, /^Setting ENTRA_TENANT_ID is the all-zero placeholder; set the directory's tenant id/],
    ["the all-zero tenant in SYNC_TENANTS", { ...base, SYNC_TENANTS: JSON.stringify([{ tenantId: "00000000-0000-0000-0000-000000000000" }]) }, /^Setting SYNC_TENANTS is the all-zero placeholder/],
    ["both storage settings", { ...base, DirectoryStorage__tableServiceUri: "https://acct.table.core.windows.net" }, /^Setting DirectoryStorage and DirectoryStorage__tableServiceUri are both set; keep one/],
    ["Graph pinned to the public cloud in usgov", { ...base, ENTRA_CLOUD: "usgov", GRAPH_ENDPOINT: "https://graph.microsoft.com" }, /^Setting GRAPH_ENDPOINT is https:\/\/graph\.microsoft\.com, the public cloud's, but ENTRA_CLOUD is usgov; leave GRAPH_ENDPOINT empty/],
    ["authority pinned to the public cloud in china", { ...base, ENTRA_CLOUD: "china", AUTHORITY_HOST: "https://login.microsoftonline.com" }, /^Setting AUTHORITY_HOST is https:\/\/login\.microsoftonline\.com, the public cloud's, but ENTRA_CLOUD is china/],
    ["unknown mode", { ...base, ENTRA_CREDENTIAL_MODE: "password" }, /^Setting ENTRA_CREDENTIAL_MODE must be one of managedIdentity, /],
    ["secret mode without client id", { ...base, ENTRA_CREDENTIAL_MODE: "clientSecret" }, /^Setting ENTRA_CLIENT_ID is required when ENTRA_CREDENTIAL_MODE is clientSecret/],
    ["http Graph endpoint", { ...base, GRAPH_ENDPOINT: "http://graph.microsoft.com" }, /^Setting GRAPH_ENDPOINT must be an https URL/],
    ["concurrency not a number", { ...base, SYNC_WRITE_CONCURRENCY: "lots" }, /^Setting SYNC_WRITE_CONCURRENCY must be a whole number such as 8\.$/],
    ["no storage", { ENTRA_TENANT_ID: tenant }, /^Setting DirectoryStorage__tableServiceUri is required/],
    ["five-field cron", { ...base, SYNC_SCHEDULE: "0 2 * * *" }, /^Setting SYNC_SCHEDULE must be an NCRONTAB expression with six fields/],
    ["role mapping not JSON", { ...base, ROLE_MAPPING: "Admins=Admin" }, /^Setting ROLE_MAPPING must be a JSON object from group id to role name\(s\)/],
    ["role mapping with an empty role", { ...base, ROLE_MAPPING: '{"2a9e6c3b-1111-4222-8333-444455556666":[]}' }, /^Setting ROLE_MAPPING must map each group id to role names of 1-64 printable characters/],
    ["negative retention", { ...base, DELETED_RETENTION_DAYS: "-1" }, /^Setting DELETED_RETENTION_DAYS must be a whole number of days from 0 to 3650, such as 30\.$/],
    ["bad table prefix", { ...base, TABLE_PREFIX: "my-prefix" }, /^Setting TABLE_PREFIX must be 1-20 letters and digits/],
    ["tenant list not JSON", { ...base, SYNC_TENANTS: "contoso,fabrikam" }, /^Setting SYNC_TENANTS must be a JSON array such as /],
    ["tenant listed twice", { ...base, SYNC_TENANTS: JSON.stringify([{ tenantId: tenant }]) }, /^Setting SYNC_TENANTS lists a tenant twice/],
    ["tenant entry with unknown field", { ...base, SYNC_TENANTS: JSON.stringify([{ tenantId: "11111111-2222-3333-4444-555555555555", secret: "x" }]) }, /^Setting SYNC_TENANTS /],
    ["tenant needing a client id", { ...base, SYNC_TENANTS: JSON.stringify([{ tenantId: "11111111-2222-3333-4444-555555555555", credentialMode: "federatedCredential" }]) }, /^Setting SYNC_TENANTS: tenant 11111111-2222-3333-4444-555555555555 uses federatedCredential and needs a clientId/],
  ];
  for (const [name, env, message] of bad) {
    test(`rejects ${name} with one line naming the setting`, () => {
      assert.throws(() => loadSettings(env), (error: unknown) => error instanceof SettingsError && message.test(error.message) && !error.message.includes("\n"));
    });
  }
});
