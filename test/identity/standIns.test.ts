// The identity stand-ins on the wire: certificate and federated assertions at the token endpoint, the managed identity endpoint, and Key Vault.
import assert from "node:assert/strict";
import { createHash, randomUUID, sign, X509Certificate, constants as cryptoConstants } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { keyVaultAudiences } from "../../standin/tokenIssuer";
import { ids, makeCertificate, startIdentityEnvironment, type IdentityEnvironment, type TestCertificate } from "./identityEnvironment";

let world: IdentityEnvironment;
let tokenUrl: string;

before(async () => {
  world = await startIdentityEnvironment();
  tokenUrl = `${world.env.standIn.url}/${world.env.standIn.tenantId}/oauth2/v2.0/token`;
});
after(async () => world?.stop());

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A client assertion as MSAL builds it (certificate-credentials): iss = sub = client id, aud = token endpoint, signed with the certificate's key. */
function certificateAssertion(certificate: TestCertificate, options: { algorithm?: "RS256" | "PS256"; claims?: Record<string, unknown>; thumbprintOf?: TestCertificate } = {}): string {
  const algorithm = options.algorithm ?? "RS256";
  const raw = new X509Certificate((options.thumbprintOf ?? certificate).certificatePem).raw;
  const header = algorithm === "PS256" ? { alg: algorithm, typ: "JWT", "x5t#S256": createHash("sha256").update(raw).digest("base64url") } : { alg: algorithm, typ: "JWT", x5t: createHash("sha1").update(raw).digest("base64url") };
  const now = Math.floor(Date.now() / 1000);
  const claims = { aud: tokenUrl, iss: ids.certificateApp, sub: ids.certificateApp, jti: randomUUID(), nbf: now, exp: now + 600, ...options.claims };
  const input = `${part(header)}.${part(claims)}`;
  const key = algorithm === "PS256" ? { key: certificate.privateKeyPem, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST } : certificate.privateKeyPem;
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

async function requestToken(clientId: string, assertion: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, scope: "https://graph.microsoft.com/.default", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function aadsts(body: Record<string, unknown>): number | undefined {
  return (body["error_codes"] as number[] | undefined)?.[0];
}

describe("token endpoint: certificate assertions", () => {
  test("RS256 with x5t and PS256 with x5t#S256 from the registered certificate are accepted", async () => {
    for (const algorithm of ["RS256", "PS256"] as const) {
      const { status, body } = await requestToken(ids.certificateApp, certificateAssertion(world.certificate, { algorithm }));
      assert.equal(status, 200, JSON.stringify(body));
    }
  });

  test("an unregistered certificate, a forged signature, a wrong audience and an expired assertion are refused", async () => {
    const stranger = makeCertificate("/CN=stranger");
    const unknown = await requestToken(ids.certificateApp, certificateAssertion(stranger));
    assert.equal(aadsts(unknown.body), 700027);
    assert.match(String(unknown.body["error_description"]), /not registered on application.*The key was not found/);
    const forged = await requestToken(ids.certificateApp, certificateAssertion(stranger, { thumbprintOf: world.certificate, algorithm: "PS256" }));
    assert.equal(forged.status, 401);
    assert.match(String(forged.body["error_description"]), /AADSTS700027: Client assertion contains an invalid signature/);
    const audience = await requestToken(ids.certificateApp, certificateAssertion(world.certificate, { claims: { aud: "https://login.microsoftonline.com/other/oauth2/v2.0/token" } }));
    assert.equal(aadsts(audience.body), 700023);
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await requestToken(ids.certificateApp, certificateAssertion(world.certificate, { claims: { nbf: past - 600, exp: past } }));
    assert.equal(aadsts(expired.body), 700024);
    assert.equal(expired.body["error"], "invalid_client");
  });
});

describe("token endpoint: federated assertions", () => {
  async function identityToken(clientId: string, resource: string): Promise<string> {
    const response = await fetch(`${world.identity.endpoint}?api-version=2019-08-01&resource=${encodeURIComponent(resource)}&client_id=${clientId}`, { headers: { "X-IDENTITY-HEADER": world.identity.header } });
    return ((await response.json()) as { access_token: string }).access_token;
  }

  test("the trusted identity's exchange token is accepted; another audience, another subject or a forged token is not", async () => {
    const accepted = await requestToken(ids.federatedApp, await identityToken(ids.appIdentity, "api://AzureADTokenExchange"));
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const wrongAudience = await requestToken(ids.federatedApp, await identityToken(ids.appIdentity, "https://vault.azure.net"));
    assert.equal(aadsts(wrongAudience.body), 70021);
    assert.match(String(wrongAudience.body["error_description"]), /Assertion Audience: 'https:\/\/vault\.azure\.net'/);
    const otherSubject = await requestToken(ids.federatedApp, await identityToken(ids.narrowIdentity, "api://AzureADTokenExchange"));
    assert.equal(aadsts(otherSubject.body), 70021);
    assert.match(String(otherSubject.body["error_description"]), new RegExp(`Assertion Subject: '${world.identity.identity(ids.narrowIdentity).principalId}'`));
    const genuine = await identityToken(ids.appIdentity, "api://AzureADTokenExchange");
    const [header, payload] = genuine.split(".");
    const forged = await requestToken(ids.federatedApp, `${header}.${payload}.${Buffer.from("forged").toString("base64url")}`);
    assert.equal(aadsts(forged.body), 700027);
  });
});

describe("managed identity endpoint (App Service protocol)", () => {
  test("answers access_token, expires_on, resource, token_type and client_id for a user-assigned identity", async () => {
    const response = await fetch(`${world.identity.endpoint}?resource=https://vault.azure.net&api-version=2019-08-01&client_id=${ids.appIdentity}`, { headers: { "X-IDENTITY-HEADER": world.identity.header } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ["access_token", "client_id", "expires_on", "resource", "token_type"]);
    assert.equal(body["resource"], "https://vault.azure.net");
    assert.equal(body["token_type"], "Bearer");
    assert.equal(body["client_id"], ids.appIdentity);
    assert.match(String(body["expires_on"]), /^\d{10}$/);
  });

  test("refuses a request without the identity header, an unknown identity and an unknown resource", async () => {
    const base = `${world.identity.endpoint}?resource=https://vault.azure.net&api-version=2019-08-01`;
    assert.equal((await fetch(`${base}&client_id=${ids.appIdentity}`)).status, 401);
    const unknown = await fetch(`${base}&client_id=${randomUUID()}`, { headers: { "X-IDENTITY-HEADER": world.identity.header } });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { message: string }).message, /No User Assigned or Delegated Managed Identity found/);
    const systemAssigned = await fetch(base, { headers: { "X-IDENTITY-HEADER": world.identity.header } });
    assert.equal(systemAssigned.status, 400, "no system-assigned identity is enabled");
    const resource = await fetch(`${world.identity.endpoint}?resource=https://example.com&api-version=2019-08-01&client_id=${ids.appIdentity}`, { headers: { "X-IDENTITY-HEADER": world.identity.header } });
    assert.match(((await resource.json()) as { message: string }).message, /AADSTS500011/);
  });
});

describe("Key Vault secrets data plane", () => {
  let vaultToken: string;
  before(() => {
    vaultToken = world.env.standIn.issueAccessToken({ appId: ids.appIdentity, objectId: world.identity.identity(ids.appIdentity).principalId!, tenantId: world.env.standIn.tenantId }, keyVaultAudiences[0]!);
  });
  const get = (path: string, token?: string) => fetch(`${world.vault.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

  test("an unauthenticated request gets the 401 challenge the SecretClient answers", async () => {
    const response = await get("/secrets/anything?api-version=7.4");
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), `Bearer authorization="https://login.microsoftonline.com/${world.env.standIn.tenantId}", resource="https://vault.azure.net"`);
    assert.deepEqual(await response.json(), { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } });
    const graphToken = world.env.standIn.issueAccessToken({ appId: ids.appIdentity, objectId: "x", tenantId: world.env.standIn.tenantId }, "https://graph.microsoft.com");
    const wrongAudience = await get("/secrets/anything?api-version=7.4", graphToken);
    assert.equal(wrongAudience.status, 401);
    assert.match(((await wrongAudience.json()) as { error: { message: string } }).error.message, /Invalid audience/);
  });

  test("serves the latest and older versions as SecretBundles, 404 SecretNotFound, and 403 for a disabled secret", async () => {
    const expires = new Date(Date.now() + 30 * 86_400_000);
    const first = world.vault.setSecret("bundle", "one", { expiresOn: expires, contentType: "text/plain", tags: { owner: "tests" } });
    world.vault.setSecret("bundle", "two");
    const latest = (await (await get("/secrets/bundle/?api-version=7.6", vaultToken)).json()) as Record<string, unknown>;
    assert.equal(latest["value"], "two");
    const older = (await (await get(`/secrets/bundle/${first}?api-version=2025-07-01`, vaultToken)).json()) as { value: string; id: string; contentType: string; tags: unknown; attributes: Record<string, unknown> };
    assert.equal(older.value, "one");
    assert.equal(older.id, `${world.vault.url}/secrets/bundle/${first}`);
    assert.equal(older.contentType, "text/plain");
    assert.deepEqual(older.tags, { owner: "tests" });
    assert.equal(older.attributes["exp"], Math.floor(expires.getTime() / 1000));
    assert.equal(older.attributes["enabled"], true);
    assert.equal(older.attributes["recoveryLevel"], "Recoverable+Purgeable");
    assert.equal(typeof older.attributes["created"], "number");

    const missing = await get("/secrets/nothing-here?api-version=7.6", vaultToken);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "SecretNotFound");
    world.vault.setEnabled("bundle", false);
    const disabled = await get("/secrets/bundle?api-version=7.6", vaultToken);
    assert.equal(disabled.status, 403);
    assert.deepEqual(((await disabled.json()) as { error: { innererror: unknown } }).error.innererror, { code: "SecretDisabled" });
    assert.equal((await get("/secrets/bundle?api-version=1.0", vaultToken)).status, 400);
  });

  test("a caller without Key Vault Secrets User gets 403 ForbiddenByRbac", async () => {
    world.vault.setSecret("guarded", "value");
    world.vault.grantRead("only-this-principal");
    try {
      const response = await get("/secrets/guarded?api-version=7.6", vaultToken);
      assert.equal(response.status, 403);
      const error = ((await response.json()) as { error: { code: string; innererror: { code: string } } }).error;
      assert.equal(error.code, "Forbidden");
      assert.equal(error.innererror.code, "ForbiddenByRbac");
    } finally {
      world.vault.grantRead(world.identity.identity(ids.appIdentity).principalId!);
    }
  });
});
