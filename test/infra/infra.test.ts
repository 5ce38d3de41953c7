// Checks infra/ parses, sets exactly the settings the code reads, and keeps the no-keys, least-privilege rules.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { Node } from "web-tree-sitter";
import { consoleAppRoles } from "../../src/access/clientPrincipal";
import { loadSettings, settingNames } from "../../src/config/settings";
import {
  findSyntaxErrors,
  listBicepFiles,
  meaningfulChildren,
  objectProperties,
  parameterDeclarations,
  parseBicep,
  propertyAt,
  resourceDeclarations,
  stringLiteral,
  toGrammarDialect,
  variableValue,
} from "./bicepTree";

const repoRoot = path.resolve(__dirname, "../../..");
const infraDir = path.join(repoRoot, "infra");

// Settings in settingNames that infra deliberately leaves unset, so the code's default or derivation applies.
const settingsNotSetByInfra = new Map<string, string>([
  ["DirectoryStorage", "a connection string, only for Azurite in local development; Azure uses DirectoryStorage__* through the identity"],
  ["GRAPH_ENDPOINT", "derived from ENTRA_CLOUD; an override an admin adds by hand for a special endpoint"],
  ["AUTHORITY_HOST", "derived from ENTRA_CLOUD; an override an admin adds by hand for a special endpoint"],
  ["CHANGE_NOTIFICATION_URL", "derived from WEBSITE_HOSTNAME, the public host App Service sets on the app; an override for a custom domain or a gateway"],
]);

// Settings the Functions host and its extensions read, never the product code, so they are not in settingNames.
const hostSettingAllowlist = new Set<string>([
  // Host storage (timers, leases, keys) through the managed identity.
  "AzureWebJobsStorage__blobServiceUri",
  "AzureWebJobsStorage__queueServiceUri",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  // Where telemetry goes and how the host authenticates to send it (local auth is off).
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
  // Read by the Storage queue trigger on the DirectoryStorage connection; the code itself reads only the table half.
  "DirectoryStorage__queueServiceUri",
  "DirectoryStorage__credential",
  // Read by App Service Authentication: the managed identity that replaces the console sign-in app's client secret.
  "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
]);

// Settings Flex Consumption rejects or ignores (runtime lives in functionAppConfig), plus plain connection strings.
const forbiddenAppSettings = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_TIME_ZONE",
  "AzureWebJobsStorage",
  "DirectoryStorage",
  "APPINSIGHTS_INSTRUMENTATIONKEY",
];

// The only Azure roles the managed identity may hold, by the names used in infra/app/rbac.bicep (ids from "Azure built-in roles").
const allowedRoleIds: Record<string, string> = {
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  storageQueueDataContributor: "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
  storageTableDataContributor: "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
  storageTableDataReader: "76199698-9eea-4c19-bc75-cec21354c6b6",
  keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
};

// Which resource each role is granted on: the narrowest scope that still works.
const expectedRoleAssignments = [
  "storage:storageBlobDataOwner",
  "storage:storageQueueDataContributor",
  "storage:storageTableDataContributor",
  // Consuming applications named by tableReaderPrincipalIds, one assignment each.
  "storage:storageTableDataReader",
  "vault:keyVaultSecretsUser",
  "appInsights:monitoringMetricsPublisher",
];

// Microsoft Graph application permissions (app role ids from the Graph permissions reference).
const graphAppRoleIds: Record<string, string> = {
  userReadAll: "df021288-bdef-4463-88db-98f22de89214",
  groupMemberReadAll: "98830695-27a2-44f7-8c18-0c3ebc9698f6",
  deviceReadAll: "7438b122-aefc-4978-80ed-43db9fcc7715",
  groupReadAll: "5b567255-7703-4780-807c-7be8301ae99b",
};
const microsoftGraphAppId = "00000003-0000-0000-c000-000000000000";

interface BicepFile {
  relativePath: string;
  source: string;
  root: Node;
}

function readText(relativePath: string): string {
  return fs.readFileSync(path.join(repoRoot, relativePath), "utf8");
}

function where(file: BicepFile, node: Node): string {
  return `${file.relativePath}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
}

let bicepFiles: BicepFile[] = [];
const bicep = (relativePath: string): BicepFile => {
  const file = bicepFiles.find((candidate) => candidate.relativePath === relativePath);
  assert.ok(file, `${relativePath} is missing`);
  return file;
};

/** The app settings function.bicep gives the site: the `name` of every entry in `var appSettings`. */
function infraAppSettingNames(): string[] {
  const file = bicep("infra/app/function.bicep");
  const value = variableValue(file.root, "appSettings");
  assert.ok(value, "infra/app/function.bicep declares no `var appSettings`");
  const entries = value.descendantsOfType("object");
  assert.ok(entries.length > 0, "`var appSettings` holds no { name, value } entries");
  return entries.map((entry) => {
    const name = stringLiteral(objectProperties(entry).get("name"));
    assert.ok(name, `${where(file, entry)}: every app setting needs a literal name: 'X' so it can be checked`);
    assert.ok(objectProperties(entry).has("value"), `${where(file, entry)}: app setting ${name} has no value`);
    return name;
  });
}

before(async () => {
  bicepFiles = await Promise.all(
    listBicepFiles(infraDir).map(async (fullPath) => {
      const source = fs.readFileSync(fullPath, "utf8");
      return { relativePath: path.relative(repoRoot, fullPath).split(path.sep).join("/"), source, root: await parseBicep(source) };
    }),
  );
});

describe("Bicep syntax", () => {
  test("every .bicep file under infra/ parses with the tree-sitter-bicep grammar", async () => {
    const names = bicepFiles.map((file) => file.relativePath);
    for (const expected of ["infra/main.bicep", "infra/app/function.bicep", "infra/app/storage.bicep", "infra/app/keyvault.bicep", "infra/app/monitoring.bicep", "infra/app/rbac.bicep", "infra/app/graph-permissions.bicep"]) {
      assert.ok(names.includes(expected), `${expected} is missing; found ${names.join(", ")}`);
    }
    const problems: string[] = [];
    for (const file of bicepFiles) {
      for (const error of await findSyntaxErrors(file.source)) {
        problems.push(`${file.relativePath}:${error.line}:${error.column} ${error.kind} near ${JSON.stringify(error.near)}`);
      }
    }
    assert.deepEqual(problems, [], `Bicep syntax errors:\n${problems.join("\n")}`);
  });

  test("the check rejects broken Bicep and says where", async () => {
    const missingValue = "param location string\nresource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n}\n";
    const errors = await findSyntaxErrors(missingValue);
    assert.ok(errors.length > 0, "a property without a value parsed cleanly");
    assert.deepEqual([errors[0]!.line, errors[0]!.column], [3, 8], `expected the error after "name:" on line 3, got ${JSON.stringify(errors)}`);

    assert.ok((await findSyntaxErrors("param name string = 'unterminated\n")).length > 0, "an unterminated string parsed cleanly");
    assert.ok((await findSyntaxErrors("resource st 'x@1' = {\n  name: 'a'\n")).length > 0, "an unclosed object parsed cleanly");
    assert.deepEqual(await findSyntaxErrors("param name string = 'fine'\n"), [], "valid Bicep was rejected");
  });

  test("only a plain `extension <alias>` line is rewritten for the older grammar, so a broken one still fails", async () => {
    assert.equal(toGrammarDialect("extension microsoftGraphV1\r\nparam a string\n"), "provider 'microsoftGraphV1'\r\nparam a string\n");
    assert.deepEqual(await findSyntaxErrors("extension microsoftGraphV1\nparam a string\n"), []);
    assert.ok((await findSyntaxErrors("extension microsoftGraphV1 with {\nparam a string\n")).length > 0, "a broken extension statement parsed cleanly");
    assert.ok((await findSyntaxErrors("extension\nparam a string\n")).length > 0, "an extension without an alias parsed cleanly");
  });

  test("every Bicep file opens with a one-line comment saying what it is for", () => {
    for (const file of bicepFiles) {
      const firstLine = file.source.split(/\r?\n/)[0] ?? "";
      assert.match(firstLine, /^\/\/ \S.{10,}/, `${file.relativePath} does not open with a // comment`);
    }
  });
});

describe("one source of truth for setting names", () => {
  test("infra sets every setting in settingNames except the listed optional ones", () => {
    const setByInfra = new Set(infraAppSettingNames());
    const unaccounted = settingNames.filter((name) => !setByInfra.has(name) && !settingsNotSetByInfra.has(name));
    assert.deepEqual(unaccounted, [], `settings the code reads but infra neither sets nor lists as optional: ${unaccounted.join(", ")}`);
  });

  test("the optional list names real settings that infra really leaves unset", () => {
    const setByInfra = new Set(infraAppSettingNames());
    for (const name of settingsNotSetByInfra.keys()) {
      assert.ok(settingNames.includes(name), `${name} is listed as optional but is not in settingNames`);
      assert.ok(!setByInfra.has(name), `${name} is listed as optional but infra sets it`);
    }
  });

  test("infra sets no app setting that is neither read by the code nor by the Functions host", () => {
    const names = infraAppSettingNames();
    const unknown = names.filter((name) => !settingNames.includes(name) && !hostSettingAllowlist.has(name));
    assert.deepEqual(unknown, [], `app settings nobody reads: ${unknown.join(", ")}`);
    const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
    assert.deepEqual(duplicates, [], `app settings set twice: ${duplicates.join(", ")}`);
    const forbidden = names.filter((name) => forbiddenAppSettings.includes(name));
    assert.deepEqual(forbidden, [], `app settings Flex Consumption rejects or that carry a connection string: ${forbidden.join(", ")}`);
  });

  test("the appSettings list is the only place infra sets app settings", () => {
    const file = bicep("infra/app/function.bicep");
    const site = resourceDeclarations(file.root).find((resource) => resource.type.startsWith("Microsoft.Web/sites@"));
    assert.ok(site, "infra/app/function.bicep declares no Microsoft.Web/sites resource");
    const siteAppSettings = propertyAt(site.body, "properties", "siteConfig", "appSettings");
    assert.equal(siteAppSettings?.text, "appSettings", "the site's siteConfig.appSettings must be `var appSettings`");
    for (const other of bicepFiles) {
      for (const resource of resourceDeclarations(other.root)) {
        // App Service Authentication's own config (authsettingsV2) is the one site config allowed outside the list.
        const authSettings = stringLiteral(propertyAt(resource.body, "name")) === "authsettingsV2";
        assert.ok(authSettings || !/^Microsoft\.Web\/sites\/config@|^config@/i.test(resource.type), `${other.relativePath}:${resource.line} sets site config outside the appSettings list`);
      }
      const appSettingsKeys = other.root.descendantsOfType("object_property").filter((property) => meaningfulChildren(property)[0]?.text === "appSettings");
      const allowed = other === file ? 1 : 0;
      assert.equal(appSettingsKeys.length, allowed, `${other.relativePath} has ${appSettingsKeys.length} appSettings properties; only function.bicep's site may have one`);
    }
  });

  test("the timer's %SYNC_SCHEDULE% always resolves in Azure", () => {
    // An unset %NAME% makes the host fail to index the timer, so this one must never be dropped as empty.
    const main = bicep("infra/main.bicep");
    const schedule = parameterDeclarations(main.root).find((parameter) => parameter.name === "syncSchedule");
    assert.ok(schedule?.hasDefault, "main.bicep needs param syncSchedule with a default");
    assert.ok(infraAppSettingNames().includes("SYNC_SCHEDULE"));
  });

  test("local.settings.example.json lists every setting and loads for local development", () => {
    const example = JSON.parse(readText("local.settings.example.json")) as { IsEncrypted: boolean; Values: Record<string, string> };
    assert.equal(example.IsEncrypted, false);
    const missing = settingNames.filter((name) => !(name in example.Values));
    assert.deepEqual(missing, [], `missing from local.settings.example.json: ${missing.join(", ")}`);
    assert.equal(example.Values["FUNCTIONS_WORKER_RUNTIME"], "node");
    assert.equal(example.Values["AzureWebJobsStorage"], "UseDevelopmentStorage=true");
    assert.equal(example.Values["DirectoryStorage"], "UseDevelopmentStorage=true");
    const unknown = Object.keys(example.Values).filter((name) => !settingNames.includes(name) && !["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"].includes(name));
    assert.deepEqual(unknown, [], `local.settings.example.json has settings nobody reads: ${unknown.join(", ")}`);
    // The tenant id is the one value to fill in: the placeholder is refused, not synced.
    assert.throws(() => loadSettings(example.Values), /^SettingsError: Setting ENTRA_TENANT_ID is the all-zero placeholder/);
    const settings = loadSettings({ ...example.Values, ENTRA_TENANT_ID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ENTRA_CLOUD: "usgov" });
    assert.deepEqual(settings.storage, { connectionString: "UseDevelopmentStorage=true" });
    assert.equal(settings.graphEndpoint, "https://graph.microsoft.us", "no endpoint pinned to the public cloud");
  });

  test("README.md's configuration table names every setting in backticks", () => {
    const readmePath = path.join(repoRoot, "README.md");
    assert.ok(fs.existsSync(readmePath), "README.md is missing; its configuration table must list every setting");
    const readme = fs.readFileSync(readmePath, "utf8");
    const missing = settingNames.filter((name) => !readme.includes(`\`${name}\``));
    assert.deepEqual(missing, [], `settings missing from README.md (as \`NAME\`): ${missing.join(", ")}`);
  });
});

describe("no keys, no connection strings, no secret values", () => {
  test("no file under infra/ or azure.yaml holds a key, a SAS or a secret-bearing connection string", () => {
    const forbidden: [RegExp, string][] = [
      [/listKeys\s*\(/i, "listKeys("],
      [/listConnectionStrings\s*\(/i, "listConnectionStrings("],
      [/list(Account|Service)Sas\s*\(/i, "a SAS token"],
      [/AccountKey\s*=/i, "AccountKey="],
      [/SharedAccessKey/i, "a shared access key"],
      [/SharedAccessSignature/i, "a shared access signature"],
      [/DefaultEndpointsProtocol/i, "a storage connection string"],
      [/InstrumentationKey\s*=/i, "an instrumentation key"],
      [/@secure\(\)/, "a secret parameter (infra takes no secret input)"],
    ];
    const files = [...listBicepFiles(infraDir), path.join(infraDir, "main.parameters.json"), path.join(infraDir, "bicepconfig.json"), path.join(repoRoot, "azure.yaml")];
    for (const fullPath of files) {
      const text = fs.readFileSync(fullPath, "utf8");
      for (const [pattern, what] of forbidden) {
        assert.doesNotMatch(text, pattern, `${path.relative(repoRoot, fullPath)} contains ${what}`);
      }
    }
  });

  test("infra creates no Key Vault secret: the admin puts the credential in", () => {
    for (const file of bicepFiles) {
      for (const resource of resourceDeclarations(file.root)) {
        assert.ok(!/(^|\/)secrets@/i.test(resource.type), `${file.relativePath}:${resource.line} creates a secret (${resource.type})`);
      }
    }
  });
});

describe("resource hardening", () => {
  const resourceOfType = (relativePath: string, typePrefix: string) => {
    const file = bicep(relativePath);
    const resource = resourceDeclarations(file.root).find((candidate) => candidate.type.startsWith(typePrefix) && !candidate.existing);
    assert.ok(resource?.body, `${relativePath} declares no ${typePrefix} resource`);
    return resource.body;
  };

  test("storage allows no shared keys, no public blobs and nothing below TLS 1.2", () => {
    const storage = resourceOfType("infra/app/storage.bicep", "Microsoft.Storage/storageAccounts@");
    assert.equal(propertyAt(storage, "properties", "allowSharedKeyAccess")?.text, "false");
    assert.equal(propertyAt(storage, "properties", "allowBlobPublicAccess")?.text, "false");
    assert.equal(stringLiteral(propertyAt(storage, "properties", "minimumTlsVersion")), "TLS1_2");
  });

  test("Key Vault uses Azure RBAC, soft delete and purge protection", () => {
    const vault = resourceOfType("infra/app/keyvault.bicep", "Microsoft.KeyVault/vaults@");
    assert.equal(propertyAt(vault, "properties", "enableRbacAuthorization")?.text, "true");
    assert.equal(propertyAt(vault, "properties", "enableSoftDelete")?.text, "true");
    assert.equal(propertyAt(vault, "properties", "enablePurgeProtection")?.text, "true");
  });

  test("Application Insights disables local auth and sits on a Log Analytics workspace", () => {
    const appInsights = resourceOfType("infra/app/monitoring.bicep", "Microsoft.Insights/components@");
    const properties = objectProperties(propertyAt(appInsights, "properties"));
    // The resource schema spells it DisableLocalAuth; compare the key without case.
    const disableLocalAuth = [...properties].find(([key]) => key.toLowerCase() === "disablelocalauth")?.[1];
    assert.equal(disableLocalAuth?.text, "true");
    assert.ok(properties.has("WorkspaceResourceId"), "Application Insights is not workspace-based");
  });

  test("the function app runs Node.js on Flex Consumption with its user-assigned identity", () => {
    const plan = resourceOfType("infra/app/function.bicep", "Microsoft.Web/serverfarms@");
    assert.equal(stringLiteral(propertyAt(plan, "sku", "name")), "FC1");
    assert.equal(stringLiteral(propertyAt(plan, "sku", "tier")), "FlexConsumption");
    const site = resourceOfType("infra/app/function.bicep", "Microsoft.Web/sites@");
    assert.equal(stringLiteral(propertyAt(site, "identity", "type")), "UserAssigned");
    assert.equal(stringLiteral(propertyAt(site, "properties", "functionAppConfig", "runtime", "name")), "node");
    assert.equal(stringLiteral(propertyAt(site, "properties", "functionAppConfig", "deployment", "storage", "authentication", "type")), "UserAssignedIdentity");
    assert.equal(propertyAt(site, "properties", "httpsOnly")?.text, "true");
  });
});

describe("role assignments", () => {
  test("role ids live in one named object holding only the allowed built-in roles", () => {
    const rbac = bicep("infra/app/rbac.bicep");
    const roleIds = variableValue(rbac.root, "roleIds");
    assert.equal(roleIds?.type, "object", "infra/app/rbac.bicep needs `var roleIds = { ... }`");
    const declared = Object.fromEntries([...objectProperties(roleIds)].map(([key, value]) => [key, stringLiteral(value)]));
    assert.deepEqual(declared, allowedRoleIds);
  });

  test("each assignment is least privilege, named guid(scope.id, principalId, roleId) and uses a named role id", () => {
    const found: string[] = [];
    for (const file of bicepFiles) {
      const resources = resourceDeclarations(file.root);
      for (const assignment of resources.filter((resource) => resource.type.startsWith("Microsoft.Authorization/roleAssignments@") && !resource.existing)) {
        const at = `${file.relativePath}:${assignment.line}`;
        assert.equal(file.relativePath, "infra/app/rbac.bicep", `${at}: role assignments belong in infra/app/rbac.bicep`);
        const body = assignment.body;
        const scope = objectProperties(body).get("scope")?.text;
        const nameCall = objectProperties(body).get("name");
        assert.equal(nameCall?.type, "call_expression", `${at}: name must be guid(...)`);
        assert.equal(meaningfulChildren(nameCall!)[0]?.text, "guid", `${at}: name must be guid(...)`);
        const nameArguments = meaningfulChildren(meaningfulChildren(nameCall!)[1]!).map((argument) => argument.text);
        const roleKey = nameArguments[2]?.replace(/^roleIds\./, "");
        assert.deepEqual(nameArguments, [`${scope}.id`, "principalId", `roleIds.${roleKey}`], `${at}: name must be guid(${scope}.id, principalId, roleIds.<role>)`);
        assert.ok(roleKey && roleKey in allowedRoleIds, `${at}: role ${roleKey} is not in the allowed set`);
        const roleDefinitionId = propertyAt(body, "properties", "roleDefinitionId")?.text.replace(/\s+/g, "");
        assert.equal(roleDefinitionId, `subscriptionResourceId('Microsoft.Authorization/roleDefinitions',roleIds.${roleKey})`, `${at}: roleDefinitionId must come from roleIds.${roleKey}`);
        assert.equal(propertyAt(body, "properties", "principalId")?.text, "principalId", `${at}: assign to the managed identity only`);
        assert.equal(stringLiteral(propertyAt(body, "properties", "principalType")), "ServicePrincipal", `${at}: principalType`);
        const scopeResource = resources.find((resource) => resource.symbol === scope);
        assert.ok(scopeResource?.existing, `${at}: scope ${scope} must be an existing resource in this file`);
        found.push(`${scope}:${roleKey}`);
      }
    }
    assert.deepEqual(found.sort(), [...expectedRoleAssignments].sort());
  });

  test("Key Vault Secrets User is granted only in the modes that keep a secret", () => {
    const rbac = bicep("infra/app/rbac.bicep");
    const secretsUser = resourceDeclarations(rbac.root).find((resource) => resource.symbol === "keyVaultSecretsUser");
    assert.ok(secretsUser?.conditional, "keyVaultSecretsUser must be conditional");
    const main = bicep("infra/main.bicep").source;
    assert.match(main, /^var usesKeyVaultCredential = contains\(keyVaultCredentialModes, entraCredentialMode\) \|\| /m);
    assert.match(main, /grantKeyVaultSecretsUser: usesKeyVaultCredential/);
  });
});

describe("Microsoft Graph permissions", () => {
  test("bicepconfig.json declares the microsoftGraphV1 extension", () => {
    const config = JSON.parse(readText("infra/bicepconfig.json")) as { extensions?: Record<string, string> };
    assert.match(config.extensions?.["microsoftGraphV1"] ?? "", /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:\d/);
  });

  test("the grant assigns exactly User.Read.All and GroupMember.Read.All on Microsoft Graph, Device.Read.All only with device sync, Group.Read.All only when chosen", () => {
    const file = bicep("infra/app/graph-permissions.bicep");
    assert.match(file.source, /^extension microsoftGraphV1$/m);
    const declared = Object.fromEntries([...objectProperties(variableValue(file.root, "graphAppRoleIds"))].map(([key, value]) => [key, stringLiteral(value)]));
    assert.deepEqual(declared, graphAppRoleIds);
    const resources = resourceDeclarations(file.root);
    const graph = resources.find((resource) => resource.type === "Microsoft.Graph/servicePrincipals@v1.0" && resource.existing);
    assert.ok(graph, "no existing Microsoft.Graph/servicePrincipals@v1.0 lookup");
    assert.equal(objectProperties(graph.body).get("appId")?.text, "microsoftGraphAppId");
    assert.equal(stringLiteral(variableValue(file.root, "microsoftGraphAppId")), microsoftGraphAppId);
    const grants = resources.filter((resource) => resource.type === "Microsoft.Graph/appRoleAssignedTo@v1.0");
    const grantedRoles = grants.map((grant) => {
      const properties = objectProperties(grant.body);
      assert.equal(properties.get("resourceId")?.text, `${graph.symbol}.id`);
      assert.equal(properties.get("principalId")?.text, "principalId");
      return properties.get("appRoleId")?.text.replace(/^graphAppRoleIds\./, "");
    });
    assert.deepEqual(grantedRoles.sort(), Object.keys(graphAppRoleIds).sort());
    assert.match(file.source, /^resource deviceReadAll 'Microsoft\.Graph\/appRoleAssignedTo@v1\.0' = if \(syncDevices\) \{$/m, "Device.Read.All is granted only when devices are synced");
    assert.match(bicep("infra/main.bicep").source, /syncDevices: toLower\(syncDevices\) == 'true'/);
    assert.match(file.source, /^resource groupReadAll 'Microsoft\.Graph\/appRoleAssignedTo@v1\.0' = if \(grantGroupReadAll\) \{$/m, "Group.Read.All (group change notifications) is a deploy-time choice");
    assert.match(bicep("infra/main.bicep").source, /^param grantGroupReadAll bool = false$/m, "off by default");
  });

  test("the grant is off unless grantGraphPermissions is set", () => {
    const main = bicep("infra/main.bicep");
    assert.match(main.source, /^param grantGraphPermissions bool = false$/m);
    assert.match(main.source, /^module graphPermissions 'app\/graph-permissions\.bicep' = if \(grantGraphPermissions && /m);
  });
});

describe("azd wiring", () => {
  test("main.parameters.json passes only declared parameters and every required one", () => {
    const main = bicep("infra/main.bicep");
    assert.match(main.source, /^targetScope = 'subscription'$/m);
    const declared = parameterDeclarations(main.root);
    const parameters = (JSON.parse(readText("infra/main.parameters.json")) as { parameters: Record<string, { value: unknown }> }).parameters;
    const undeclared = Object.keys(parameters).filter((name) => !declared.some((parameter) => parameter.name === name));
    assert.deepEqual(undeclared, [], `main.parameters.json passes parameters main.bicep lacks: ${undeclared.join(", ")}`);
    const required = declared.filter((parameter) => !parameter.hasDefault && !(parameter.name in parameters));
    assert.deepEqual(required, [], `required parameters main.parameters.json leaves out: ${required.map((parameter) => parameter.name).join(", ")}`);
    assert.equal(parameters["environmentName"]?.value, "${AZURE_ENV_NAME}");
    assert.equal(parameters["location"]?.value, "${AZURE_LOCATION}");
  });

  test("azure.yaml deploys the service the function app is tagged with", () => {
    const azureYaml = readText("azure.yaml");
    assert.match(azureYaml, /^# \S/, "azure.yaml opens with a comment");
    assert.match(azureYaml, /^services:\n {2}(#.*\n {2})?api:\n(?: {4}.*\n)*? {4}host: function$/m);
    assert.match(bicep("infra/app/function.bicep").source, /param serviceName string = 'api'/);
  });
});

describe("console sign-in", () => {
  test("the sign-in app declares exactly the two roles the functions check, and requires an assignment to sign in", () => {
    const source = bicep("infra/app/signin-app.bicep").source;
    const values = [...source.matchAll(/^\s+value: '([^']+)'$/gm)].map((match) => match[1]).sort();
    assert.deepEqual(values, [consoleAppRoles.act, consoleAppRoles.view].sort());
    assert.match(source, /appRoleAssignmentRequired: true/);
    assert.match(source, /^extension microsoftGraphV1$/m);
  });

  test("the sign-in app has no secret: its only credential is the managed identity, as a federated credential", () => {
    const file = bicep("infra/app/signin-app.bicep");
    assert.doesNotMatch(file.source, /passwordCredentials|keyCredentials|addPassword/);
    const credential = resourceDeclarations(file.root).find((resource) => resource.type.startsWith("federatedIdentityCredentials@"));
    assert.ok(credential, "a federatedIdentityCredentials child resource");
    assert.equal(propertyAt(credential.body, "subject")?.text, "managedIdentityPrincipalId");
    assert.match(propertyAt(credential.body, "audiences")?.text ?? "", /'api:\/\/AzureADTokenExchange'/);
    const auth = bicep("infra/app/signin.bicep");
    assert.equal(stringLiteral(propertyAt(resourceDeclarations(auth.root).find((resource) => resource.type.startsWith("Microsoft.Web/sites/config@"))?.body, "properties", "identityProviders", "azureActiveDirectory", "registration", "clientSecretSettingName")), "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID");
    assert.match(bicep("infra/app/function.bicep").source, /\{ name: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID', value: consoleSignIn \? identityClientId : '' \}/);
  });

  test("authentication lets anonymous requests through to the code, so function keys keep working and the console's routes decide", () => {
    const auth = bicep("infra/app/signin.bicep");
    const config = resourceDeclarations(auth.root).find((resource) => resource.type.startsWith("Microsoft.Web/sites/config@"));
    assert.equal(stringLiteral(propertyAt(config?.body, "name")), "authsettingsV2");
    assert.equal(propertyAt(config?.body, "properties", "globalValidation", "requireAuthentication")?.text, "false");
    assert.equal(stringLiteral(propertyAt(config?.body, "properties", "globalValidation", "unauthenticatedClientAction")), "AllowAnonymous");
    assert.equal(propertyAt(config?.body, "properties", "platform", "enabled")?.text, "true");
  });

  test("main.bicep wires the sign-in only when consoleSignIn is on, and azd passes the deploying user as the first admin", () => {
    const main = bicep("infra/main.bicep");
    const modules = main.root.descendantsOfType("module_declaration").map((module) => module?.text ?? "");
    for (const path of ["app/signin-app.bicep", "app/signin.bicep"]) {
      const module = modules.find((text) => text.includes(`'${path}'`));
      assert.ok(module, path);
      assert.match(module, /= if \(consoleSignIn\)/, `${path} is conditional`);
    }
    const parameters = JSON.parse(readText("infra/main.parameters.json")) as { parameters: Record<string, { value: string }> };
    assert.equal(parameters.parameters.consoleAdminPrincipalId?.value, "${AZURE_PRINCIPAL_ID}");
  });
});
