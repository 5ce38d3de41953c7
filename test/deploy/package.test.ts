// Stages the deployment package as azd's prepackage hook does and checks what ships: compiled code and production dependencies only.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { consoleAssetNames } from "../../src/console/consoleAssets";
import { compiledCodePaths, packageAssets, productionDependencyPaths, stageDeploymentPackage, type StagedPackage } from "../../tools/deploy/stagePackage";

const repoRoot = path.resolve(__dirname, "../../..");
const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { main: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
// This test measured 20.2 MB in 3,550 files (docs/deploy.md, "What ships"); node_modules with development dependencies is over 350 MB.
const packageBudgetBytes = 40 * 1024 * 1024;
const packageBudgetFiles = 6_000;

let workDir: string;
let stagedDir: string;
let staged: StagedPackage;

before(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), "entra-sync-package-"));
  stagedDir = path.join(workDir, ".deploy");
  staged = stageDeploymentPackage({ repoRoot, outDir: stagedDir });
});

after(() => fs.rmSync(workDir, { recursive: true, force: true }));

/** The name in each package.json directly under node_modules (scoped ones one level deeper). */
function installedPackageNames(nodeModules: string): string[] {
  return fs.readdirSync(nodeModules).flatMap((entry) => {
    if (entry.startsWith(".")) return [];
    if (entry.startsWith("@")) return fs.readdirSync(path.join(nodeModules, entry)).map((scoped) => `${entry}/${scoped}`);
    return [entry];
  });
}

function nonTypeScriptFiles(directory: string): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const fullPath = path.join(directory, entry.name);
    if (entry.isDirectory()) return nonTypeScriptFiles(fullPath);
    return entry.name.endsWith(".ts") ? [] : [path.relative(repoRoot, fullPath).split(path.sep).join("/")];
  });
}

describe("deployment package", () => {
  test("holds host.json, a package.json without scripts or devDependencies, and the compiled code of every source", () => {
    assert.ok(staged.files.includes("host.json"));
    const shipped = JSON.parse(fs.readFileSync(path.join(stagedDir, "package.json"), "utf8")) as Record<string, unknown>;
    assert.equal(shipped["main"], packageJson.main);
    assert.deepEqual(shipped["dependencies"], packageJson.dependencies);
    assert.ok(!("devDependencies" in shipped) && !("scripts" in shipped), "scripts and devDependencies stay behind");
    const compiled = compiledCodePaths(repoRoot).map((file) => file.split(path.sep).join("/"));
    assert.ok(compiled.some((file) => file.startsWith("dist/functions/")) && compiled.some((file) => file.startsWith("dist/src/")));
    const missing = compiled.filter((file) => !staged.files.includes(file));
    assert.deepEqual(missing, [], "compiled files missing from the package");
    // The host finds functions through "main"; every file it matches must be there.
    const functionFiles = fs.readdirSync(path.join(repoRoot, "functions")).filter((file) => file.endsWith(".ts")).map((file) => `dist/functions/${file.replace(/\.ts$/, ".js")}`);
    assert.deepEqual(staged.files.filter((file) => /^dist\/functions\/[^/]+\.js$/.test(file)), functionFiles.sort());
  });

  test("ships the admin console's page, stylesheet and every browser module the page serves", () => {
    for (const file of ["console/static/index.html", "console/static/console.css", ...consoleAssetNames.filter((name) => name.endsWith(".js")).map((name) => `dist/console/${name}`)]) assert.ok(staged.files.includes(file), file);
  });

  test("holds no tests, stand-ins, benchmarks, tooling, TypeScript, source maps or local settings", () => {
    const declaredAsset = (file: string) => packageAssets.some((asset) => file.startsWith(`${asset.target}/`));
    const outside = staged.files.filter((file) => !file.startsWith("node_modules/") && !["host.json", "package.json", ".funcignore"].includes(file) && !/^dist\/(src|functions)\//.test(file) && !declaredAsset(file));
    assert.deepEqual(outside, [], "files outside the compiled app");
    const forbidden = staged.files.filter((file) => /(^|\/)local\.settings\.json$|\.(ts|mts|cts|map)$/.test(file));
    assert.deepEqual(forbidden.slice(0, 10), [], "TypeScript, source maps or local settings in the package");
  });

  test("node_modules holds exactly the lockfile's production dependencies, none of the development ones", () => {
    const expected = productionDependencyPaths(repoRoot).filter((dependency) => !dependency.path.includes("/node_modules/", "node_modules/".length)).map((dependency) => dependency.path.slice("node_modules/".length));
    assert.deepEqual(installedPackageNames(path.join(stagedDir, "node_modules")).sort(), expected.sort());
    for (const name of Object.keys(packageJson.dependencies)) assert.ok(fs.existsSync(path.join(stagedDir, "node_modules", name, "package.json")), `${name} is missing`);
    for (const name of Object.keys(packageJson.devDependencies)) assert.ok(!fs.existsSync(path.join(stagedDir, "node_modules", name)), `development dependency ${name} ships`);
    for (const name of ["azurite", "typescript", "@azure/arm-appservice"]) assert.ok(name in packageJson.devDependencies, `${name} is expected to be a development dependency`);
  });

  test("stays small: what ships is measured against a budget", (t) => {
    const megabytes = staged.bytes / 1024 / 1024;
    t.diagnostic(`package: ${staged.files.length} files, ${megabytes.toFixed(1)} MB uncompressed`);
    assert.ok(staged.bytes < packageBudgetBytes, `the package is ${megabytes.toFixed(1)} MB, over the ${packageBudgetBytes / 1024 / 1024} MB budget`);
    assert.ok(staged.files.length < packageBudgetFiles, `the package has ${staged.files.length} files, over ${packageBudgetFiles}`);
  });

  test("the staged app loads and registers every function with only its own node_modules", () => {
    const names = fs.readdirSync(path.join(stagedDir, "dist/functions")).filter((file) => file.endsWith(".js"));
    // A process rooted in the package resolves modules from its node_modules only (the temporary folder has no parent node_modules).
    const load = spawnSync(process.execPath, ["-e", `for (const file of ${JSON.stringify(names)}) require("./dist/functions/" + file)`], {
      cwd: stagedDir,
      encoding: "utf8",
      env: { PATH: process.env["PATH"] ?? "" },
      timeout: 60_000,
    });
    assert.equal(load.status, 0, `loading the package failed:\n${load.stderr}`);
    const registered = [...`${load.stdout}${load.stderr}`.matchAll(/register function "([^"]+)"/g)].map((match) => match[1]);
    assert.equal(registered.length, names.length, `each function file registers one function:\n${load.stderr}`);
  });

  test("every static file the app reads is in the package: a non-TypeScript file under src/ or functions/ must be listed in packageAssets", () => {
    const assets = ["src", "functions"].flatMap((folder) => nonTypeScriptFiles(path.join(repoRoot, folder)));
    const unlisted = assets.filter((file) => !packageAssets.some((asset) => file.startsWith(`${asset.source.replace(/\/$/, "")}/`)));
    assert.deepEqual(unlisted, [], "add these to packageAssets in tools/deploy/stagePackage.ts, or tsc-only builds will leave them out of the deployed app");
    for (const asset of packageAssets) {
      const shipped = staged.files.filter((file) => file.startsWith(`${asset.target.replace(/\/$/, "")}/`));
      assert.ok(shipped.length > 0, `asset folder ${asset.source} shipped no file to ${asset.target}`);
    }
  });
});

describe("azd packaging configuration", () => {
  const azureYaml = fs.readFileSync(path.join(repoRoot, "azure.yaml"), "utf8");

  test("azure.yaml deploys .deploy/, built locally, staged by the prepackage hook, and states the minimum azd version", () => {
    assert.match(azureYaml, /^requiredVersions:\n {2}azd: ">= 1\.23\.5"$/m);
    assert.match(azureYaml, /^ {4}remoteBuild: false$/m, "remoteBuild must be explicit");
    assert.match(azureYaml, /^ {4}dist: \.deploy$/m);
    const hookRuns = [...azureYaml.matchAll(/^ {10}run: (.+)$/gm)].map((match) => match[1]);
    assert.deepEqual(hookRuns.slice(0, 2), ["node dist/tools/deploy/stagePackage.js", "node dist/tools/deploy/stagePackage.js"], "the prepackage hook stages the package on posix and windows");
    assert.match(azureYaml, /^ {4}hooks:\n {6}# .*\n {6}prepackage:\n {8}posix:\n {10}shell: sh\n {10}run: .+\n {8}windows:\n {10}shell: pwsh\n {10}run: .+$/m);
    assert.deepEqual(hookRuns.slice(2), ["node dist/tools/deploy/awaitRoleAssignments.js", "node dist/tools/deploy/awaitRoleAssignments.js"], "the predeploy hook waits for new role assignments");
    assert.ok(fs.existsSync(path.join(repoRoot, "tools/deploy/stagePackage.ts")));
  });

  test(".funcignore agrees with remoteBuild: false (node_modules ships) and excludes nothing the staging puts in", () => {
    const patterns = fs.readFileSync(path.join(repoRoot, ".funcignore"), "utf8").split(/\r?\n/).filter((line) => line.trim() !== "" && !line.startsWith("#"));
    assert.ok(!patterns.some((pattern) => /node_modules/.test(pattern)), "with remoteBuild: false the dependencies must be in the zip");
    const matches = (file: string, pattern: string): boolean => (pattern.startsWith("*.") ? file.endsWith(pattern.slice(1)) : file === pattern || file.endsWith(`/${pattern}`));
    for (const pattern of patterns) assert.match(pattern, /^(\*\.[a-z]+|[\w.-]+)$/, `${pattern}: this test models only *.ext and plain names`);
    const dropped = staged.files.filter((file) => patterns.some((pattern) => matches(file, pattern)));
    assert.deepEqual(dropped, [], "files azd would leave out of the zip, so the staged folder is not what ships");
  });
});
