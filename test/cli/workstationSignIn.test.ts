// The CLI on a workstation reads Graph as the admin signed in to the Azure CLI (a fake `az` on PATH prints the token) or by device code (the stand-in's device authorization grant), refuses another tenant's account, and check's advice fits a workstation.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort } from "../../standin/azuriteProcess";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

const cli = resolve(__dirname, "../../src/cli/main.js");
/** The Azure CLI's own client id: what an `az account get-access-token` token names as its app. */
const azureCliAppId = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

let env: TestEnvironment;
let fakeAzDir: string;

before(async () => {
  // MSAL waits the answered interval after each authorization_pending; Entra's 5 s would only slow the device-code tests.
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 31, users: 15, groups: 4 }), standIn: { deviceCodeIntervalSeconds: 1 } });
  fakeAzDir = mkdtempSync(join(tmpdir(), "fake-az-"));
  // Like the real `az account get-access-token --output json`: the token JSON on stdout; the arguments are logged for the test.
  writeFileSync(join(fakeAzDir, "az"), `#!/bin/sh\necho "$@" >> "${fakeAzDir}/calls.log"\ncat "${fakeAzDir}/token.json"\n`);
  chmodSync(join(fakeAzDir, "az"), 0o755);
});
after(async () => {
  rmSync(fakeAzDir, { recursive: true, force: true });
  await env?.stop();
});

/** What `az account get-access-token` prints for an admin of this tenant: a delegated token for the resource. */
function signInAs(tenantId: string, resource: string = env.standIn.url): void {
  const token = env.standIn.issueAccessToken({ appId: azureCliAppId, objectId: randomUUID(), tenantId, delegated: { scp: "Directory.AccessAsUser.All User.Read.All", upn: "admin@contoso.com" } }, resource);
  const expiresOn = Math.floor(Date.now() / 1000) + 3600;
  writeFileSync(join(fakeAzDir, "token.json"), JSON.stringify({ accessToken: token, expiresOn: new Date(expiresOn * 1000).toISOString(), expires_on: expiresOn, tenant: tenantId, tokenType: "Bearer" }));
  writeFileSync(join(fakeAzDir, "calls.log"), "");
}

function runCli(args: string[], settings: Record<string, string>, options: { az?: boolean; onStderr?: (stderr: string) => void } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const path = options.az === false ? "/usr/bin:/bin" : `${fakeAzDir}:/usr/bin:/bin`;
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: path, NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS, ...settings }, cwd: __dirname });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr);
    });
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The default deployment's settings (managedIdentity), as an admin has them on a workstation. */
function deployedSettings(extra: Record<string, string> = {}): Record<string, string> {
  const settings = env.settings();
  return { ENTRA_TENANT_ID: settings.tenantId, GRAPH_ENDPOINT: settings.graphEndpoint, AUTHORITY_HOST: settings.authorityHost, DirectoryStorage: env.azurite.connectionString, TABLE_PREFIX: settings.tablePrefix, ...extra };
}

describe("sign-in from a workstation", () => {
  test("in managedIdentity mode, sync reads Graph as the Azure CLI's account for the configured tenant, and says so", async () => {
    signInAs(env.standIn.tenantId);
    const settings = deployedSettings();
    const result = await runCli(["sync", "--full"], settings);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Reading Microsoft Graph as the account signed in to the Azure CLI \(az login --tenant \S+\), with its delegated permissions/);
    assert.match(result.stdout, /Run \S+ succeeded/);
    const calls = readFileSync(join(fakeAzDir, "calls.log"), "utf8");
    assert.match(calls, new RegExp(`account get-access-token --output json --resource ${env.standIn.url} --tenant ${env.standIn.tenantId}`));
    const exported = JSON.parse((await runCli(["export"], settings)).stdout) as { users: unknown[] };
    assert.equal(exported.users.length, [...env.model.users.values()].filter((user) => !user.deleted).length);
  });

  test("a dry run's JSON names everyone it would create, with names, while the text keeps the first ten", async () => {
    signInAs(env.standIn.tenantId);
    const settings = deployedSettings();
    const json = await runCli(["sync", "--dry-run", "--json"], settings);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as { dryRun: boolean; plan: Record<string, { count: number; sample: unknown[] }>; planned: Record<string, Array<{ id: string; name?: string }>> };
    const active = [...env.model.users.values()].filter((user) => !user.deleted);
    assert.ok(active.length > 10, "more users than the sample holds");
    assert.equal(report.plan.userCreated!.count, active.length);
    assert.equal(report.plan.userCreated!.sample.length, 10);
    assert.deepEqual(report.planned.userCreated!.map((entry) => entry.id), active.map((user) => user.id).sort());
    assert.ok(report.planned.userCreated!.every((entry) => entry.name !== undefined), "each with its name");
    const text = await runCli(["sync", "--dry-run"], settings);
    assert.match(text.stdout, new RegExp(`plan, userCreated: ${active.length} \\(first 10; sync --dry-run --json lists every one\\)`));
  });

  test("an Azure CLI signed in to another tenant is refused before any read, with az login --tenant", async () => {
    const other = "0d000000-0000-4000-8000-0000000000d0";
    signInAs(other);
    const before = env.standIn.graphRequestCount();
    const result = await runCli(["sync"], deployedSettings());
    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`token is for tenant ${other}, but this run is for tenant ${env.standIn.tenantId}.*The Azure CLI is signed in to tenant ${other}: run az login --tenant ${env.standIn.tenantId}`));
    assert.equal(env.standIn.graphRequestCount(), before);
  });

  test("check run locally signs in as the admin, checks the tenant, and does not blame the managed identity", async () => {
    signInAs(env.standIn.tenantId);
    const signedIn = await runCli(["check"], deployedSettings());
    assert.equal(signedIn.code, 0, signedIn.stdout);
    assert.match(signedIn.stdout, /PASS graphToken: Got a Microsoft Graph token as admin@contoso\.com \(the Azure CLI's account, delegated permissions: Directory\.AccessAsUser\.All User\.Read\.All\)/);
    assert.match(signedIn.stdout, /PASS tenant: /);
    assert.match(signedIn.stdout, /PASS graphUsers: /);
    const noCli = await runCli(["check"], deployedSettings(), { az: false });
    assert.equal(noCli.code, 1);
    assert.match(noCli.stdout, new RegExp(`FAIL graphToken: .*Fix: Sign in to the directory's tenant: az login --tenant ${env.standIn.tenantId}`));
    const deployedMode = await runCli(["check", "--sign-in", "app"], deployedSettings());
    assert.match(deployedMode.stdout, /FAIL graphToken: .*managed identity.*exists only in Azure.*--sign-in cli/);
    assert.doesNotMatch(deployedMode.stdout, /Check that the Function App has the managed identity/);
  });

  test("the CLI gives up on an unreachable Graph endpoint within 30 seconds, in one line", async () => {
    const port = await freePort();
    signInAs(env.standIn.tenantId, `https://127.0.0.1:${port}`);
    const result = await runCli(["sync"], deployedSettings({ GRAPH_ENDPOINT: `https://127.0.0.1:${port}` }));
    assert.equal(result.code, 1);
    assert.ok(result.ms < 30_000, `took ${result.ms} ms`);
    assert.match(result.stdout, new RegExp(`error: Microsoft Graph at 127\\.0\\.0\\.1:${port} could not be reached: the connection was refused \\(ECONNREFUSED\\)`));
    assert.doesNotMatch(result.stdout + result.stderr, /fetch failed|\n\s+at /);
  });

  /** Signs in at the "verification page" once the CLI has shown the code on stderr, as the admin would in a browser. */
  function approveWhenPrompted(signIn: { upn: string; scp: string; tenantId?: string }): (stderr: string) => void {
    let approved = false;
    return (stderr) => {
      const code = /enter the code ([A-Z0-9]{9}) to authenticate/.exec(stderr)?.[1];
      if (code === undefined || approved) return;
      approved = true;
      env.standIn.deviceCodes.approve(code, signIn);
    };
  }

  test("--sign-in device shows the device-code prompt on stderr, waits for the sign-in, and syncs as that account", async () => {
    const settings = deployedSettings();
    const result = await runCli(["sync", "--sign-in", "device"], settings, { az: false, onStderr: approveWhenPrompted({ upn: "admin@contoso.com", scp: "Directory.AccessAsUser.All User.Read.All" }) });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stderr, new RegExp(`Reading Microsoft Graph as the account you sign in with \\(device code, tenant ${env.standIn.tenantId}\\), with its delegated permissions`));
    assert.match(result.stderr, /To sign in, use a web browser to open the page https:\/\/microsoft\.com\/devicelogin and enter the code [A-Z0-9]{9} to authenticate\./);
    assert.doesNotMatch(result.stdout, /devicelogin/, "the prompt stays off stdout, which a script may parse");
    assert.match(result.stdout, /Run \S+ succeeded/);
    const asked = env.standIn.deviceCodes.list().at(-1)!;
    assert.equal(asked.clientId, "14d82eec-204b-4c2f-b7e8-296a70dab67e", "as Microsoft Graph Command Line Tools");
    assert.equal(asked.state, "redeemed");
    assert.equal(asked.tenant, env.standIn.tenantId);
  });

  test("a device-code sign-in with an account of another tenant is refused before any read", async () => {
    const other = "0d000000-0000-4000-8000-0000000000d1";
    const before = env.standIn.graphRequestCount();
    const result = await runCli(["sync", "--sign-in", "device"], deployedSettings(), { az: false, onStderr: approveWhenPrompted({ upn: "someone@fabrikam.com", scp: "Directory.AccessAsUser.All", tenantId: other }) });
    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`token is for tenant ${other}, but this run is for tenant ${env.standIn.tenantId}.*You signed in with an account of tenant ${other}: sign in again with an account of tenant ${env.standIn.tenantId}`));
    assert.equal(env.standIn.graphRequestCount(), before);
  });

  test("a declined device-code sign-in ends the command in one line, before any read", async () => {
    const before = env.standIn.graphRequestCount();
    const result = await runCli(["sync", "--sign-in", "device"], deployedSettings(), {
      az: false,
      onStderr: (stderr) => {
        const code = /enter the code ([A-Z0-9]{9}) to authenticate/.exec(stderr)?.[1];
        if (code !== undefined && env.standIn.deviceCodes.list().find((asked) => asked.userCode === code)?.state === "pending") env.standIn.deviceCodes.decline(code);
      },
    });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /error: The device-code sign-in to tenant \S+ was declined at the sign-in page\. Run the command again and approve the sign-in, or sign in with --sign-in cli after az login\. \[signIn\.notCompleted\]/);
    assert.doesNotMatch(result.stdout, /post_request_failed/);
    assert.equal(env.standIn.graphRequestCount(), before);
  });

  test("--sign-in takes only app, cli or device", async () => {
    const result = await runCli(["sync", "--sign-in", "browser"], deployedSettings());
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim(), '--sign-in must be one of app, cli, device, got "browser".');
  });
});
