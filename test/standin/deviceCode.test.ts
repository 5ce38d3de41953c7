// The stand-in's device authorization grant, through the real DeviceCodeCredential (MSAL's polling) and through raw requests in the documented wire format.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeviceCodeCredential, type DeviceCodeInfo } from "@azure/identity";
import { DirectoryModel } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import { explainSignInError } from "../../src/identity/signInErrors";
import { graphCommandLineToolsAppId } from "../../src/identity/workstationSignIn";
import { decodeJwt, fetchJson, startStandIn } from "./standInTestSupport";

const admin = { upn: "admin@contoso.com", scp: "Directory.AccessAsUser.All User.Read.All" };

function form(fields: Record<string, string>): RequestInit {
  return { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() };
}

/** A DeviceCodeCredential as the CLI builds it, whose prompt hands the device code info to the test. */
function deviceCredential(standIn: GraphStandIn): { credential: DeviceCodeCredential; prompts: Promise<DeviceCodeInfo> } {
  let show: (info: DeviceCodeInfo) => void = () => undefined;
  const prompts = new Promise<DeviceCodeInfo>((resolvePrompt) => (show = resolvePrompt));
  const credential = new DeviceCodeCredential({ tenantId: standIn.tenantId, clientId: graphCommandLineToolsAppId, authorityHost: standIn.url, disableInstanceDiscovery: true, userPromptCallback: (info) => show(info) });
  return { credential, prompts };
}

describe("device authorization grant", () => {
  let standIn: GraphStandIn;
  before(async () => {
    standIn = await startStandIn({ model: DirectoryModel.generate({ users: 3, groups: 1 }), deviceCodeIntervalSeconds: 1 });
  });
  after(async () => standIn.stop());

  it("the real DeviceCodeCredential shows the message, polls until the user signs in, and gets a delegated Graph token; later calls reuse it", async () => {
    const { credential, prompts } = deviceCredential(standIn);
    const token = credential.getToken(`${standIn.url}/.default`);
    const info = await prompts;
    assert.match(info.userCode, /^[A-Z0-9]{9}$/);
    assert.equal(info.verificationUri, "https://microsoft.com/devicelogin");
    assert.equal(info.message, `To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ${info.userCode} to authenticate.`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 1_500));
    standIn.deviceCodes.approve(info.userCode, admin);
    const claims = decodeJwt((await token)!.token);
    assert.equal(claims["tid"], standIn.tenantId);
    assert.equal(claims["scp"], admin.scp);
    assert.equal(claims["upn"], admin.upn);
    assert.equal(claims["appid"], graphCommandLineToolsAppId);
    const polls = standIn.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
    assert.ok(polls.length >= 2, "at least one authorization_pending before the approval");
    assert.deepEqual(polls.slice(0, -1).map((request) => request.status), polls.slice(0, -1).map(() => 400));
    const again = await credential.getToken(`${standIn.url}/.default`);
    assert.equal(again?.token, (await token)!.token, "the cached token, with no second prompt");
    assert.equal(standIn.deviceCodes.list().length, 1);
  });

  it("answers the documented errors: authorization_pending, authorization_declined, expired_token, bad_verification_code", async () => {
    const base = `${standIn.url}/${standIn.tenantId}/oauth2/v2.0`;
    const start = async () => (await fetchJson(`${base}/devicecode`, form({ client_id: graphCommandLineToolsAppId, scope: `${standIn.url}/.default openid profile offline_access` }))).body as Record<string, unknown>;
    const poll = async (deviceCode: string) => fetchJson(`${base}/token`, form({ grant_type: "urn:ietf:params:oauth:grant-type:device_code", client_id: graphCommandLineToolsAppId, device_code: deviceCode }));
    const started = await start();
    assert.deepEqual(Object.keys(started).sort(), ["device_code", "expires_in", "interval", "message", "user_code", "verification_uri"]);
    assert.equal(started.expires_in, 900);
    const pending = await poll(String(started.device_code));
    assert.equal(pending.status, 400);
    assert.equal((pending.body as { error: string }).error, "authorization_pending");
    assert.match((pending.body as { error_description: string }).error_description, /^AADSTS70016: /);
    standIn.deviceCodes.decline(String(started.user_code));
    assert.equal(((await poll(String(started.device_code))).body as { error: string }).error, "authorization_declined");
    const expiring = await start();
    standIn.deviceCodes.expire(String(expiring.user_code));
    const expired = await poll(String(expiring.device_code));
    assert.equal((expired.body as { error: string }).error, "expired_token");
    assert.match((expired.body as { error_description: string }).error_description, /^AADSTS70019: /);
    assert.equal(((await poll("not-a-device-code")).body as { error: string }).error, "bad_verification_code");
    const approved = await start();
    standIn.deviceCodes.approve(String(approved.user_code), admin);
    const tokens = (await poll(String(approved.device_code))).body as Record<string, unknown>;
    assert.equal(tokens.token_type, "Bearer");
    assert.ok(typeof tokens.access_token === "string" && typeof tokens.refresh_token === "string" && typeof tokens.id_token === "string");
    assert.equal(((await poll(String(approved.device_code))).body as { error: string }).error, "bad_verification_code", "a device code is redeemed once");
    const unknownClient = await fetchJson(`${base}/devicecode`, form({ client_id: "22222222-2222-2222-2222-222222222222", scope: `${standIn.url}/.default` }));
    assert.equal((unknownClient.body as { error: string }).error, "unauthorized_client");
  });

  it("a declined sign-in fails the real credential with the server's answer", async () => {
    const { credential, prompts } = deviceCredential(standIn);
    const token = credential.getToken(`${standIn.url}/.default`);
    standIn.deviceCodes.decline((await prompts).userCode);
    await assert.rejects(token, /authorization_declined/);
  });

  it("an expired code fails the real credential with expired_token, which the CLI explains as signIn.notCompleted", async () => {
    const { credential, prompts } = deviceCredential(standIn);
    const token = credential.getToken(`${standIn.url}/.default`);
    standIn.deviceCodes.expire((await prompts).userCode);
    const failure = await token.then(() => undefined, (error: unknown) => error);
    assert.match(String(failure), /expired_token/);
    const explained = await explainSignInError(failure, { tenantId: standIn.tenantId, clientId: graphCommandLineToolsAppId, authorityHost: standIn.url, cloud: "public", who: "the account signing in with the device code" });
    assert.equal(explained?.code, "signIn.notCompleted");
    assert.match(explained!.message, /expired before the sign-in .* was completed \(a code lasts 15 minutes\)\. Run the command again/);
  });
});
