// The tenant guard: a Graph token of another tenant fails the run before anything is read, names both tenants and the likely cause, and check shows it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientSecretCredential } from "@azure/identity";
import { formatCheckReport, runConnectionCheck } from "../../src/check/connectionCheck";
import { DirectoryModel } from "../../standin/directoryModel";
import { standInClient } from "../support/testEnvironment";
import { ids, startIdentityEnvironment, type IdentityEnvironment } from "./identityEnvironment";
import { compose } from "../../src/compositionRoot";
import { silentLogger } from "../../src/logging/logger";

let world: IdentityEnvironment;
/** A second tenant the stand-in's token endpoint serves, where the stand-in's apps are consented (a multi-tenant app). */
const otherTenant = "0e000000-0000-4000-8000-0000000000e0";

before(async () => {
  world = await startIdentityEnvironment({ model: DirectoryModel.generate({ seed: 17, users: 12, groups: 3 }) });
  world.env.standIn.addTenant(otherTenant);
});
after(async () => world?.stop());

describe("tenant guard", () => {
  test("a managed identity of another tenant: the run fails before any Graph read, naming both tenants and federatedCredential", async () => {
    const settings = world.settings({ MANAGED_IDENTITY_CLIENT_ID: ids.foreignIdentity });
    const graphBefore = world.env.standIn.graphRequestCount();
    const composition = world.env.compose(settings, { credentialFromSettings: true });
    const { summary } = await composition.engine.run({ trigger: "schedule", mode: "full" });
    assert.equal(summary.status, "failed");
    assert.match(summary.error ?? "", new RegExp(`token is for tenant ${ids.foreignTenant}, but this run is for tenant ${world.env.standIn.tenantId}`));
    assert.match(summary.error ?? "", /A managed identity belongs to its own tenant .* ENTRA_CREDENTIAL_MODE=federatedCredential/);
    assert.equal(world.env.standIn.graphRequestCount(), graphBefore, "nothing was read from Graph");
    await assert.rejects(composition.store.snapshot(), /TableNotFound/, "not even the tables were created");
  });

  test("a token the token endpoint issued for another tenant is refused the same way (tenant.mismatch)", async () => {
    const settings = world.settings();
    const credential = new ClientSecretCredential(otherTenant, standInClient.clientId, standInClient.clientSecret, { authorityHost: settings.authorityHost, disableInstanceDiscovery: true });
    const composition = compose(settings, { logger: silentLogger, credential, credentialSource: "clientSecret" });
    const { summary } = await composition.engine.run({ trigger: "cli", mode: "full" });
    assert.equal(summary.status, "failed");
    assert.match(summary.error ?? "", new RegExp(`token is for tenant ${otherTenant}, but this run is for tenant ${world.env.standIn.tenantId}`));
  });

  test("check shows the mismatch on a tenant line and reads nothing", async () => {
    const report = await runConnectionCheck(world.environment({ MANAGED_IDENTITY_CLIENT_ID: ids.foreignIdentity }));
    assert.equal(report.ok, false);
    const line = report.results.find((result) => result.check === "tenant");
    assert.equal(line?.outcome, "fail", formatCheckReport(report));
    assert.match(line?.message ?? "", new RegExp(`tenant ${ids.foreignTenant}, but this run is for tenant ${world.env.standIn.tenantId}.*federatedCredential`));
    assert.equal(report.results.some((result) => result.check === "graphUsers"), false, "no Graph read with a token of another tenant");
  });
});
