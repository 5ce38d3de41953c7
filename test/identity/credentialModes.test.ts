// Each credential mode, built from settings by the composition root, gets a Graph token from the stand-ins and syncs the directory exactly.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeTokenClaims } from "../../src/graph/graphPermissions";
import { createDirectoryCredential } from "../../src/identity/credentialFactory";
import { silentLogger } from "../../src/logging/logger";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { ids, makeCertificate, startIdentityEnvironment, type IdentityEnvironment } from "./identityEnvironment";

let world: IdentityEnvironment;

before(async () => {
  world = await startIdentityEnvironment({ model: DirectoryModel.generate({ seed: 21, users: 40, groups: 8 }) });
});
after(async () => world?.stop());

async function syncAndCompare(extra: Record<string, string>) {
  const settings = world.settings(extra);
  const composition = world.env.compose(settings, { credentialFromSettings: true });
  const { summary } = await composition.engine.run({ trigger: "cli", mode: "full" });
  assert.equal(summary.status, "succeeded", summary.error);
  assertStoreMatches(await composition.store.snapshot(), world.env.model);
  return summary;
}

/** The appid of the Graph token each mode gets, to prove who signed in. */
async function graphTokenApp(extra: Record<string, string>): Promise<Record<string, unknown>> {
  const settings = world.settings(extra);
  const credential = createDirectoryCredential(settings, { logger: silentLogger });
  const token = await credential.getToken(`${settings.graphEndpoint}/.default`);
  assert.ok(token);
  return decodeTokenClaims(token.token);
}

describe("credential modes", () => {
  test("managedIdentity: the Function App's identity calls Graph directly through IDENTITY_ENDPOINT", async () => {
    const before = world.identity.requests.length;
    const claims = await graphTokenApp({ ENTRA_CREDENTIAL_MODE: "managedIdentity" });
    assert.equal(claims["appid"], ids.appIdentity);
    assert.equal(claims["oid"], world.identity.identity(ids.appIdentity).principalId);
    const sent = world.identity.requests.slice(before);
    assert.ok(sent.some((request) => request.identity === ids.appIdentity && request.resource === world.env.standIn.url), JSON.stringify(sent));
    assert.deepEqual(world.identity.unknownRequests, [], "MSAL sent nothing the stand-in does not serve");
    await syncAndCompare({ ENTRA_CREDENTIAL_MODE: "managedIdentity" });
  });

  test("federatedCredential: the managed identity's api://AzureADTokenExchange token is the app's client assertion", async () => {
    const extra = { ENTRA_CREDENTIAL_MODE: "federatedCredential", ENTRA_CLIENT_ID: ids.federatedApp };
    const claims = await graphTokenApp(extra);
    assert.equal(claims["appid"], ids.federatedApp);
    const exchange = world.identity.requests.find((request) => request.resource === "api://AzureADTokenExchange");
    assert.ok(exchange, "the assertion came from the managed identity endpoint");
    const assertion = world.env.standIn.clientAssertions.find((record) => record.clientId === ids.federatedApp);
    assert.ok(assertion);
    const assertionClaims = decodeTokenClaims(assertion.assertion);
    assert.equal(assertionClaims["iss"], `https://login.microsoftonline.com/${world.env.standIn.tenantId}/v2.0`);
    assert.equal(assertionClaims["sub"], world.identity.identity(ids.appIdentity).principalId);
    assert.equal(assertionClaims["aud"], "api://AzureADTokenExchange");
    await syncAndCompare(extra);
  });

  test("federatedCredential works when the managed identity lives in another tenant than the directory", async () => {
    const claims = await graphTokenApp({ ENTRA_CREDENTIAL_MODE: "federatedCredential", ENTRA_CLIENT_ID: ids.crossTenantApp, MANAGED_IDENTITY_CLIENT_ID: ids.foreignIdentity });
    assert.equal(claims["appid"], ids.crossTenantApp);
    assert.equal(claims["tid"], world.env.standIn.tenantId);
  });

  test("federatedCredential is refused when the app trusts another identity (AADSTS70021)", async () => {
    await assert.rejects(graphTokenApp({ ENTRA_CREDENTIAL_MODE: "federatedCredential", ENTRA_CLIENT_ID: ids.untrustingApp }), /AADSTS70021/);
  });

  test("clientSecret: the secret is read from Key Vault through the managed identity", async () => {
    world.vault.setSecret("sync-client-secret", world.initialSecret, { expiresOn: new Date(Date.now() + 200 * 86_400_000) });
    const extra = { ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, KEY_VAULT_SECRET_NAME: "sync-client-secret" };
    const claims = await graphTokenApp(extra);
    assert.equal(claims["appid"], ids.secretApp);
    const vaultReader = world.vault.requests.find((request) => request.status === 200);
    assert.equal(vaultReader?.caller, world.identity.identity(ids.appIdentity).principalId, "the vault was read as the Function App's identity");
    assert.ok(world.vault.requests.some((request) => request.status === 401), "the SecretClient answered the vault's challenge");
    assert.deepEqual(world.vault.unknownRequests, []);
    const summary = await syncAndCompare(extra);
    assert.deepEqual(summary.warnings, [], "a secret valid for 200 days raises no warning");
  });

  test("certificate: the PEM certificate from Key Vault signs a PS256 assertion the token endpoint verifies", async () => {
    world.vault.setCertificate("sync-certificate", world.certificate.combinedPem);
    const extra = { ENTRA_CREDENTIAL_MODE: "certificate", ENTRA_CLIENT_ID: ids.certificateApp, KEY_VAULT_SECRET_NAME: "sync-certificate" };
    const claims = await graphTokenApp(extra);
    assert.equal(claims["appid"], ids.certificateApp);
    const assertion = world.env.standIn.clientAssertions.find((record) => record.clientId === ids.certificateApp);
    assert.ok(assertion);
    const header = JSON.parse(Buffer.from(assertion.assertion.split(".")[0] as string, "base64url").toString("utf8")) as Record<string, unknown>;
    assert.ok(header["x5t#S256"] ?? header["x5t"], "the assertion names its certificate by thumbprint");
    await syncAndCompare(extra);
  });

  test("a certificate the app does not know is refused with AADSTS700027", async () => {
    world.vault.setCertificate("stranger-certificate", makeCertificate("/CN=stranger").combinedPem);
    const extra = { ENTRA_CREDENTIAL_MODE: "certificate", ENTRA_CLIENT_ID: ids.certificateApp, KEY_VAULT_SECRET_NAME: "stranger-certificate" };
    await assert.rejects(graphTokenApp(extra), (error: Error) => {
      assert.match(error.message, /rejected the certificate in Key Vault secret "stranger-certificate"/);
      assert.match(error.message, /AADSTS700027/);
      return true;
    });
  });
});
