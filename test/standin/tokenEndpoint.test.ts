// The stand-in's Entra token endpoint and discovery, exercised by the real @azure/identity credential and by raw requests.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ClientSecretCredential } from "@azure/identity";
import { DirectoryModel } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import { credentialFor, decodeJwt, defaultClient, fetchJson, graphScope, startStandIn } from "./standInTestSupport";

function form(fields: Record<string, string>): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() };
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe("token endpoint", () => {
  let standIn: GraphStandIn;
  let tokenUrl: string;
  before(async () => {
    standIn = await startStandIn({ model: DirectoryModel.generate({ users: 5, groups: 2 }) });
    tokenUrl = `${standIn.url}/${standIn.tenantId}/oauth2/v2.0/token`;
  });
  after(async () => standIn.stop());

  it("issues a Graph access token to the real ClientSecretCredential, after discovery", async () => {
    const token = await credentialFor(standIn).getToken(graphScope);
    assert.ok(token);
    const claims = decodeJwt(token.token);
    assert.equal(claims["aud"], "https://graph.microsoft.com");
    assert.equal(claims["tid"], standIn.tenantId);
    assert.equal(claims["appid"], defaultClient.clientId);
    assert.equal(claims["azp"], defaultClient.clientId);
    assert.equal(claims["iss"], `https://sts.windows.net/${standIn.tenantId}/`);
    assert.deepEqual(claims["roles"], ["User.Read.All", "GroupMember.Read.All"]);
    assert.equal((claims["exp"] as number) - (claims["iat"] as number), 3599);
    assert.ok(Math.abs(token.expiresOnTimestamp - Date.now() - 3599_000) < 10_000);
    const paths = standIn.requests.map((request) => `${request.method} ${request.path} ${request.status}`);
    assert.deepEqual(paths, [
      `GET /${standIn.tenantId}/v2.0/.well-known/openid-configuration 200`,
      `POST /${standIn.tenantId}/oauth2/v2.0/token 200`,
    ]);
  });

  it("also accepts the stand-in's own URL as the Graph resource, as a product deriving the scope from its Graph endpoint asks", async () => {
    const token = await credentialFor(standIn).getToken(`${standIn.url}/.default`);
    assert.ok(token);
    assert.equal(decodeJwt(token.token)["aud"], standIn.url);
    const { status } = await fetchJson(`${standIn.url}/v1.0/users?$top=1`, { headers: { Authorization: `Bearer ${token.token}` } });
    assert.equal(status, 200);
  });

  it("serves the OpenID configuration with every endpoint on the stand-in", async () => {
    const { status, body } = await fetchJson(`${standIn.url}/${standIn.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.equal(status, 200);
    assert.equal(body["token_endpoint"], tokenUrl);
    assert.equal(body["issuer"], `${standIn.url}/${standIn.tenantId}/v2.0`);
    assert.equal(body["authorization_endpoint"], `${standIn.url}/${standIn.tenantId}/oauth2/v2.0/authorize`);
    assert.equal(body["jwks_uri"], `${standIn.url}/${standIn.tenantId}/discovery/v2.0/keys`);
    const keys = await fetchJson(body["jwks_uri"] as string);
    assert.deepEqual(keys.body, { keys: [] });
  });

  it("answers a wrong secret with 401 invalid_client AADSTS7000215, and the credential surfaces it", async () => {
    const { status, body } = await fetchJson(tokenUrl, form({ grant_type: "client_credentials", client_id: defaultClient.clientId, client_secret: "wrong", scope: graphScope }));
    assert.equal(status, 401);
    assert.equal(body["error"], "invalid_client");
    assert.match(body["error_description"] as string, /^AADSTS7000215: Invalid client secret provided\./);
    assert.match(body["error_description"] as string, /\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.deepEqual(body["error_codes"], [7000215]);
    assert.match(body["timestamp"] as string, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.match(body["trace_id"] as string, /^[0-9a-f-]{36}$/);
    assert.match(body["correlation_id"] as string, /^[0-9a-f-]{36}$/);

    const credential = new ClientSecretCredential(standIn.tenantId, defaultClient.clientId, "wrong", { authorityHost: standIn.url, disableInstanceDiscovery: true });
    await assert.rejects(credential.getToken(graphScope), /AADSTS7000215/);
  });

  it("answers an unknown client with 400 unauthorized_client AADSTS700016", async () => {
    const { status, body } = await fetchJson(tokenUrl, form({ grant_type: "client_credentials", client_id: "22222222-2222-2222-2222-222222222222", client_secret: "x", scope: graphScope }));
    assert.equal(status, 400);
    assert.equal(body["error"], "unauthorized_client");
    assert.match(body["error_description"] as string, /^AADSTS700016: Application with identifier '22222222-2222-2222-2222-222222222222' was not found/);
    assert.deepEqual(body["error_codes"], [700016]);
  });

  it("rejects other tenants, scopes and grant types, and a request without any client credential", async () => {
    const base = { grant_type: "client_credentials", client_id: defaultClient.clientId, client_secret: defaultClient.clientSecret, scope: graphScope };
    const otherTenant = await fetchJson(`${standIn.url}/contoso.onmicrosoft.com/oauth2/v2.0/token`, form(base));
    assert.equal(otherTenant.status, 400);
    assert.deepEqual(otherTenant.body["error_codes"], [90002]);
    const scope = await fetchJson(tokenUrl, form({ ...base, scope: "https://management.azure.com/.default" }));
    assert.equal(scope.body["error"], "invalid_scope");
    const grant = await fetchJson(tokenUrl, form({ ...base, grant_type: "password" }));
    assert.equal(grant.body["error"], "unsupported_grant_type");
    const { client_secret: _omitted, ...withoutSecret } = base;
    const missing = await fetchJson(tokenUrl, form(withoutSecret));
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.body["error_codes"], [7000218]);
    const get = await fetchJson(tokenUrl);
    assert.equal(get.status, 400);
  });

  it("accepts client_secret_basic authentication", async () => {
    const basic = Buffer.from(`${defaultClient.clientId}:${defaultClient.clientSecret}`).toString("base64");
    const { status, body } = await fetchJson(tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: graphScope }).toString(),
    });
    assert.equal(status, 200);
    assert.equal(body["token_type"], "Bearer");
    assert.equal(body["expires_in"], 3599);
    assert.equal(body["ext_expires_in"], 3599);
  });

  it("accepts and records a client assertion whose issuer and subject are the client id", async () => {
    const assertion = unsignedJwt({ iss: defaultClient.clientId, sub: defaultClient.clientId, aud: tokenUrl, exp: Math.floor(Date.now() / 1000) + 600 });
    const fields = {
      grant_type: "client_credentials",
      client_id: defaultClient.clientId,
      scope: graphScope,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    };
    const accepted = await fetchJson(tokenUrl, form(fields));
    assert.equal(accepted.status, 200);
    assert.equal(decodeJwt(accepted.body["access_token"] as string)["appid"], defaultClient.clientId);
    assert.ok(standIn.clientAssertions.some((record) => record.assertion === assertion && record.clientId === defaultClient.clientId));

    const mismatched = await fetchJson(tokenUrl, form({ ...fields, client_assertion: unsignedJwt({ iss: "someone-else", sub: "someone-else" }) }));
    assert.equal(mismatched.status, 401);
    assert.equal(mismatched.body["error"], "invalid_client");
  });
});
