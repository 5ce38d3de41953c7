// Fault injection and access control on the stand-in: throttling, server errors, expired tokens, crashes, latency, 401 and 403.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { DirectoryModel } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import { credentialFor, errorCode, fetchJson, graphClientFor, graphScope, rawGet, readRound, startStandIn } from "./standInTestSupport";

describe("faults", () => {
  let standIn: GraphStandIn;
  let token: string;
  const auth = () => ({ headers: { Authorization: `Bearer ${token}` } });
  before(async () => {
    standIn = await startStandIn({ model: DirectoryModel.generate({ seed: 4, users: 30, groups: 6 }), usersPageSize: 10 });
    const accessToken = await credentialFor(standIn).getToken(graphScope);
    assert.ok(accessToken);
    token = accessToken.token;
  });
  afterEach(() => standIn.faults.clear());
  after(async () => standIn.stop());

  it("throttleNext answers 429 with Retry-After and Graph's documented body, then recovers", async () => {
    standIn.faults.throttleNext(1);
    const throttled = await fetchJson(`${standIn.url}/v1.0/users/delta`, { headers: { ...auth().headers, "client-request-id": "abc-123" } });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get("retry-after"), "1");
    assert.equal(throttled.headers.get("client-request-id"), "abc-123");
    assert.match(throttled.headers.get("request-id") ?? "", /^[0-9a-f-]{36}$/);
    const error = throttled.body["error"] as Record<string, unknown>;
    assert.equal(error["code"], "TooManyRequests");
    const inner = error["innerError"] as Record<string, unknown>;
    assert.equal(inner["status"], "429");
    assert.equal(inner["request-id"], throttled.headers.get("request-id"));
    assert.equal(inner["client-request-id"], "abc-123");
    assert.match(inner["date"] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const after429 = await fetchJson(`${standIn.url}/v1.0/users/delta`, auth());
    assert.equal(after429.status, 200);
  });

  it("lets the Graph SDK's retry handler ride out throttling that carries Retry-After", async () => {
    const before429 = standIn.requests.length;
    standIn.faults.throttleNext(2, 0);
    const round = await readRound(graphClientFor(standIn), "/users/delta?$select=displayName");
    assert.equal(round.objects.length, 30);
    const statuses = standIn.requests.slice(before429).filter((request) => request.path.startsWith("/v1.0")).map((request) => request.status);
    assert.deepEqual(statuses.slice(0, 3), [429, 429, 200]);
  });

  it("failNext answers the chosen server error, with Retry-After only when asked", async () => {
    standIn.faults.failNext(1, 503, 2);
    const unavailable = await fetchJson(`${standIn.url}/v1.0/users/delta`, auth());
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers.get("retry-after"), "2");
    assert.equal(errorCode(unavailable.body), "serviceNotAvailable");
    standIn.faults.failNext(2, 500);
    const first = await fetchJson(`${standIn.url}/v1.0/users/delta`, auth());
    const second = await fetchJson(`${standIn.url}/v1.0/groups/delta`, auth());
    assert.deepEqual([first.status, second.status], [500, 500]);
    assert.equal(first.headers.get("retry-after"), null);
    assert.equal((await fetchJson(`${standIn.url}/v1.0/users/delta`, auth())).status, 200);
  });

  it("expireDeltaTokens('gone') answers old links with 410 resyncRequired and a Location that starts over", async () => {
    const client = graphClientFor(standIn);
    const round = await readRound(client, "/users/delta?$select=displayName,mail");
    const midRound = round.pages[0]?.["@odata.nextLink"] as string;
    standIn.faults.expireDeltaTokens("gone");
    for (const link of [round.deltaLink, midRound]) {
      const gone = await rawGet(client, link);
      assert.equal(gone.status, 410);
      assert.equal(errorCode(gone.body), "resyncRequired");
      assert.equal(gone.headers.get("location"), `${standIn.url}/v1.0/users/delta?$select=displayName,mail`);
    }
    const restart = await readRound(client, `${standIn.url}/v1.0/users/delta?$select=displayName,mail`);
    assert.equal(restart.objects.length, 30);
    const fresh = await rawGet(client, restart.deltaLink);
    assert.equal(fresh.status, 200, "links issued after the reset work");
  });

  it("expireDeltaTokens('badRequest') answers old links with 400 syncStateNotFound", async () => {
    const client = graphClientFor(standIn);
    const round = await readRound(client, "/groups/delta?$select=displayName,members");
    standIn.faults.expireDeltaTokens("badRequest");
    const expired = await rawGet(client, round.deltaLink);
    assert.equal(expired.status, 400);
    assert.equal(errorCode(expired.body), "syncStateNotFound");
  });

  it("failAfterGraphRequests lets n Graph requests through, then answers 500 to everything until cleared", async () => {
    standIn.faults.failAfterGraphRequests(2);
    const statuses: number[] = [];
    for (let n = 0; n < 4; n++) statuses.push((await fetchJson(`${standIn.url}/v1.0/users/delta`, auth())).status);
    assert.deepEqual(statuses, [200, 200, 500, 500]);
    const tokenDuringCrash = await fetchJson(`${standIn.url}/${standIn.tenantId}/oauth2/v2.0/token`, { method: "POST" });
    assert.equal(tokenDuringCrash.status, 500);
    standIn.faults.failAfterGraphRequests(undefined);
    assert.equal((await fetchJson(`${standIn.url}/v1.0/users/delta`, auth())).status, 200);
  });

  it("adds latencyMs to every response", async () => {
    standIn.faults.latencyMs = 150;
    const started = performance.now();
    await fetchJson(`${standIn.url}/v1.0/users/delta`, auth());
    assert.ok(performance.now() - started >= 145);
  });
});

describe("access control", () => {
  let standIn: GraphStandIn;
  const usersOnly = { clientId: "33333333-3333-3333-3333-333333333333", clientSecret: "users-only" };
  before(async () => {
    standIn = await startStandIn({
      model: DirectoryModel.generate({ seed: 4, users: 5, groups: 2 }),
      clients: [
        { clientId: "11111111-1111-1111-1111-111111111111", clientSecret: "stand-in-secret", roles: ["User.Read.All", "GroupMember.Read.All"] },
        { ...usersOnly, roles: ["User.Read.All"] },
      ],
    });
  });
  after(async () => standIn.stop());

  it("answers a request without a valid bearer token with 401 InvalidAuthenticationToken", async () => {
    const missing = await fetchJson(`${standIn.url}/v1.0/users/delta`);
    assert.equal(missing.status, 401);
    assert.equal(errorCode(missing.body), "InvalidAuthenticationToken");
    assert.equal((missing.body["error"] as Record<string, unknown>)["message"], "Access token is empty.");
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer /);

    const accessToken = await credentialFor(standIn).getToken(graphScope);
    assert.ok(accessToken);
    const [header, payload] = accessToken.token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload as string, "base64url").toString()), roles: ["Directory.ReadWrite.All"] })).toString("base64url");
    const forged = await fetchJson(`${standIn.url}/v1.0/users/delta`, { headers: { Authorization: `Bearer ${header}.${forgedPayload}.AAAA` } });
    assert.equal(forged.status, 401);
    assert.equal(errorCode(forged.body), "InvalidAuthenticationToken");
    const garbage = await fetchJson(`${standIn.url}/v1.0/users/delta`, { headers: { Authorization: "Bearer not-a-jwt" } });
    assert.equal(garbage.status, 401);
  });

  it("answers 403 Authorization_RequestDenied when the app lacks the role", async () => {
    const client = graphClientFor(standIn, usersOnly);
    const users = await rawGet(client, "/users/delta?$select=displayName");
    assert.equal(users.status, 200);
    const groups = await rawGet(client, "/groups/delta?$select=displayName,members");
    assert.equal(groups.status, 403);
    assert.equal(errorCode(groups.body), "Authorization_RequestDenied");
    assert.equal((groups.body["error"] as Record<string, unknown>)["message"], "Insufficient privileges to complete the operation.");
  });
});
