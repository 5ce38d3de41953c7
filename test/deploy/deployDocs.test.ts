// docs/deploy.md documents every setting azd can set, gives PowerShell next to every bash command, and states the azd version azure.yaml requires.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";

const repoRoot = path.resolve(__dirname, "../../..");
const deployDoc = fs.readFileSync(path.join(repoRoot, "docs/deploy.md"), "utf8");
const parametersTemplate = fs.readFileSync(path.join(repoRoot, "infra/main.parameters.json"), "utf8");

describe("docs/deploy.md", () => {
  test("every azd variable main.parameters.json reads has a row in the settings tables", () => {
    const variables = [...new Set([...parametersTemplate.matchAll(/\$\{([A-Z0-9_]+)/g)].map((match) => match[1]!))];
    assert.ok(variables.length > 20, `found only ${variables.length} azd variables`);
    const undocumented = variables.filter((name) => !new RegExp(`^\\| \`${name}\`( |,)`, "m").test(deployDoc));
    assert.deepEqual(undocumented, [], "add a row for each to 'Settings you can set with azd'");
  });

  test("every bash block is followed by the same commands for PowerShell", () => {
    const blocks = [...deployDoc.matchAll(/^```(\w*)\n/gm)].map((match) => match[1]).filter((_, index) => index % 2 === 0);
    const bashBlocks = blocks.filter((language) => language === "bash").length;
    assert.ok(bashBlocks >= 15, `expected the guide's commands, found ${bashBlocks} bash blocks`);
    blocks.forEach((language, index) => {
      if (language === "bash") assert.equal(blocks[index + 1], "powershell", `bash block ${index + 1} of ${blocks.length} has no PowerShell block after it`);
    });
  });

  test("states the azd version azure.yaml requires, and the Flex Consumption regions with the commands that list them", () => {
    const required = /azd: ">= ([0-9.]+)"/.exec(fs.readFileSync(path.join(repoRoot, "azure.yaml"), "utf8"))?.[1];
    assert.ok(required && deployDoc.includes(`**${required} or later**`), `docs must state azd ${required} or later`);
    assert.match(deployDoc, /az functionapp list-flexconsumption-locations/);
    assert.match(deployDoc, /Get-AzFunctionAppAvailableLocation -PlanType FlexConsumption/);
    for (const region of ["westeurope", "northeurope", "eastus", "australiaeast"]) assert.ok(deployDoc.includes(`\`${region}\``), region);
  });
});
