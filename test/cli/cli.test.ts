// The command line as an admin uses it: help, clear errors, export and status of a synced store, and the demo.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { formatRunSummary } from "../../src/cli/runReport";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { RunLeases } from "../../src/service/runLease";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

const cli = resolve(__dirname, "../../src/cli/main.js");

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // Only what the test names reaches the CLI, so settings on this machine cannot leak in.
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS, ...env }, cwd: resolve(__dirname) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 3, users: 30, groups: 6 }) });
});
after(async () => env?.stop());

describe("entra-sync command line", () => {
  test("--help lists every command", async () => {
    const result = await runCli(["--help"]);
    assert.equal(result.code, 0);
    for (const command of ["sync [--full] [--dry-run] [--allow-deletions] [--json]", "export", "status", "check", "demo"]) assert.ok(result.stdout.includes(command), command);
  });

  test("an unknown command or option is refused with exit code 2", async () => {
    const unknown = await runCli(["synk"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown command "synk"/);
    const badOption = await runCli(["sync", "--fulll"]);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /fulll/);
  });

  test("a missing setting fails with one line naming it, and no stack trace", async () => {
    const result = await runCli(["status"], { DirectoryStorage: env.azurite.connectionString });
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.match(result.stderr, /^Setting ENTRA_TENANT_ID is required/);
  });

  test("the CLI's report of a dry run shows the plan: who would be left out, and why", async () => {
    const bot = env.model.createUser({ displayName: "Chat Bot", userPrincipalName: "teams-bot@contoso.com" });
    const settings = env.settings();
    // Signing the CLI in needs the identity stand-ins (test/identity); the report it prints is formatRunSummary's.
    const run = await env.compose(env.settings({ TABLE_PREFIX: settings.tablePrefix, USER_EXCLUDE_PATTERNS: "*-bot@*" })).engine.run({ dryRun: true });
    const text = formatRunSummary(run.summary, run.plan);
    assert.match(text, /scope: {8}\d+ users left out/);
    assert.match(text, new RegExp(`plan, userExcluded: 1: ${bot.id}: userPrincipalName matches \\*-bot@\\*`));
    assert.doesNotMatch(text, /teams-bot@contoso\.com/, "a user outside the scope is named by id and rule only");
  });

  test("suggest-exclusions lists service-looking accounts with globs and excludes nobody", async () => {
    const service = env.model.createUser({ displayName: "Scanner Service", userPrincipalName: "svc-scanner@contoso.com", givenName: null, surname: null });
    const settings = env.settings();
    await env.compose(settings).engine.run({ trigger: "cli" });
    const settingsEnv = { ENTRA_TENANT_ID: settings.tenantId, DirectoryStorage: env.azurite.connectionString, TABLE_PREFIX: settings.tablePrefix };
    const text = await runCli(["suggest-exclusions"], settingsEnv);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /svc-scanner@contoso\.com .*pattern svc-\*/);
    assert.match(text.stdout, /nothing is excluded until you add patterns to USER_EXCLUDE_PATTERNS/);
    const json = JSON.parse((await runCli(["suggest-exclusions", "--json"], settingsEnv)).stdout) as { suggestions: Array<{ id: string }>; patterns: Array<{ pattern: string; wouldExclude: number }> };
    assert.ok(json.suggestions.some((suggestion) => suggestion.id === service.id));
    assert.deepEqual(json.patterns.find((pattern) => pattern.pattern === "svc-*"), { pattern: "svc-*", wouldExclude: 1 });
    const [row] = (await env.compose(settings).store.readObjects("users", [service.id])).values();
    assert.equal(row?.deleted, false, "still synced: suggestions never exclude");
  });

  test("export prints the stored directory and status the recent runs", async () => {
    const settings = env.settings();
    await env.compose(settings).engine.run({ trigger: "cli" });
    const settingsEnv = { ENTRA_TENANT_ID: settings.tenantId, DirectoryStorage: env.azurite.connectionString, TABLE_PREFIX: settings.tablePrefix };
    const exported = await runCli(["export"], settingsEnv);
    assert.equal(exported.code, 0, exported.stderr);
    const directory = JSON.parse(exported.stdout) as { users: Array<{ groups?: string }>; groups: unknown[]; members: unknown[] };
    assert.equal(directory.users.length, [...env.model.users.values()].filter((user) => !user.deleted).length);
    assert.equal(directory.groups.length, env.model.groups.size);
    assert.ok(directory.members.length > 0 && directory.users.some((user) => JSON.parse(user.groups ?? "[]").length > 0), "members, and users' groups on their records");

    const status = await runCli(["status", "--json", "--limit", "5"], settingsEnv);
    assert.equal(status.code, 0, status.stderr);
    const runs = JSON.parse(status.stdout) as Array<{ status: string; trigger: string }>;
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, "succeeded");
    const human = await runCli(["status"], settingsEnv);
    assert.match(human.stdout, /Run \S+ succeeded/);
    assert.match(human.stdout, /Graph: +\d+ requests/);
  });

  test("sync does not start while another run holds the tenant's lease, and says which (exit code 3)", async () => {
    const settings = env.settings();
    const composition = env.compose(settings);
    await composition.ensureTables();
    await new RunLeases(composition.tables.syncState, 600_000).acquire(settings.tenantId, "20260101T000000Z-c0ffee", "ticket");
    const result = await runCli(["sync"], { ENTRA_TENANT_ID: settings.tenantId, DirectoryStorage: env.azurite.connectionString, TABLE_PREFIX: settings.tablePrefix });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /run 20260101T000000Z-c0ffee is already queued .*not starting another/);
  });

  test("with several tenants, export asks which one", async () => {
    const result = await runCli(["export"], {
      ENTRA_TENANT_ID: env.standIn.tenantId,
      SYNC_TENANTS: JSON.stringify([{ tenantId: "22222222-3333-4444-5555-666666666666" }]),
      DirectoryStorage: env.azurite.connectionString,
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^Several tenants are configured; pass --tenant with one of: /);
  });

  test("demo runs a full and an incremental sync with nothing configured", async () => {
    const result = await runCli(["demo", "--users", "40", "--groups", "6"], { NODE_EXTRA_CA_CERTS: undefined });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /1\. Full sync of a sample tenant: 40 users, 6 groups/);
    assert.match(result.stdout, /3\. Incremental sync/);
    assert.equal(result.stdout.match(/^Run \S+ succeeded/gm)?.length, 2);
    assert.match(result.stdout, /users: +1 created, 1 updated, 1 soft-deleted, 0 restored, 1 deleted/);
  });
});
