// JSON-valued settings survive `azd env set` and azd's substitution of main.parameters.json byte for byte, however hostile the value.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { loadSettings, settingNames, settingsSchema } from "../../src/config/settings";
import { repoRoot } from "./bicepCli";
import { armBase64ToString, encodeForAzd, parametersAsAzdSendsThem, substituteLikeAzd, SubstitutionError } from "./azdSubstitution";

const parametersTemplate = fs.readFileSync(path.join(repoRoot, "infra/main.parameters.json"), "utf8");
const mainBicep = fs.readFileSync(path.join(repoRoot, "infra/main.bicep"), "utf8");
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

const camelCase = (settingName: string): string => settingName.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());

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
    assert.equal(substituteLikeAzd('"${A}"', (name) => ({ A: '${B}"' })[name]), '"${B}""');
    assert.equal(substituteLikeAzd("${A=x y}|${B:-z}|${C}", () => undefined), "x y|z|");
    assert.equal(substituteLikeAzd("${A=fallback}", (name) => ({ A: "set" })[name]), "set");
    assert.equal(substituteLikeAzd("$$schema \\\\ \\/ \\n $schema", () => undefined), "$schema \\ / \\n $schema");
    assert.throws(() => substituteLikeAzd("${A", () => undefined), SubstitutionError);
    assert.throws(() => substituteLikeAzd("${A/x/y}", () => undefined), SubstitutionError);
  });

  test("the JSON-valued settings are found from the schema", () => {
    assert.deepEqual([...jsonValuedSettings].sort(), ["ROLE_MAPPING", "SYNC_TENANTS"]);
    for (const [name, value] of Object.entries(hostileValues)) {
      assert.ok(jsonValuedSettings.includes(name));
      assert.doesNotThrow(() => loadSettings({ ...requiredAppSettings, [name]: value }), `the hostile ${name} must be a value the app accepts`);
    }
  });

  test("a JSON value put straight into main.parameters.json breaks the provision, which is why none is", () => {
    const naive = '{ "parameters": { "roleMapping": { "value": "${ROLE_MAPPING}" } } }';
    assert.throws(() => parametersAsAzdSendsThem(naive, { ROLE_MAPPING: '{"2a9e6c3b-1111-4222-8333-444455556666":"Admin"}' }), SyntaxError);
    for (const name of jsonValuedSettings) {
      assert.doesNotMatch(parametersTemplate, new RegExp(`\\$\\{${name}[}=:-]`), `main.parameters.json substitutes ${name} as raw text; pass ${name}_BASE64 instead`);
    }
  });

  test("every JSON-valued setting is passed base64-encoded and decoded once in main.bicep into the app setting", () => {
    for (const name of jsonValuedSettings) {
      const parameter = `${camelCase(name)}Base64`;
      assert.match(parametersTemplate, new RegExp(`"${parameter}": \\{\\s*"value": "\\$\\{${name}_BASE64\\}"`), `main.parameters.json must pass ${parameter} from \${${name}_BASE64}`);
      assert.match(mainBicep, new RegExp(`^param ${parameter} string = ''$`, "m"));
      const decoded = `${camelCase(name)}Json`;
      assert.match(mainBicep, new RegExp(`^var ${decoded} = empty\\(${parameter}\\) \\? ${camelCase(name)} : base64ToString\\(${parameter}\\)$`, "m"));
      assert.match(mainBicep, new RegExp(`^    ${camelCase(name)}: ${decoded}$`, "m"), `the function module must receive ${decoded}`);
    }
  });

  test("hostile values set with azd env set reach the app's settings parser byte for byte", () => {
    const environment: Record<string, string> = { ...azdBasics };
    for (const name of jsonValuedSettings) environment[`${name}_BASE64`] = encodeForAzd(hostileValues[name]!);
    const parameters = parametersAsAzdSendsThem(parametersTemplate, environment);
    const appSettings: Record<string, string> = { ...requiredAppSettings };
    for (const name of jsonValuedSettings) {
      const received = armBase64ToString(String(parameters[`${camelCase(name)}Base64`]));
      assert.equal(received, hostileValues[name], `${name} changed on its way through azd`);
      appSettings[name] = received;
    }
    const direct = loadSettings({ ...requiredAppSettings, ...hostileValues });
    const throughAzd = loadSettings(appSettings);
    assert.deepEqual(throughAzd.roleMapping, direct.roleMapping);
    assert.deepEqual(throughAzd.tenants, direct.tenants);
    assert.deepEqual(throughAzd.roleMapping.get("2a9e6c3b-1111-4222-8333-444455556666"), ["$$ cost", "${AZURE_ENV_NAME}", "C:\\Admins\\", 'Say "hi"'].sort());
  });

  test("with nothing set, the substituted file parses and every parameter gets main.bicep's default or azd's value", () => {
    const parameters = parametersAsAzdSendsThem(parametersTemplate, azdBasics);
    assert.equal(parameters["environmentName"], "entra-sync-prod");
    assert.equal(parameters["nodeVersion"], "22");
    for (const name of jsonValuedSettings) assert.equal(parameters[`${camelCase(name)}Base64`], "");
  });
});
