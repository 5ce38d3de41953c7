// The reader as an application installs it: the package entry resolves, its types are emitted, and it loads nothing of the engine.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";

const root = resolve(__dirname, "../../..");

test("`entra-table-sync/reader` resolves through package.json exports and loads only the SDKs and its own modules", () => {
  const script = `
    const reader = require("entra-table-sync/reader");
    if (typeof reader.DirectoryReader !== "function") throw new Error("no DirectoryReader export");
    console.log(JSON.stringify(Object.keys(require.cache)));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8" })) as string[];
  const ours = loaded.filter((path) => !path.includes("node_modules")).map((path) => path.slice(root.length + 1).split("\\").join("/"));
  assert.deepEqual(
    ours.filter((path) => !/^dist\/src\/(reader\/|common\/objectId\.js$|store\/(tableKeys|tableNames|userLookupKeys|storeSchema|changeCursor|memberGroups)\.js$)/.test(path)),
    [],
    "only the reader and the pure key modules it shares with the sync (and the GUID check below them)",
  );
  const packages = new Set(loaded.filter((path) => path.includes("node_modules")).map((path) => path.split(/node_modules[\\/]/).pop()!.split(/[\\/]/).slice(0, 2).join("/")));
  for (const forbidden of ["@azure/functions", "@microsoft/microsoft-graph-client", "@azure/storage-queue", "@azure/keyvault-secrets", "zod", "azurite"]) {
    assert.ok(![...packages].some((name) => name.startsWith(forbidden)), `${forbidden} is not loaded`);
  }
});

test("the published types are emitted where package.json points, and name no engine module", () => {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, { types: string; default: string }>; scripts: Record<string, string> };
  assert.equal(manifest.exports["./reader"]?.types, "./dist/src/reader/index.d.ts");
  for (const script of ["build", "prepare", "test"]) assert.match(manifest.scripts[script] ?? "", /tsc -p tsconfig\.reader\.json/, `npm run ${script} emits the reader's types`);
  const out = mkdtempSync(join(tmpdir(), "reader-types-"));
  try {
    execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.reader.json"), "--outDir", out], { cwd: root, stdio: "pipe" });
    const index = readFileSync(join(out, "src/reader/index.d.ts"), "utf8");
    for (const name of ["DirectoryReader", "DirectoryUser", "GroupMember", "InvalidReaderInputError", "StoreSchemaError", "Page"]) assert.match(index, new RegExp(`\\b${name}\\b`));
    const emitted = readdirSync(out, { recursive: true }).map(String).filter((path) => path.endsWith(".d.ts")).map((path) => path.split("\\").join("/")).sort();
    assert.deepEqual(emitted.filter((path) => !/^src\/(reader\/|store\/|common\/objectId\.d\.ts$)/.test(path)), [], "declarations stay within the reader and the store's key modules");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
