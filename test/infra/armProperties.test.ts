// Every property path of every resource body under infra/ exists in the Azure management SDK model of its type, offline.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { before, describe, test } from "node:test";
import type { Node } from "web-tree-sitter";
import { armModelsByType } from "./armModels";
import { checkResourceProperties, declaredResourceTypes } from "./armPropertyCheck";
import { repoRoot } from "./bicepCli";
import { listBicepFiles, parseBicep } from "./bicepTree";

const infraDir = path.join(repoRoot, "infra");
let files: { relativePath: string; root: Node }[] = [];

async function parsed(relativePath: string, source: string): Promise<{ relativePath: string; root: Node }> {
  return { relativePath, root: await parseBicep(source) };
}

before(async () => {
  files = await Promise.all(
    listBicepFiles(infraDir).map((file) => parsed(path.relative(repoRoot, file).split(path.sep).join("/"), fs.readFileSync(file, "utf8"))),
  );
});

describe("resource property names against the ARM SDK models", () => {
  test("every property path of every resource body under infra/ exists in its type's model", () => {
    const problems = files.flatMap((file) => checkResourceProperties(file, { repoRoot })).map((problem) => `${problem.where}: ${problem.message}`);
    assert.deepEqual(problems, [], `properties ARM does not know:\n${problems.join("\n")}`);
  });

  test("the check reaches into nested objects, arrays, dictionaries and the variables they come from", async () => {
    const file = files.find((candidate) => candidate.relativePath === "infra/app/function.bicep");
    assert.ok(file);
    const source = fs.readFileSync(path.join(repoRoot, file.relativePath), "utf8");
    // Misspellings at four depths: under properties, in a nested object, inside a filter()ed variable's array, and in a flattened path.
    const planted = source
      .replace("httpsOnly: true", "httpsOnley: true")
      .replace("maximumInstanceCount: maximumInstanceCount", "maximumInstanceCnt: maximumInstanceCount")
      .replace("{ name: 'ENTRA_TENANT_ID', value: entraTenantId }", "{ name: 'ENTRA_TENANT_ID', valeu: entraTenantId }")
      .replace("userAssignedIdentityResourceId: identityId", "userAssignedIdentityResourceID: identityId");
    const problems = checkResourceProperties(await parsed(file.relativePath, planted), { repoRoot }).map((problem) => `${problem.where}: ${problem.message}`).sort();
    const lineOf = (text: string): number => planted.split("\n").findIndex((line) => line.includes(text)) + 1;
    assert.deepEqual(
      problems,
      [
        `infra/app/function.bicep:${lineOf("valeu:")}: app.properties.siteConfig.appSettings[].valeu is not a property of Site.properties.siteconfig.appsettings[]`,
        `infra/app/function.bicep:${lineOf("httpsOnley")}: app.properties.httpsOnley is not a property of Site.properties`,
        `infra/app/function.bicep:${lineOf("maximumInstanceCnt")}: app.properties.functionAppConfig.scaleAndConcurrency.maximumInstanceCnt is not a property of Site.properties.functionappconfig.scaleandconcurrency`,
      ].sort(),
      "only the three misspellings are reported; a different letter case (userAssignedIdentityResourceID) is accepted, as ARM does",
    );
  });

  test("a misspelt top-level property, a read-only property and an unmapped type are reported", async () => {
    const source = [
      "// planted",
      "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {",
      "  name: 'st'",
      "  location: 'westeurope'",
      "  kindd: 'StorageV2'",
      "  properties: {",
      "    allowSharedKeyAcess: false",
      "    provisioningState: 'Succeeded'",
      "  }",
      "}",
      "resource nope 'Microsoft.Example/widgets@2024-01-01' = {",
      "  name: 'w'",
      "}",
    ].join("\n");
    const problems = checkResourceProperties(await parsed("planted.bicep", source), { repoRoot }).map((problem) => `${problem.where}: ${problem.message}`);
    assert.deepEqual(problems, [
      "planted.bicep:5: st.kindd is not a property of Microsoft.Storage/storageAccounts (@azure/arm-storage StorageAccountCreateParameters|StorageAccount)",
      "planted.bicep:7: st.properties.allowSharedKeyAcess is not a property of StorageAccountCreateParameters|StorageAccount.properties",
      "planted.bicep:8: st.properties.provisioningState is read-only in the ARM model; setting it does nothing",
      "planted.bicep:11: no SDK model is mapped for Microsoft.Example/widgets; add it to armModelsByType in test/infra/armModels.ts",
    ]);
  });

  test("an alerts module (action group, metric alert with polymorphic criteria, diagnostic settings) passes, and a misspelt criterion in it is caught", async () => {
    const alerts = [
      "// planted",
      "param appInsightsId string",
      "resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {",
      "  name: 'ag'",
      "  location: 'global'",
      "  properties: {",
      "    groupShortName: 'sync'",
      "    enabled: true",
      "    emailReceivers: [ { name: 'admin', emailAddress: 'a@example.com', useCommonAlertSchema: true } ]",
      "  }",
      "}",
      "resource failedRuns 'Microsoft.Insights/metricAlerts@2018-03-01' = {",
      "  name: 'failed'",
      "  location: 'global'",
      "  properties: {",
      "    severity: 2",
      "    enabled: true",
      "    scopes: [appInsightsId]",
      "    evaluationFrequency: 'PT5M'",
      "    windowSize: 'PT15M'",
      "    criteria: {",
      "      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'",
      "      allOf: [ { name: 'exceptions', criterionType: 'StaticThresholdCriterion', metricName: 'exceptions/count', operator: 'GreaterThan', threshold: 0, timeAggregation: 'Count' } ]",
      "    }",
      "    actions: [ { actionGroupId: actionGroup.id } ]",
      "  }",
      "}",
      "resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {",
      "  name: 'logs'",
      "  properties: { workspaceId: 'w', logs: [ { category: 'FunctionAppLogs', enabled: true } ] }",
      "}",
    ].join("\n");
    assert.deepEqual(checkResourceProperties(await parsed("alerts.bicep", alerts), { repoRoot }), []);
    const misspelt = checkResourceProperties(await parsed("alerts.bicep", alerts.replace("threshold: 0", "thresold: 0")), { repoRoot });
    assert.deepEqual(misspelt.map((problem) => `${problem.where}: ${problem.message}`), ["alerts.bicep:23: failedRuns.properties.criteria.allOf[].thresold is not a property of MetricAlertResource.properties.criteria.allof[]"]);
  });

  test("every declared ARM type has a model, and the model's SDK is a development dependency only", () => {
    const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const sdks = new Set(Object.values(armModelsByType).flatMap((choice) => ("byName" in choice ? Object.values(choice.byName) : [choice]).map((source) => source.sdk)));
    for (const sdk of sdks) {
      assert.ok(sdk in packageJson.devDependencies, `${sdk} must be a devDependency`);
      assert.ok(!(sdk in packageJson.dependencies), `${sdk} must not ship with the app`);
    }
    const declared = files.flatMap((file) => declaredResourceTypes(file.root)).filter((resource) => !/^microsoft\.graph\//i.test(resource.fullType));
    assert.ok(declared.length >= 14, `expected the infra's resources, found ${declared.length}`);
  });
});
