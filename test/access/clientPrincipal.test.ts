// Reading the caller from App Service Authentication's header, and the development sign-in's guard against running on App Service.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { consoleAppRoles, decodeClientPrincipal, encodeClientPrincipal } from "../../src/access/clientPrincipal";
import { decideConsoleAccess, enableLocalSignIn, principalHeaderTrusted } from "../../src/access/consoleAccess";

const encode = (payload: unknown) => Buffer.from(JSON.stringify(payload)).toString("base64");

describe("client principal header", () => {
  test("reads the name, object id and app roles of the platform's format, roles under 'roles' or the role claim type", () => {
    const header = encode({
      auth_typ: "aad",
      name_typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
      role_typ: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
      claims: [
        { typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", val: "ada@contoso.com" },
        { typ: "http://schemas.microsoft.com/identity/claims/objectidentifier", val: "0c6f0000-0000-4000-8000-000000000001" },
        { typ: "roles", val: "Sync.Viewer" },
        { typ: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", val: "Sync.Admin" },
        { typ: "roles", val: "Sync.Viewer" },
      ],
    });
    assert.deepEqual(decodeClientPrincipal(header), { identityProvider: "aad", name: "ada@contoso.com", objectId: "0c6f0000-0000-4000-8000-000000000001", roles: ["Sync.Viewer", "Sync.Admin"] });
  });

  test("anything that is not a client principal reads as nobody signed in", () => {
    for (const header of [undefined, null, "", "not base64 json", encode("text"), encode({ claims: "x" }), encode(null), "A".repeat(40_000)]) assert.equal(decodeClientPrincipal(header), undefined, String(header).slice(0, 20));
    assert.deepEqual(decodeClientPrincipal(encode({ claims: [{ typ: "roles", val: 3 }, { typ: "name", val: "x" }] }))?.roles, [], "claims with non-string values are ignored");
  });

  test("what the local host encodes reads back the same", () => {
    const principal = { name: "dev@localhost", objectId: "00000000-0000-4000-8000-000000000009", roles: [consoleAppRoles.act] };
    assert.deepEqual(decodeClientPrincipal(encodeClientPrincipal(principal)), { identityProvider: "aad", ...principal });
  });
});

describe("trusting the header", () => {
  test("only when App Service Authentication runs: a forged header on an app without it is not believed", () => {
    const request = { method: "GET", url: "https://func.example.net/api/console/status", headers: new Headers({ "x-ms-client-principal": encodeClientPrincipal({ name: "mallory", objectId: undefined, roles: [consoleAppRoles.act] }) }) };
    assert.equal(principalHeaderTrusted({}), false);
    const refused = decideConsoleAccess(request, "view", {});
    assert.equal(refused.allowed, false);
    assert.equal(principalHeaderTrusted({ WEBSITE_AUTH_ENABLED: "True" }), true);
    assert.equal(decideConsoleAccess(request, "act", { WEBSITE_AUTH_ENABLED: "True" }).allowed, true);
  });

  test("the development sign-in refuses to switch on where App Service runs the code", () => {
    for (const marker of ["WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME", "WEBSITE_HOSTNAME"]) {
      assert.throws(() => enableLocalSignIn({ [marker]: "func-contoso" }), new RegExp(`${marker} is set`));
    }
    assert.equal(principalHeaderTrusted({}), false, "a refused switch leaves the header untrusted");
  });
});
