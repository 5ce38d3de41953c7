// `entra-sync check` and GET /api/check against the stand-ins: one line per check, the fix for each failure, exit code 1 on any.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { HttpRequest, InvocationContext } from "@azure/functions";
import { connectionCheck } from "../../functions/connectionCheck";
import { requiredGraphPermissions } from "../../src/check/graphPermissions";
import { formatCheckReport, runConnectionCheck, type CheckReport } from "../../src/check/connectionCheck";
import { main } from "../../src/cli/main";
import { DirectoryModel } from "../../standin/directoryModel";
import { ids, startIdentityEnvironment, type IdentityEnvironment } from "../identity/identityEnvironment";

let world: IdentityEnvironment;

before(async () => {
  world = await startIdentityEnvironment({ model: DirectoryModel.generate({ seed: 3, users: 8, groups: 3 }) });
});
after(async () => world?.stop());

function outcomes(report: CheckReport): Record<string, string> {
  return Object.fromEntries(report.results.map((result) => [result.check, result.outcome]));
}

function lineOf(report: CheckReport, check: string, outcome: string) {
  const found = report.results.find((result) => result.check === check && result.outcome === outcome);
  assert.ok(found, `no ${outcome} line for ${check}:\n${formatCheckReport(report)}`);
  return found;
}

describe("connection check", () => {
  test("a correct managed identity setup passes every check", async () => {
    const report = await runConnectionCheck(world.environment());
    assert.equal(report.ok, true, formatCheckReport(report));
    assert.deepEqual(outcomes(report), { settings: "pass", storage: "pass", tenant: "pass", graphToken: "pass", graphPermissions: "pass", graphUsers: "pass", graphGroups: "pass" });
    assert.match(lineOf(report, "graphPermissions", "pass").message, /exactly what the sync needs: User\.Read\.All, GroupMember\.Read\.All/);
    assert.match(lineOf(report, "graphUsers", "pass").message, /answered 1 object/);
  });

  test("a missing Graph permission fails with the app role assignment that fixes it, and the CLI exits 1", async () => {
    const environment = world.environment({ MANAGED_IDENTITY_CLIENT_ID: ids.narrowIdentity });
    const report = await runConnectionCheck(environment);
    assert.equal(report.ok, false);
    const missing = lineOf(report, "graphPermissions", "fail");
    assert.match(missing.message, /lacks the application permission GroupMember\.Read\.All/);
    const principal = world.identity.identity(ids.narrowIdentity).principalId!;
    assert.match(missing.fix ?? "", /az rest --method POST --uri \S+\/v1\.0\/servicePrincipals\/\$graphSp\/appRoleAssignedTo/);
    assert.ok(missing.fix?.includes(principal), "the fix names the identity's service principal");
    assert.ok(missing.fix?.includes("98830695-27a2-44f7-8c18-0c3ebc9698f6"), "the fix names GroupMember.Read.All's app role id");
    assert.match(lineOf(report, "graphGroups", "fail").message, /answered 403 Authorization_RequestDenied/);
    assert.equal(outcomes(report)["graphUsers"], "pass");

    const cli = await captureCli(["check"], environment);
    assert.equal(cli.code, 1);
    const lines = cli.stdout.trim().split("\n");
    assert.ok(lines.some((line) => /^FAIL graphPermissions: The token lacks the application permission GroupMember\.Read\.All.* Fix: Grant GroupMember\.Read\.All: /.test(line)), cli.stdout);
    assert.ok(lines.some((line) => line.startsWith("PASS storage: ")), cli.stdout);
    assert.match(lines.at(-1) ?? "", /^2 check\(s\) failed/);
  });

  test("broader permissions than needed are a warning, not a failure", async () => {
    const report = await runConnectionCheck(world.environment({ MANAGED_IDENTITY_CLIENT_ID: ids.broadIdentity }));
    assert.equal(report.ok, true, formatCheckReport(report));
    const warning = lineOf(report, "graphPermissions", "warn");
    assert.match(warning.message, /Granted but not needed: Directory\.Read\.All/);
    assert.match(warning.fix ?? "", /appRoleAssignments\/<assignment id>/);
  });

  test("the required set is a parameter: with devices on, Device.Read.All is missing", async () => {
    const report = await runConnectionCheck(world.environment(), { requiredPermissions: requiredGraphPermissions({ devices: true }) });
    assert.equal(report.ok, false);
    const missing = lineOf(report, "graphPermissions", "fail");
    assert.match(missing.message, /Device\.Read\.All/);
    assert.ok(missing.fix?.includes("7438b122-aefc-4978-80ed-43db9fcc7715"));
  });

  test("a bad setting is one failed line naming it, not an exception", async () => {
    const environment = world.environment({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp });
    const report = await runConnectionCheck(environment);
    assert.equal(report.ok, false);
    assert.equal(report.results.length, 1);
    assert.match(lineOf(report, "settings", "fail").message, /^Setting KEY_VAULT_SECRET_NAME is required when ENTRA_CREDENTIAL_MODE is clientSecret/);
    assert.equal((await captureCli(["check"], environment)).code, 1);
  });

  test("clientSecret mode: Key Vault access and the expiry are checked, a soon-expiring secret warns", async () => {
    world.vault.setSecret("check-secret", world.initialSecret, { expiresOn: new Date(Date.now() + 5.5 * 86_400_000) });
    const report = await runConnectionCheck(world.environment({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: "check-secret" }));
    assert.equal(report.ok, true, formatCheckReport(report));
    assert.match(lineOf(report, "keyVault", "warn").message, /Key Vault secret "check-secret" in https:\/\/127\.0\.0\.1:\d+ .* expires on .*, in 5 days\. Renew it: .*az keyvault secret set/);
    assert.equal(outcomes(report)["graphToken"], "pass");
    assert.ok(!formatCheckReport(report).includes(world.initialSecret));
  });

  test("clientSecret mode with the secret missing fails the Key Vault and token lines, naming secret and vault", async () => {
    const report = await runConnectionCheck(world.environment({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: "not-there" }));
    assert.equal(report.ok, false);
    assert.match(lineOf(report, "keyVault", "fail").message, /Key Vault secret "not-there" in https:\/\/127\.0\.0\.1:\d+ was not found/);
    assert.match(lineOf(report, "graphToken", "fail").message, /not-there/);
    assert.equal(outcomes(report)["graphUsers"], undefined, "no Graph reads without a token");
  });

  test("a federated app that does not trust the identity fails with the federated-credential command", async () => {
    const report = await runConnectionCheck(world.environment({ ENTRA_CREDENTIAL_MODE: "federatedCredential", ENTRA_CLIENT_ID: ids.untrustingApp }));
    const failed = lineOf(report, "graphToken", "fail");
    assert.match(failed.message, /AADSTS70021/);
    assert.match(failed.message, new RegExp(`az ad app federated-credential create --id ${ids.untrustingApp} --parameters .*"audiences":\\["api://AzureADTokenExchange"\\]`));
  });

  test("GET /api/check answers the report as JSON, 200 when everything passes and 503 when a check fails", async () => {
    const context = fakeContext();
    const saved = { ...process.env };
    try {
      Object.assign(process.env, world.environment());
      const passing = await connectionCheck({} as HttpRequest, context);
      assert.equal(passing.status, 200);
      assert.equal((passing.jsonBody as CheckReport).ok, true);
      process.env["MANAGED_IDENTITY_CLIENT_ID"] = ids.narrowIdentity;
      const failing = await connectionCheck({} as HttpRequest, context);
      assert.equal(failing.status, 503);
      const body = failing.jsonBody as CheckReport;
      assert.equal(body.ok, false);
      assert.ok(body.results.some((result) => result.check === "graphPermissions" && result.outcome === "fail" && result.fix));
      assert.doesNotMatch(JSON.stringify(body), /eyJ[A-Za-z0-9_-]{8,}\./, "no token in the response");
    } finally {
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });
});

function fakeContext(): InvocationContext {
  const ignore = () => undefined;
  return { invocationId: "test", functionName: "connectionCheck", log: ignore, trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore } as unknown as InvocationContext;
}

/** Runs the CLI in-process with these settings as environment variables, capturing stdout. */
async function captureCli(args: string[], environment: Record<string, string>): Promise<{ code: number; stdout: string }> {
  const saved = new Map(Object.keys(environment).map((name) => [name, process.env[name]]));
  Object.assign(process.env, environment);
  const stdout: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => (stdout.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    return { code: await main(args), stdout: stdout.join("") };
  } finally {
    process.stdout.write = write;
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
