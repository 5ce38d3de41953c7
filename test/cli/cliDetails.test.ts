// The CLI's edges: every option in --help, demo arguments refused before anything starts, a kept demo store to try the other commands on, a missing Azurite named with the setting to use instead.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { cliOptions } from "../../src/cli/main";
import { freePort } from "../../standin/azuriteProcess";

const cli = resolve(__dirname, "../../src/cli/main.js");
const workDir = mkdtempSync(join(tmpdir(), "entra-cli-"));
after(() => rmSync(workDir, { recursive: true, force: true }));

function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...env }, cwd: workDir });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe("command line details", () => {
  test("--help names every option the CLI accepts", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    const missing = Object.keys(cliOptions).filter((name) => !help.stdout.includes(`--${name}`));
    assert.deepEqual(missing, [], `options missing from --help: ${missing.join(", ")}`);
  });

  test("bad demo arguments are refused in one line before anything starts", async () => {
    for (const [args, message] of [
      [["demo", "--users", "lots"], /^--users must be a whole number from 10 to 100000, got "lots"\.$/],
      [["demo", "--groups", "0"], /^--groups must be a whole number from 3 to 10000, got "0"\.$/],
      [["demo", "--users", "20", "--groups", "50"], /^--groups \(50\) must not exceed --users \(20\)\.$/],
      [["demo", "--full"], /^--full does not apply to demo; demo takes --users N, --groups N, --keep and --verbose\.$/],
      [["demo", "500"], /^demo takes no arguments, got "500"/],
    ] as const) {
      const result = await runCli([...args]);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr.trim(), message);
      assert.equal(result.stdout, "", "nothing started (the demo prints before it starts Azurite)");
    }
  });

  test("no local Azurite: one line saying so, naming DirectoryStorage__tableServiceUri to use instead, no stack", async () => {
    const port = await freePort();
    const connection = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    const result = await runCli(["status"], { ENTRA_TENANT_ID: "72f988bf-86f1-41af-91ab-2d7cd011db47", DirectoryStorage: connection });
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`^No Azurite \\(local Table Storage emulator\\) is running at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\), which DirectoryStorage points at\\. Start it .* or use a storage account: remove DirectoryStorage and set DirectoryStorage__tableServiceUri=`));
  });

  test("demo --keep keeps its store, says how to use it, and status, export and suggest-exclusions read it with --demo", async () => {
    const demo = await runCli(["demo", "--users", "30", "--groups", "4", "--keep"]);
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /The store is kept in .*\.entra-demo\. Try: npm run cli -- status --demo/);
    const status = await runCli(["status", "--demo", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual((JSON.parse(status.stdout) as Array<{ status: string }>).map((run) => run.status), ["succeeded", "succeeded"]);
    const exported = await runCli(["export", "--demo"]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok((JSON.parse(exported.stdout) as { users: unknown[] }).users.length >= 29);
    const suggestions = await runCli(["suggest-exclusions", "--demo"]);
    assert.equal(suggestions.code, 0, suggestions.stderr);
    assert.match(suggestions.stdout, /synced accounts look like service or system accounts/);
  });

  test("--demo without a kept store says to run demo --keep", async () => {
    const empty = mkdtempSync(join(tmpdir(), "entra-nodemo-"));
    try {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolvePromise) => {
        const child = spawn(process.execPath, [cli, "status", "--demo"], { env: { PATH: process.env.PATH }, cwd: empty });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.once("close", (code) => resolvePromise({ code, stderr }));
      });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /there is none: run entra-sync demo --keep first/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
