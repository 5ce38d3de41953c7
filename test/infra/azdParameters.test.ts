// JSON-valued settings survive `azd env set` and azd's substitution of main.parameters.json, however hostile the value.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { loadSettings, settingNames, settingsSchema } from "../../src/config/settings";
import { repoRoot } from "./bicepCli";
import { armString, AzdParameterError, bicepParameterTypes, parametersAsAzdSendsThem, substituteLikeAzd, SubstitutionError } from "./azdSubstitution";

const parametersTemplate = fs.readFileSync(path.join(repoRoot, "infra/main.parameters.json"), "utf8");
const mainBicep = fs.readFileSync(path.join(repoRoot, "infra/main.bicep"), "utf8");
const types = bicepParameterTypes(mainBicep);
const tenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const azdBasics = { AZURE_ENV_NAME: "entra-sync-prod", AZURE_LOCATION: "westeurope" };
// What infra always sets besides the product's settings, so loadSettings sees what the deployed app sees.
const requiredAppSettings = { ENTRA_TENANT_ID: tenantId, DirectoryStorage__tableServiceUri: "https://stexample.table.core.windows.net/" };

/** Settings whose value is JSON, found from the schema itself: text that is not JSON fails with a message about JSON. */
const jsonValuedSettings = settingNames.filter((name) => {
  const field = (settingsSchema.shape as Record<string, { safeParse(value: unknown): { success: boolean; error?: { issues: { message: string }[] } } }>)[name];
  const result = field?.safeParse("{not json");
  return result !== undefined && !result.success && /JSON/.test(result.error?.issues[0]?.message ?? "");
});

/** The main.bicep parameter main.parameters.json fills from `${NAME}`. */
function parameterFedBy(settingName: string): string | undefined {
  const parameters = (JSON.parse(parametersTemplate) as { parameters: Record<string, { value?: unknown }> }).parameters;
  return Object.entries(parameters).find(([, parameter]) => typeof parameter.value === "string" && new RegExp(`^\\$\\{${settingName}(?:[=:-][^}]*)?\\}$`).test(parameter.value))?.[0];
}

// Quotes, backslashes, `${...}` and `$$` that must not be substituted, Unicode beyond the BMP, right-to-left text, a line separator, and pretty-printing with CRLF and tabs.
const hostileRoleMapping = [
  "{",
  '\t"2a9e6c3b-1111-4222-8333-444455556666": ["Say \\"hi\\"", "C:\\\\Admins\\\\", "${AZURE_ENV_NAME}", "$$ cost"],',
  '\t"2A9E6C3B-2222-4222-8333-444455556666": "Zoë – 管理者 – 🛡️ – مدير\u2028two",',
  '\t"2a9e6c3b-3333-4222-8333-444455556666": "\\u0041\\u00e9\\ud83d\\ude00 escaped"',
  "}",
].join("\r\n");
const hostileSyncTenants = `[\n  {\n    "tenantId": "0b2c7a1e-5555-4666-8777-888899990000",\n    "credentialMode": "federated\\u0043redential",\n    "clientId": "1c3d8b2f-6666-4777-8888-999900001111"\n  },\n\t{ "tenantId" : "9e8d7c6b-7777-4888-9999-000011112222" }\n]`;
const hostileValues: Record<string, string> = { ROLE_MAPPING: hostileRoleMapping, SYNC_TENANTS: hostileSyncTenants };

describe("azd substitution of main.parameters.json", () => {
  test("the reproduction behaves as drone/envsubst: raw insertion, no rescan, defaults on empty, $$ and \\\\ in the template", () => {
    assert.equal(substituteLikeAzd('"${A}"', (name) => ({ A: '${B}"' })[name]).text, '"${B}""');
    assert.deepEqual(substituteLikeAzd("${A=x y}|${B:-z}|${C}", () => undefined), { text: "x y|z|", usedUnsetVariable: true });
    assert.deepEqual(substituteLikeAzd("${A=fallback}", (name) => ({ A: "set" })[name]), { text: "set", usedUnsetVariable: false });
    assert.equal(substituteLikeAzd("$$schema \\\\ \\/ \\n $schema", () => undefined).text, "$schema \\ / \\n $schema");
    assert.throws(() => substituteLikeAzd("${A", () => undefined), SubstitutionError);
    assert.throws(() => substituteLikeAzd("${A/x/y}", () => undefined), SubstitutionError);
  });

  test("the JSON-valued settings are found from the schema, and the hostile values are ones the app accepts", () => {
    assert.deepEqual([...jsonValuedSettings].sort(), ["ROLE_MAPPING", "SYNC_TENANTS"]);
    for (const [name, value] of Object.entries(hostileValues)) {
      assert.doesNotThrow(() => loadSettings({ ...requiredAppSettings, [name]: value }), `the hostile ${name} must be a value the app accepts`);
    }
  });

  test("every JSON-valued setting reaches Bicep as an array or object parameter, the kind azd parses as JSON", () => {
    for (const name of jsonValuedSettings) {
      const parameter = parameterFedBy(name);
      assert.ok(parameter, `main.parameters.json passes no parameter from \${${name}}`);
      assert.ok(types[parameter] === "array" || types[parameter] === "object", `${parameter} is ${types[parameter]}; a JSON value in a string parameter breaks azd provision`);
      assert.match(mainBicep, new RegExp(`^var ${parameter}Setting = empty\\(${parameter}\\) \\? '' : string\\(${parameter}\\)$`, "m"), `main.bicep must turn ${parameter} back into the JSON text ${name} takes`);
      assert.match(mainBicep, new RegExp(`^    ${parameter}: ${parameter}Setting$`, "m"), `the function module must receive ${parameter}Setting`);
    }
  });

  test("the same JSON in a string parameter, as infra had it, stops azd provision: the failure this prevents", () => {
    const asStrings = { ...types, syncTenants: "string" as const, roleMapping: "string" as const };
    for (const name of jsonValuedSettings) {
      assert.throws(() => parametersAsAzdSendsThem(parametersTemplate, { types: asStrings, environment: { ...azdBasics, [name]: hostileValues[name]! } }), AzdParameterError);
    }
  });

  test("hostile values set with azd env set reach the app's settings parser unchanged", () => {
    const parameters = parametersAsAzdSendsThem(parametersTemplate, { types, environment: { ...azdBasics, ...hostileValues } });
    const appSettings: Record<string, string> = { ...requiredAppSettings };
    for (const name of jsonValuedSettings) {
      const sent = parameters[parameterFedBy(name)!];
      assert.deepEqual(sent, JSON.parse(hostileValues[name]!), `${name} changed on its way through azd`);
      appSettings[name] = armString(sent);
    }
    const direct = loadSettings({ ...requiredAppSettings, ...hostileValues });
    const throughAzd = loadSettings(appSettings);
    assert.deepEqual(throughAzd.roleMapping, direct.roleMapping);
    assert.deepEqual(throughAzd.tenants, direct.tenants);
    assert.deepEqual(throughAzd.roleMapping.get("2a9e6c3b-1111-4222-8333-444455556666"), ["$$ cost", "${AZURE_ENV_NAME}", "C:\\Admins\\", 'Say "hi"'].sort());
    assert.deepEqual(throughAzd.roleMapping.get("2a9e6c3b-2222-4222-8333-444455556666"), ["Zoë – 管理者 – 🛡️ – مدير\u2028two"]);
  });

  test("a value that is not JSON stops azd provision with a message naming the parameter, before anything deploys", () => {
    assert.throws(
      () => parametersAsAzdSendsThem(parametersTemplate, { types, environment: { ...azdBasics, ROLE_MAPPING: '{"2a9e6c3b-1111-4222-8333-444455556666": Admin}' } }),
      (error: Error) => error instanceof AzdParameterError && /parameter 'roleMapping' \(object\).*is not valid JSON/.test(error.message),
    );
    // An empty value is not JSON either; docs/deploy.md says to clear a setting with {} or [].
    assert.throws(() => parametersAsAzdSendsThem(parametersTemplate, { types, environment: { ...azdBasics, SYNC_TENANTS: "" } }), AzdParameterError);
    const cleared = parametersAsAzdSendsThem(parametersTemplate, { types, environment: { ...azdBasics, SYNC_TENANTS: "[]", ROLE_MAPPING: "{}" } });
    assert.deepEqual([cleared["syncTenants"], cleared["roleMapping"]], [[], {}]);
  });

  test("with nothing set, unset settings are left out so main.bicep's defaults apply, and the defaults written in the file are sent", () => {
    const parameters = parametersAsAzdSendsThem(parametersTemplate, { types, environment: azdBasics });
    assert.equal(parameters["environmentName"], "entra-sync-prod");
    assert.equal(parameters["nodeVersion"], "22");
    for (const name of [...jsonValuedSettings, "ENTRA_TENANT_ID", "SCOPE_GROUPS"]) {
      const parameter = parameterFedBy(name);
      assert.ok(parameter && !(parameter in parameters), `${parameter} should be left out when ${name} is unset`);
    }
    assert.match(mainBicep, /^param syncTenants array = \[\]$/m);
    assert.match(mainBicep, /^param roleMapping object = \{\}$/m);
  });
});
