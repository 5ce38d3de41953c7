// Compiles and lints every .bicep under infra/ with the real, pinned Bicep CLI: any error or unjustified warning fails.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import {
  compilableInfraCopy,
  findBicepCli,
  parseDiagnostics,
  repoRoot,
  runBicep,
  usesRegistryExtension,
  type BicepCliLookup,
  type BicepDiagnostic,
  type CompilableCopy,
} from "./bicepCli";
import { listBicepFiles } from "./bicepTree";

const infraDir = path.join(repoRoot, "infra");
// CI must compile for real; on a developer machine without the .NET SDK the tests say why they did not run.
const compilerRequired = Boolean(process.env["CI"]);

let cli: BicepCliLookup;
let copy: CompilableCopy;
let buildOutput = "";
let lintOutput = "";

function compilerOrSkip(t: TestContext): string | undefined {
  if (cli.found) return cli.path;
  if (compilerRequired) assert.fail(cli.reason);
  t.skip(cli.reason.split("\n")[0]);
  return undefined;
}

function describeDiagnostic(diagnostic: BicepDiagnostic): string {
  return `${path.relative(copy.directory, diagnostic.file).split(path.sep).join("/")}:${diagnostic.line}:${diagnostic.column} ${diagnostic.level} ${diagnostic.code}: ${diagnostic.message}`;
}

/** Errors and warnings, except a stub's own unused-parameter warnings (the stub keeps parameters it does not use). */
function reportedProblems(output: string): string[] {
  const stubs = new Set(copy.stubbed.map((relativePath) => path.join(copy.directory, relativePath)));
  return parseDiagnostics(output)
    .filter((diagnostic) => diagnostic.level !== "Info")
    .filter((diagnostic) => !(stubs.has(path.resolve(copy.directory, diagnostic.file)) && diagnostic.level === "Warning" && diagnostic.code === "no-unused-params"))
    .map(describeDiagnostic);
}

before(async () => {
  cli = findBicepCli();
  copy = await compilableInfraCopy(infraDir);
  if (!cli.found) return;
  // One run each over every file: build writes a .json beside each file of the temporary copy, lint only reports.
  const build = runBicep(cli.path, ["build", "--pattern", "**/*.bicep"], copy.directory);
  const lint = runBicep(cli.path, ["lint", "--pattern", "**/*.bicep"], copy.directory);
  buildOutput = `exit ${build.status}\n${build.output}`;
  lintOutput = `exit ${lint.status}\n${lint.output}`;
});

after(() => copy?.remove());

describe("Bicep compiler", () => {
  test("the pinned Bicep CLI is restored from NuGet and runs", (t) => {
    const binary = compilerOrSkip(t);
    if (!binary) return;
    const version = runBicep(binary, ["--version"], repoRoot);
    assert.match(version.output, new RegExp(`Bicep CLI version ${cli.version.replace(/\./g, "\\.")} `), version.output);
  });

  test("every .bicep under infra/ builds with no error and no warning", (t) => {
    if (!compilerOrSkip(t)) return;
    assert.deepEqual(reportedProblems(buildOutput), [], `bicep build reported:\n${buildOutput}`);
    assert.match(buildOutput, /^exit 0\n/, buildOutput);
    for (const file of listBicepFiles(copy.directory)) {
      assert.ok(fs.existsSync(file.replace(/\.bicep$/, ".json")), `${path.relative(copy.directory, file)} produced no ARM template`);
    }
  });

  test("every .bicep under infra/ lints clean with the recommended rules (a warning is allowed only where it is disabled with a reason)", (t) => {
    if (!compilerOrSkip(t)) return;
    assert.deepEqual(reportedProblems(lintOutput), [], `bicep lint reported:\n${lintOutput}`);
    assert.match(lintOutput, /^exit 0\n/, lintOutput);
  });

  test("only modules that need a registry extension are stubbed, and main.bicep compiles against their real interface", (t) => {
    const expected = listBicepFiles(infraDir)
      .filter((file) => usesRegistryExtension(fs.readFileSync(file, "utf8")))
      .map((file) => path.relative(infraDir, file).split(path.sep).join("/"));
    assert.deepEqual(copy.stubbed.sort(), expected.sort());
    assert.ok(copy.stubbed.includes("app/graph-permissions.bicep"), "the Microsoft Graph module is expected to need the extension");
    if (!compilerOrSkip(t)) return;
    const template = JSON.parse(fs.readFileSync(path.join(copy.directory, "main.json"), "utf8")) as { parameters: Record<string, { type?: string; defaultValue?: unknown }> };
    assert.equal(template.parameters["nodeVersion"]?.defaultValue, "22", "the Functions runtime defaults to Node.js 22");
    // azd reads parameter types from the compiled template: only array and object parameters get their value parsed as JSON.
    assert.deepEqual([template.parameters["syncTenants"]?.type, template.parameters["roleMapping"]?.type], ["array", "object"]);
  });

  test("a planted mistake fails the build: a misspelt property is reported with its file and line", async (t) => {
    const binary = compilerOrSkip(t);
    if (!binary) return;
    const planted = await compilableInfraCopy(infraDir);
    try {
      const storagePath = path.join(planted.directory, "app/storage.bicep");
      const source = fs.readFileSync(storagePath, "utf8");
      fs.writeFileSync(storagePath, source.replace("allowSharedKeyAccess: false", "allowSharedKeyAcess: false"));
      const build = runBicep(binary, ["build", "app/storage.bicep", "--stdout"], planted.directory);
      const problems = parseDiagnostics(build.output).filter((diagnostic) => diagnostic.level !== "Info");
      const line = source.split("\n").findIndex((text) => text.includes("allowSharedKeyAccess")) + 1;
      assert.ok(
        problems.some((diagnostic) => diagnostic.line === line && /allowSharedKeyAcess/.test(diagnostic.message)),
        `the typo was not reported at app/storage.bicep:${line}:\n${build.output}`,
      );
    } finally {
      planted.remove();
    }
  });
});

describe("warning justification convention", () => {
  test("every suppressed diagnostic names its rule and says why on the same line", () => {
    const unjustified: string[] = [];
    for (const file of listBicepFiles(infraDir)) {
      fs.readFileSync(file, "utf8")
        .split(/\r?\n/)
        .forEach((line, index) => {
          const suppression = /#disable-(next-line|diagnostics)\b(.*)$/.exec(line);
          if (!suppression) return;
          // `#disable-next-line rule-a BCP081 // why` : at least one rule, then a reason of a few words.
          const justified = /^\s+[A-Za-z0-9-]+(\s+[A-Za-z0-9-]+)*\s+\/\/\s*\S+(\s+\S+){2,}/.test(suppression[2] ?? "");
          if (!justified) unjustified.push(`${path.relative(repoRoot, file)}:${index + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(unjustified, [], "write `#disable-next-line <rule> // <why, in a few words>` (see docs/deploy.md, \"Checking the Bicep\")");
  });
});
