// The console's routes against Azurite and the Graph stand-in: who may read and act, the paged run list, the scope view, the change filters.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { HttpResponseInit } from "@azure/functions";
import { consoleAsset } from "../../functions/consoleAsset";
import { consoleGetSyncChanges } from "../../functions/consoleGetSyncChanges";
import { consoleGetSyncStatus } from "../../functions/consoleGetSyncStatus";
import { consoleListSyncRuns } from "../../functions/consoleListSyncRuns";
import { consoleMe } from "../../functions/consoleMe";
import { consolePage } from "../../functions/consolePage";
import { consoleRequestSync } from "../../functions/consoleRequestSync";
import { consoleGetHeldDeletions } from "../../functions/consoleGetHeldDeletions";
import { getHeldDeletions } from "../../functions/getHeldDeletions";
import { getScope } from "../../functions/getScope";
import { listSyncRuns } from "../../functions/listSyncRuns";
import { consoleAppRoles, encodeClientPrincipal } from "../../src/access/clientPrincipal";
import { consoleContentSecurityPolicy } from "../../src/console/consoleAssets";
import { silentLogger } from "../../src/logging/logger";
import { useSyncService } from "../../src/service/serviceProvider";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";
import { clearQueue, drainWorker, httpRequest, installService, invocation, origin, queuedCount, requestQueue, type HttpCall } from "./support/functionsHarness";

let env: TestEnvironment;
interface TestPrincipal {
  name: string;
  objectId: string;
  roles: string[];
}
const admin: TestPrincipal = { name: "ada@contoso.example", objectId: "0a0a0a0a-0000-4000-8000-000000000001", roles: [consoleAppRoles.act] };
const viewer: TestPrincipal = { name: "vic@contoso.example", objectId: "0a0a0a0a-0000-4000-8000-000000000002", roles: [consoleAppRoles.view] };
const nobody: TestPrincipal = { name: "nora@contoso.example", objectId: "0a0a0a0a-0000-4000-8000-000000000003", roles: ["Some.Other.Role"] };

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 41, users: 30, groups: 6 }), standIn: { usersPageSize: 10, groupsPageSize: 3 } });
});
afterEach(async () => {
  useSyncService(undefined);
  delete process.env.WEBSITE_AUTH_ENABLED;
  await clearQueue(requestQueue(env));
});
after(async () => env?.stop());

type Handler = (request: ReturnType<typeof httpRequest>, context: ReturnType<typeof invocation>["context"]) => Promise<unknown>;

/** Calls a handler as the host would, with the principal App Service Authentication would put on the request. */
async function call(handler: Handler, request: HttpCall & { principal?: TestPrincipal }): Promise<HttpResponseInit & { jsonBody: Record<string, any>; headers: Record<string, string> }> {
  const headers = { ...(request.headers ?? {}), ...(request.principal ? { "x-ms-client-principal": encodeClientPrincipal(request.principal), "x-ms-client-principal-name": request.principal.name } : {}) };
  const { context } = invocation("test");
  const response = (await handler(httpRequest({ ...request, headers }), context)) as HttpResponseInit;
  return { ...response, jsonBody: response.jsonBody === undefined ? {} : (JSON.parse(JSON.stringify(response.jsonBody)) as Record<string, any>), headers: (response.headers ?? {}) as Record<string, string> };
}

const jsonPost = (body: unknown) => ({ method: "POST" as const, path: "/api/console/sync", body: JSON.stringify(body), headers: { "content-type": "application/json", origin } });

describe("console access", () => {
  test("without App Service Authentication on the app, a principal header is not believed and nothing runs", async () => {
    installService(env, env.settings());
    const answer = await call(consoleRequestSync, { ...jsonPost({}), principal: admin });
    assert.equal(answer.status, 401);
    assert.equal(answer.jsonBody.error.code, "sign_in_not_configured");
    assert.equal(await queuedCount(requestQueue(env)), 0);
  });

  test("not signed in: the API answers 401 with where to sign in, and the page redirects to the Entra sign-in", async () => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    installService(env, env.settings());
    const status = await call(consoleGetSyncStatus, { method: "GET", path: "/api/console/status" });
    assert.equal(status.status, 401);
    assert.equal(status.jsonBody.error.signInUrl, "/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fconsole");
    const me = await call(consoleMe, { method: "GET", path: "/api/console/me" });
    assert.equal(me.status, 401);
    const page = await call(consolePage, { method: "GET", path: "/api/console" });
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, "/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fconsole");
  });

  test("a viewer reads status and runs but a POST is 403 and queues nothing", async () => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    installService(env, env.settings());
    const status = await call(consoleGetSyncStatus, { method: "GET", path: "/api/console/status", principal: viewer });
    assert.equal(status.status, 200);
    assert.equal(status.jsonBody.tenants.length, 1);
    assert.equal((await call(consoleListSyncRuns, { method: "GET", path: "/api/console/runs", principal: viewer })).status, 200);
    const me = await call(consoleMe, { method: "GET", path: "/api/console/me", principal: viewer });
    assert.deepEqual({ canView: me.jsonBody.canView, canAct: me.jsonBody.canAct, name: me.jsonBody.name }, { canView: true, canAct: false, name: viewer.name });
    const refused = await call(consoleRequestSync, { ...jsonPost({ mode: "full" }), principal: viewer });
    assert.equal(refused.status, 403);
    assert.equal(refused.jsonBody.error.code, "forbidden");
    assert.match(refused.jsonBody.error.message, /Sync\.Admin/);
    assert.equal(await queuedCount(requestQueue(env)), 0);
  });

  test("an account without a console role is refused everything, with the roles to ask for", async () => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    installService(env, env.settings());
    const answer = await call(consoleGetSyncStatus, { method: "GET", path: "/api/console/status", principal: nobody });
    assert.equal(answer.status, 403);
    assert.equal(answer.jsonBody.error.code, "no_console_role");
    assert.match(answer.jsonBody.error.message, /Sync\.Viewer.*Sync\.Admin/);
  });

  test("an admin's action must be a same-origin JSON POST; then it is queued in the admin's name and runs", async () => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    const settings = env.settings();
    installService(env, settings);
    const form = await call(consoleRequestSync, { method: "POST", path: "/api/console/sync", body: "mode=full", headers: { "content-type": "application/x-www-form-urlencoded", origin }, principal: admin });
    assert.equal(form.status, 415);
    const empty = await call(consoleRequestSync, { method: "POST", path: "/api/console/sync", headers: { origin }, principal: admin });
    assert.equal(empty.status, 415, "an action without a JSON content type is refused even with no body");
    const crossSite = await call(consoleRequestSync, { ...jsonPost({}), headers: { "content-type": "application/json", origin: "https://evil.example" }, principal: admin });
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.jsonBody.error.code, "cross_origin");
    assert.equal(await queuedCount(requestQueue(env)), 0);
    const accepted = await call(consoleRequestSync, { ...jsonPost({ mode: "full" }), principal: admin });
    assert.equal(accepted.status, 202);
    assert.equal(await drainWorker(requestQueue(env)), 1);
    const runs = await call(consoleListSyncRuns, { method: "GET", path: "/api/console/runs", principal: viewer });
    assert.equal(runs.jsonBody.runs[0].runId, accepted.jsonBody.runId);
    assert.equal(runs.jsonBody.runs[0].requestedBy, admin.name);
    assert.equal(runs.jsonBody.runs[0].status, "succeeded");
  });

  test("assets: only the listed files, each under the strict CSP", async () => {
    const script = await call(consoleAsset, { method: "GET", path: "/api/console/assets/app.js", params: { name: "app.js" } });
    assert.equal(script.status, 200);
    assert.equal(script.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(script.headers["content-security-policy"], consoleContentSecurityPolicy);
    assert.match(consoleContentSecurityPolicy, /script-src 'self'/);
    assert.doesNotMatch(consoleContentSecurityPolicy, /unsafe-inline|unsafe-eval|https:/);
    for (const name of ["../package.json", "..%2Fhost.json", "index.html", "app.ts"]) {
      assert.equal((await call(consoleAsset, { method: "GET", path: `/api/console/assets/${name}`, params: { name } })).status, 404, name);
    }
  });
});

describe("GET /api/sync/runs", () => {
  test("pages the import log newest first; the cursor continues where the page ended and a forged one is 400", async () => {
    const settings = env.settings();
    installService(env, settings);
    const composition = env.compose(settings);
    const runIds: string[] = [];
    for (let i = 0; i < 3; i++) runIds.push((await composition.engine.run({ trigger: "cli" })).summary.runId);
    const first = await call(listSyncRuns, { method: "GET", path: "/api/sync/runs?limit=2" });
    assert.equal(first.status, 200);
    assert.deepEqual(first.jsonBody.runs.map((run: { runId: string }) => run.runId), [runIds[2], runIds[1]]);
    assert.ok(first.jsonBody.nextCursor);
    assert.equal(new URL(first.jsonBody.nextUrl).searchParams.get("cursor"), first.jsonBody.nextCursor);
    const second = await call(listSyncRuns, { method: "GET", path: `/api/sync/runs?limit=2&cursor=${first.jsonBody.nextCursor}` });
    assert.deepEqual(second.jsonBody.runs.map((run: { runId: string }) => run.runId), [runIds[0]]);
    assert.equal(second.jsonBody.nextCursor, null);
    const outline = second.jsonBody.runs[0];
    assert.deepEqual([outline.trigger, outline.mode, outline.status, typeof outline.durationMs, outline.users.created], ["cli", "full", "succeeded", "number", 30]);
    const forged = await call(listSyncRuns, { method: "GET", path: `/api/sync/runs?cursor=${Buffer.from("PartitionKey eq 'x'").toString("base64url")}` });
    assert.equal(forged.status, 400);
    assert.equal((await call(listSyncRuns, { method: "GET", path: "/api/sync/runs?limit=0" })).status, 400);
  });
});

describe("GET /api/sync/held", () => {
  test("lists every held deletion with who and why until a run with allowDeletions applies them", async () => {
    const model = DirectoryModel.generate({ seed: 43, users: 20, groups: 4 });
    const local = await startEnvironment({ model });
    try {
      process.env.WEBSITE_AUTH_ENABLED = "True";
      const settings = local.settings({ DELETION_THRESHOLD_COUNT: "2", DELETION_THRESHOLD_PERCENT: "0" });
      const service = installService(local, settings);
      const run = async (allowDeletions: boolean) => {
        await service.requestRun({ tenantId: settings.tenantId, mode: "incremental", dryRun: false, allowDeletions, trigger: "manual", requestedBy: "test" }, silentLogger);
        await drainWorker(requestQueue(local));
      };
      await run(false);
      const leavers = [...model.users.values()].filter((user) => !user.deleted && user.userType === "Member").slice(0, 3);
      model.softDeleteUser(leavers[0]!.id);
      model.softDeleteUser(leavers[1]!.id);
      model.hardDeleteUser(leavers[2]!.id);
      await run(false);
      const held = await call(getHeldDeletions, { method: "GET", path: "/api/sync/held" });
      assert.equal(held.status, 200);
      assert.equal(held.jsonBody.count, 3);
      const reasons = Object.fromEntries(held.jsonBody.deletions.map((deletion: { userId: string; reason: string }) => [deletion.userId, deletion.reason]));
      assert.deepEqual(reasons, { [leavers[0]!.id]: "softDeletedInEntra", [leavers[1]!.id]: "softDeletedInEntra", [leavers[2]!.id]: "deletedInEntra" });
      assert.ok(held.jsonBody.deletions.every((deletion: { name: string; why: string }) => deletion.name !== "" && deletion.why.length > 10));
      const viewed = await call(consoleGetHeldDeletions, { method: "GET", path: "/api/console/held", principal: viewer });
      assert.deepEqual(viewed.jsonBody, held.jsonBody);
      await run(true);
      assert.equal((await call(getHeldDeletions, { method: "GET", path: "/api/sync/held" })).jsonBody.count, 0);
    } finally {
      useSyncService(undefined);
      await local.stop();
    }
  });
});

describe("GET /api/scope", () => {
  test("scope, exclusion and role-mapping groups come back with their synced names; an id no group has is named as such", async () => {
    const groups = [...env.model.groups.values()];
    const missing = "0b0b0b0b-0000-4000-8000-000000000000";
    const settings = env.settings({ SCOPE_GROUPS: `${groups[0]!.id},${missing}`, SCOPE_EXCLUDE_GROUP_NAME_PATTERNS: `${groups[1]!.displayName.slice(0, 3)}*`, ROLE_MAPPING: JSON.stringify({ [groups[2]!.id]: "Admin" }) });
    installService(env, settings);
    await env.compose(settings).engine.run({ mode: "full", trigger: "cli" });
    const answer = await call(getScope, { method: "GET", path: "/api/scope" });
    assert.equal(answer.status, 200);
    assert.equal(answer.jsonBody.limitedByGroups, true);
    assert.deepEqual(answer.jsonBody.scopeGroups, [
      { id: groups[0]!.id, displayName: groups[0]!.displayName, deleted: false },
      { id: missing, displayName: null, deleted: false },
    ]);
    const pattern = answer.jsonBody.excludeGroupNamePatterns[0];
    assert.ok(pattern.matches.some((group: { id: string }) => group.id === groups[1]!.id), "the pattern lists the group it matches");
    assert.equal(answer.jsonBody.roleMapping[0].group.displayName, groups[2]!.displayName);
    assert.equal(answer.jsonBody.settingNames.scopeGroups, "SCOPE_GROUPS");
  });
});

describe("GET /api/console/changes", () => {
  test("filters by object type and time, and pages", async () => {
    process.env.WEBSITE_AUTH_ENABLED = "True";
    const settings = env.settings();
    installService(env, settings);
    const service = installService(env, settings);
    await service.requestRun({ tenantId: settings.tenantId, mode: "full", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, silentLogger);
    await drainWorker(requestQueue(env));
    const users = [...env.model.users.values()].filter((user) => !user.deleted);
    for (const user of users.slice(0, 3)) env.model.updateUser(user.id, { jobTitle: `Changed ${user.id.slice(0, 4)}` });
    env.model.addMember([...env.model.groups.values()][0]!.id, users[5]!.id);
    await service.requestRun({ tenantId: settings.tenantId, mode: "incremental", dryRun: false, allowDeletions: false, trigger: "manual", requestedBy: "test" }, silentLogger);
    await drainWorker(requestQueue(env));
    const all = await call(consoleGetSyncChanges, { method: "GET", path: "/api/console/changes?limit=100", principal: viewer });
    assert.equal(all.status, 200);
    const kinds = all.jsonBody.events.map((event: { kind: string }) => event.kind);
    assert.ok(kinds.includes("userUpdated") && kinds.includes("membershipAdded"), kinds.join());
    const usersOnly = await call(consoleGetSyncChanges, { method: "GET", path: "/api/console/changes?objectType=user&limit=2", principal: viewer });
    assert.equal(usersOnly.jsonBody.events.length, 2);
    assert.ok(usersOnly.jsonBody.events.every((event: { kind: string }) => event.kind.startsWith("user")));
    const next = await call(consoleGetSyncChanges, { method: "GET", path: `/api/console/changes?objectType=user&limit=2&cursor=${usersOnly.jsonBody.nextCursor}`, principal: viewer });
    assert.ok(next.jsonBody.events.length >= 1 && next.jsonBody.events.every((event: { kind: string }) => event.kind.startsWith("user")));
    const before = await call(consoleGetSyncChanges, { method: "GET", path: "/api/console/changes?until=2000-01-01T00:00:00Z", principal: viewer });
    assert.deepEqual(before.jsonBody.events, []);
    const bad = await call(consoleGetSyncChanges, { method: "GET", path: "/api/console/changes?objectType=printer", principal: viewer });
    assert.equal(bad.status, 400);
  });
});
