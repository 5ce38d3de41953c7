// Key Vault, Entra sign-in and network failures, raised by the real @azure/keyvault-secrets, @azure/identity and fetch against the stand-ins, each become one line with a stable code, the host or object, and the fix.
import assert from "node:assert/strict";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { ClientSecretCredential } from "@azure/identity";
import { compose } from "../../src/compositionRoot";
import { SyncError } from "../../src/errors/syncError";
import { GraphDeltaReader } from "../../src/graph/graphDeltaReader";
import { emptyGraphMetrics } from "../../src/graph/graphMetrics";
import { createGraphClient } from "../../src/compositionRoot";
import { createDirectoryCredential } from "../../src/identity/credentialFactory";
import { explainSignInError } from "../../src/identity/signInErrors";
import { createLogger, silentLogger } from "../../src/logging/logger";
import { DirectoryModel } from "../../standin/directoryModel";
import { freePort } from "../../standin/azuriteProcess";
import { KeyVaultStandIn } from "../../standin/keyVaultStandIn";
import { certDir } from "../support/testEnvironment";
import { ids, makeCertificate, startIdentityEnvironment, type IdentityEnvironment } from "./identityEnvironment";

let world: IdentityEnvironment;
let counter = 0;

before(async () => {
  world = await startIdentityEnvironment({ model: DirectoryModel.generate({ seed: 23, users: 10, groups: 3 }) });
});
after(async () => world?.stop());

/** The error a Graph token request fails with, for settings of clientSecret mode with a fresh secret (or as given). */
async function signInFailure(extra: Record<string, string>): Promise<SyncError> {
  const settings = world.settings({ ENTRA_CREDENTIAL_MODE: "clientSecret", ENTRA_CLIENT_ID: ids.secretApp, ...extra });
  const error = await createDirectoryCredential(settings, { logger: silentLogger })
    .getToken(`${settings.graphEndpoint}/.default`)
    .then(() => undefined, (thrown: unknown) => thrown);
  assert.ok(error instanceof SyncError, `expected a SyncError, got ${String(error)}`);
  assert.equal(error.message.includes("\n"), false, "one line");
  return error;
}

function storeSecret(value: string = world.initialSecret): string {
  const name = `classified-${++counter}`;
  world.env.standIn.updateClient(ids.secretApp, { clientSecret: world.initialSecret, clientSecrets: [], expiredSecrets: [] });
  world.vault.setSecret(name, value, { expiresOn: new Date(Date.now() + 90 * 86_400_000) });
  return name;
}

async function closedPort(): Promise<number> {
  return await freePort();
}

describe("Key Vault failures through @azure/keyvault-secrets", () => {
  test("secret missing: keyVault.secretNotFound names the secret, the vault and the command that stores it", async () => {
    const error = await signInFailure({ KEY_VAULT_SECRET_NAME: "absent-secret" });
    assert.equal(error.code, "keyVault.secretNotFound");
    assert.match(error.message, /Key Vault secret "absent-secret" in https:\/\/127\.0\.0\.1:\d+ was not found \(404 SecretNotFound\)\. Store the app's client secret: az keyvault secret set .*--name absent-secret/);
  });

  test("secret disabled: keyVault.secretDisabled (403 Forbidden, inner SecretDisabled), not a missing role", async () => {
    const name = storeSecret();
    world.vault.setEnabled(name, false);
    const error = await signInFailure({ KEY_VAULT_SECRET_NAME: name });
    assert.equal(error.code, "keyVault.secretDisabled");
    assert.match(error.message, new RegExp(`"${name}" .* is disabled\\. Enable it: az keyvault secret set-attributes .*--name ${name} --enabled true`));
    assert.doesNotMatch(error.message, /Key Vault Secrets User/);
  });

  test("secret expired, refused by the vault (403 SecretExpired): keyVault.secretExpired with the renewal", async () => {
    const strictVault = await KeyVaultStandIn.start({ certDir, entra: world.env.standIn, expiredSecrets: "refused" });
    try {
      strictVault.setSecret("lapsed", world.initialSecret, { expiresOn: new Date(Date.now() - 86_400_000) });
      const error = await signInFailure({ KEY_VAULT_URL: strictVault.url, KEY_VAULT_SECRET_NAME: "lapsed" });
      assert.equal(error.code, "keyVault.secretExpired");
      assert.match(error.message, /"lapsed" .* past its expiry date .*Renew it: az ad app credential reset --id/);
    } finally {
      await strictVault.stop();
    }
  });

  test("no access: keyVault.forbidden names the role to grant", async () => {
    const name = storeSecret();
    world.vault.grantRead("someone-else");
    try {
      const error = await signInFailure({ KEY_VAULT_SECRET_NAME: name });
      assert.equal(error.code, "keyVault.forbidden");
      assert.match(error.message, /may not read Key Vault secret .*"Key Vault Secrets User"/);
    } finally {
      world.vault.grantRead(world.identity.identity(ids.appIdentity).principalId as string);
    }
  });

  test("vault unreachable: keyVault.unreachable names the host and KEY_VAULT_URL", async () => {
    const port = await closedPort();
    const error = await signInFailure({ KEY_VAULT_URL: `https://127.0.0.1:${port}`, KEY_VAULT_SECRET_NAME: "anything" });
    assert.equal(error.code, "keyVault.unreachable");
    assert.match(error.message, new RegExp(`Key Vault .* at 127\\.0\\.0\\.1:${port} could not be reached: the connection was refused \\(ECONNREFUSED\\).* Check KEY_VAULT_URL`));
  });
});

describe("Entra sign-in failures through @azure/identity", () => {
  test("tenant not found (discovery answers AADSTS90002, MSAL says endpoints_resolution_error): signIn.tenantNotFound names the tenant and ENTRA_CLOUD", async () => {
    const unknownTenant = "9d9d9d9d-0000-4000-8000-000000000009";
    const error = await signInFailure({ ENTRA_TENANT_ID: unknownTenant, KEY_VAULT_SECRET_NAME: storeSecret() });
    assert.equal(error.code, "signIn.tenantNotFound");
    assert.match(error.message, new RegExp(`does not know tenant ${unknownTenant} \\(AADSTS90002\\)\\. Check ENTRA_TENANT_ID .* and ENTRA_CLOUD \\(now public\\)`));
    assert.doesNotMatch(error.message, /endpoints_resolution_error/);
  });

  test("a tenant identifier that is no tenant at all (AADSTS900023): signIn.tenantNotFound asks for the GUID", async () => {
    const authorityHost = world.env.standIn.url;
    const failed = await new ClientSecretCredential("not..a-tenant", ids.secretApp, "x", { authorityHost, disableInstanceDiscovery: true }).getToken(`${authorityHost}/.default`).catch((error: unknown) => error);
    const error = await explainSignInError(failed, { tenantId: "not..a-tenant", clientId: ids.secretApp, authorityHost, cloud: "public", who: `app ${ids.secretApp}` });
    assert.equal(error?.code, "signIn.tenantNotFound");
    assert.match(error?.message ?? "", /AADSTS900023.*Set ENTRA_TENANT_ID to the Directory \(tenant\) ID, a GUID/);
  });

  test("unknown client id (AADSTS700016): signIn.unknownClient names the app and the tenant", async () => {
    const stranger = "c0c0c0c0-0000-4000-8000-00000000c0c0";
    const error = await signInFailure({ ENTRA_CLIENT_ID: stranger, KEY_VAULT_SECRET_NAME: storeSecret() });
    assert.equal(error.code, "signIn.unknownClient");
    assert.match(error.message, new RegExp(`App ${stranger} was not found in tenant ${world.env.standIn.tenantId} \\(AADSTS700016\\)\\. Check ENTRA_CLIENT_ID`));
  });

  test("wrong secret (AADSTS7000215): signIn.invalidSecret", async () => {
    const name = storeSecret("not-the-apps-secret");
    const error = await signInFailure({ KEY_VAULT_SECRET_NAME: name });
    assert.equal(error.code, "signIn.invalidSecret");
    assert.match(error.message, new RegExp(`rejected the client secret in Key Vault secret "${name}" .*AADSTS7000215`));
  });

  test("expired secret (AADSTS7000222): signIn.secretExpired, told apart from a wrong one", async () => {
    const name = storeSecret();
    world.env.standIn.updateClient(ids.secretApp, { clientSecret: "the-new-one", expiredSecrets: [world.initialSecret] });
    const error = await signInFailure({ KEY_VAULT_SECRET_NAME: name });
    assert.equal(error.code, "signIn.secretExpired");
    assert.match(error.message, /AADSTS7000222: the client secret has expired/);
  });

  test("sign-in endpoint unreachable (MSAL says endpoints_resolution_error): network.connectionRefused names the host and AUTHORITY_HOST", async () => {
    const port = await closedPort();
    const error = await signInFailure({ AUTHORITY_HOST: `https://127.0.0.1:${port}`, KEY_VAULT_SECRET_NAME: storeSecret() });
    assert.equal(error.code, "network.connectionRefused");
    assert.match(error.message, new RegExp(`Microsoft Entra sign-in endpoint at 127\\.0\\.0\\.1:${port} could not be reached: the connection was refused .*Check AUTHORITY_HOST \\(or ENTRA_CLOUD\\)`));
  });

  test("certificate rejected (AADSTS700027): signIn.certificateRejected", async () => {
    world.vault.setCertificate("unknown-cert", makeCertificate("/CN=unknown").combinedPem);
    const error = await signInFailure({ ENTRA_CREDENTIAL_MODE: "certificate", ENTRA_CLIENT_ID: ids.certificateApp, KEY_VAULT_SECRET_NAME: "unknown-cert" });
    assert.equal(error.code, "signIn.certificateRejected");
    assert.match(error.message, /rejected the certificate in Key Vault secret "unknown-cert" .*AADSTS700027/);
  });
});

describe("network failures through fetch (Graph SDK)", () => {
  /** Reads the first users page from an endpoint through the composed Graph client; the credential gives an opaque token. */
  async function graphFailure(graphEndpoint: string, options: { giveUpMs?: number } = {}): Promise<{ error: SyncError; waits: number[]; notices: string[] }> {
    const waits: number[] = [];
    const notices: string[] = [];
    let clock = 0;
    const credential = { getToken: async () => ({ token: "opaque", expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const reader = new GraphDeltaReader(createGraphClient(credential, graphEndpoint), graphEndpoint, emptyGraphMetrics(), {
      maxRetries: 6,
      sleep: async (ms) => void (waits.push(ms), (clock += ms)),
      now: () => clock,
      unreachableGiveUpMs: options.giveUpMs,
      onUnreachable: (message) => notices.push(message),
    });
    const error = await reader.readPage("users", { kind: "initial" }).then(() => undefined, (thrown: unknown) => thrown);
    assert.ok(error instanceof SyncError, `expected a SyncError, got ${String(error)}`);
    return { error, waits, notices };
  }

  test("DNS failure: network.dnsFailure names the host and GRAPH_ENDPOINT", async () => {
    const { error } = await graphFailure("https://graph.entra-sync-test.invalid", { giveUpMs: 0 });
    assert.equal(error.code, "network.dnsFailure");
    assert.match(error.message, /Microsoft Graph at graph\.entra-sync-test\.invalid could not be reached: the name graph\.entra-sync-test\.invalid does not resolve \((ENOTFOUND|EAI_AGAIN)\)\. Check GRAPH_ENDPOINT/);
  });

  test("TLS failure (an untrusted certificate): network.tlsFailure", async () => {
    const { certificatePem, privateKeyPem } = makeCertificate("/CN=127.0.0.1");
    const server = https.createServer({ cert: certificatePem, key: privateKeyPem }, (_request, response) => response.end("{}"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { error } = await graphFailure(`https://127.0.0.1:${port}`, { giveUpMs: 0 });
      assert.equal(error.code, "network.tlsFailure");
      assert.match(error.message, new RegExp(`at 127\\.0\\.0\\.1:${port} could not be reached: the TLS handshake failed \\(\\w+\\).*NODE_EXTRA_CA_CERTS`));
    } finally {
      server.close();
    }
  });

  test("connection refused: the CLI's budget gives up within 30 s; without it (the timer) retries run longer; each wait says what it waits for", async () => {
    const port = await closedPort();
    const cli = await graphFailure(`https://127.0.0.1:${port}`, { giveUpMs: 25_000 });
    assert.equal(cli.error.code, "network.connectionRefused");
    assert.match(cli.error.message, new RegExp(`Microsoft Graph at 127\\.0\\.0\\.1:${port} could not be reached: the connection was refused`));
    assert.ok(cli.waits.reduce((sum, ms) => sum + ms, 0) <= 25_000, `waited ${cli.waits.join("+")} ms`);
    const timer = await graphFailure(`https://127.0.0.1:${port}`);
    assert.equal(timer.waits.length, 6, "the timer path uses every retry");
    assert.ok(timer.waits.reduce((sum, ms) => sum + ms, 0) > 30_000);
    assert.equal(timer.notices.length, 6);
    assert.match(timer.notices[0]!, new RegExp(`127\\.0\\.0\\.1:${port} could not be reached: the connection was refused .*Retrying in 1 s \\(retry 1 of 6\\)`));
  });

  test("a run against an unreachable Graph fails with the classified line, not 'fetch failed'", async () => {
    const port = await closedPort();
    const settings = world.settings({ GRAPH_ENDPOINT: `https://127.0.0.1:${port}` });
    const lines: string[] = [];
    const composition = compose(settings, {
      logger: createLogger((level, message) => lines.push(`${level} ${message}`)),
      credential: { getToken: async () => ({ token: "opaque", expiresOnTimestamp: Date.now() + 3_600_000 }) },
      sleep: async () => undefined,
    });
    const { summary } = await composition.engine.run({ trigger: "schedule", mode: "full" });
    assert.equal(summary.status, "failed");
    assert.match(summary.error ?? "", /Microsoft Graph at 127\.0\.0\.1:\d+ could not be reached: the connection was refused \(ECONNREFUSED\)/);
    assert.ok(lines.some((line) => /^warn .*could not be reached.*Retrying in/.test(line)), lines.join("\n"));
  });
});
