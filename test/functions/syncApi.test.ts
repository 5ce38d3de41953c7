// The HTTP functions against Azurite and the Graph stand-in: what callers get back, and that bad requests never start anything.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getSyncChanges } from "../../functions/getSyncChanges";
import { getSyncRun } from "../../functions/getSyncRun";
import { getSyncStatus } from "../../functions/getSyncStatus";
import { getExclusionSuggestions } from "../../functions/getExclusionSuggestions";
import { requestSync } from "../../functions/requestSync";
import type { Settings } from "../../src/config/settings";
import { RunLeases } from "../../src/service/runLease";
import { useSyncService } from "../../src/service/serviceProvider";
import { openServiceTables } from "../../src/service/serviceStorage";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";
import { clearQueue, drainWorker, httpRequest, installService, invocation, origin, queuedCount, requestQueue, type HttpCall } from "./support/functionsHarness";

let env: TestEnvironment;

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 31, users: 40, groups: 8 }), standIn: { usersPageSize: 15, groupsPageSize: 3, membersPerGroupAppearance: 5 } });
});
afterEach(async () => {
  useSyncService(undefined);
  await clearQueue(requestQueue(env));
});
after(async () => env?.stop());

async function call(handler: typeof requestSync, request: HttpCall, functionName = "test"): Promise<HttpResponseInit & { jsonBody: Record<string, any> }> {
  const { context } = invocation(functionName);
  return asSent(await handler(httpRequest(request), context));
}

/** The answer as the caller receives it: the body goes through JSON, so undefined fields disappear. */
function asSent(response: HttpResponseInit): HttpResponseInit & { jsonBody: Record<string, any>; headers: Record<string, string> } {
  return { ...response, jsonBody: JSON.parse(JSON.stringify(response.jsonBody)) as Record<string, any>, headers: (response.headers ?? {}) as Record<string, string> };
}

/** Nothing happened for the tenant: no lease, no queued message, no request record. */
async function assertNothingStarted(settings: Settings, label: string): Promise<void> {
  const tables = openServiceTables(settings);
  const lease = await new RunLeases(tables.syncState, 60_000).read(settings.tenantId).catch(() => undefined);
  assert.equal(lease, undefined, `${label}: no lease`);
  assert.equal(await queuedCount(requestQueue(env)), 0, `${label}: no queued message`);
  const records: unknown[] = [];
  try {
    for await (const record of tables.runRequests.listEntities()) records.push(record);
  } catch {
    // No table yet: nothing was recorded.
  }
  assert.deepEqual(records, [], `${label}: no request record`);
}

describe("POST /api/sync", () => {
  test("each bad request gets a 4xx that says what is wrong, and nothing starts", async () => {
    const settings = env.settings();
    installService(env, settings);
    const json = { "content-type": "application/json" };
    const cases: Array<{ label: string; body?: string; bytes?: Uint8Array; headers?: Record<string, string>; status: number; code: string; message: RegExp }> = [
      { label: "malformed JSON", body: '{"mode": "full"', headers: json, status: 400, code: "invalid_json", message: /not valid JSON/ },
      { label: "an array", body: "[]", headers: json, status: 400, code: "invalid_body", message: /JSON object/ },
      { label: "null", body: "null", headers: json, status: 400, code: "invalid_body", message: /JSON object/ },
      { label: "a string", body: '"full"', headers: json, status: 400, code: "invalid_body", message: /JSON object/ },
      { label: "an unknown mode", body: '{"mode":"everything"}', headers: json, status: 400, code: "invalid_field", message: /mode must be "incremental" or "full"/ },
      { label: "dryRun as text", body: '{"dryRun":"yes"}', headers: json, status: 400, code: "invalid_field", message: /dryRun must be true or false/ },
      { label: "allowDeletions as a number", body: '{"allowDeletions":1}', headers: json, status: 400, code: "invalid_field", message: /allowDeletions must be true or false/ },
      { label: "an unknown field", body: '{"mode":"full","force":true}', headers: json, status: 400, code: "unknown_field", message: /Unknown field "force"; allowed: mode, dryRun, allowDeletions, tenantId/ },
      { label: "a tenant id that is no GUID", body: '{"tenantId":"contoso.onmicrosoft.com"}', headers: json, status: 400, code: "invalid_field", message: /tenantId must be a tenant id/ },
      { label: "a tenant not configured", body: '{"tenantId":"0f0f0f0f-0000-4000-8000-000000000000"}', headers: json, status: 404, code: "unknown_tenant", message: /not one this deployment syncs/ },
      { label: "text/plain", body: "{}", headers: { "content-type": "text/plain" }, status: 415, code: "unsupported_media_type", message: /application\/json/ },
      { label: "no content type", bytes: Buffer.from('{"mode":"full"}'), headers: {}, status: 415, code: "unsupported_media_type", message: /missing/ },
      { label: "another charset", body: "{}", headers: { "content-type": "application/json; charset=iso-8859-1" }, status: 415, code: "unsupported_media_type", message: /UTF-8/ },
      { label: "a body over 16 KiB", body: `{"mode":"full"${" ".repeat(17 * 1024)}}`, headers: json, status: 413, code: "payload_too_large", message: /larger than 16384 bytes/ },
      { label: "bytes that are not UTF-8", bytes: Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: json, status: 400, code: "invalid_json", message: /UTF-8/ },
    ];
    for (const testCase of cases) {
      const { context, lines } = invocation("requestSync");
      const request = testCase.bytes
        ? new HttpRequest({ method: "POST", url: `${origin}/api/sync`, headers: testCase.headers ?? {}, body: { bytes: testCase.bytes } })
        : httpRequest({ method: "POST", path: "/api/sync", body: testCase.body, headers: testCase.headers });
      const response = asSent(await requestSync(request, context));
      assert.equal(response.status, testCase.status, `${testCase.label}: ${JSON.stringify(response.jsonBody)}`);
      assert.equal(response.jsonBody.error.code, testCase.code, testCase.label);
      assert.match(response.jsonBody.error.message, testCase.message, testCase.label);
      assert.ok(lines.every((entry) => entry.level !== "error"), `${testCase.label}: a caller's mistake is not logged as an error`);
      await assertNothingStarted(settings, testCase.label);
    }
  });

  test("with several tenants configured, tenantId is required and must be one of them", async () => {
    const other = "5b2f3c1d-1111-4222-8333-944455556666";
    const settings = env.settings({ SYNC_TENANTS: JSON.stringify([{ tenantId: other }]) });
    installService(env, settings);
    const missing = await call(requestSync, { method: "POST", path: "/api/sync", body: "{}", headers: { "content-type": "application/json" } });
    assert.equal(missing.status, 400);
    assert.equal(missing.jsonBody.error.code, "tenant_required");
    assert.match(missing.jsonBody.error.message, new RegExp(other));
    await assertNothingStarted(settings, "no tenant");
    const chosen = await call(requestSync, { method: "POST", path: "/api/sync", body: JSON.stringify({ tenantId: other.toUpperCase() }), headers: { "content-type": "application/json" } });
    assert.equal(chosen.status, 202);
    assert.equal(chosen.jsonBody.tenantId, other);
  });

  test("a request is queued at once, runs from the queue, and its run and the tenant's status can then be read", async () => {
    const settings = env.settings();
    installService(env, settings);
    const { context, lines } = invocation("requestSync");
    const response = asSent(await requestSync(
      httpRequest({ method: "POST", path: "/api/sync?code=Zm9vYmFyLXNlY3JldC1rZXk", body: '{"mode":"full","allowDeletions":true}', headers: { "content-type": "application/json; charset=utf-8", "x-ms-client-principal-name": "admin@contoso.example" } }),
      context,
    ));
    assert.equal(response.status, 202);
    const { runId } = response.jsonBody;
    assert.match(runId, /^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    assert.deepEqual(response.jsonBody, { runId, tenantId: settings.tenantId, status: "queued", statusUrl: `${origin}/api/sync/runs/${runId}`, alreadyRunning: false });
    assert.equal(response.headers.location, `${origin}/api/sync/runs/${runId}`);
    assert.ok(lines.length > 0 && lines.every((entry) => entry.line.tenantId === settings.tenantId && "runId" in entry.line), "every line names the tenant and run");
    assert.ok(!JSON.stringify(lines).includes("Zm9vYmFyLXNlY3JldC1rZXk"), "the function key is never logged");
    assert.equal(await queuedCount(requestQueue(env)), 1);

    const queued = await call(getSyncRun, { method: "GET", path: `/api/sync/runs/${runId}`, params: { runId } });
    assert.equal(queued.status, 200);
    assert.equal(queued.jsonBody.status, "queued");
    assert.equal(queued.jsonBody.lease.state, "queued");
    assert.equal(queued.jsonBody.summary, null, "the engine has not started yet");
    const { requestedAt, ...request } = queued.jsonBody.request;
    assert.ok(Math.abs(Date.parse(requestedAt) - Date.now()) < 60_000);
    assert.deepEqual(request, { trigger: "manual", requestedBy: "admin@contoso.example", mode: "full", dryRun: false, allowDeletions: true, attempts: 0, continuations: 0 });

    assert.equal(await drainWorker(requestQueue(env)), 1);
    const done = await call(getSyncRun, { method: "GET", path: `/api/sync/runs/${runId}`, params: { runId } });
    assert.equal(done.jsonBody.status, "succeeded", JSON.stringify(done.jsonBody.summary?.error));
    assert.equal(done.jsonBody.lease, null, "the lease was released");
    assert.equal(done.jsonBody.summary.users.created, env.model.users.size);
    assert.equal(done.jsonBody.summary.requestedBy, "admin@contoso.example");
    assert.equal(done.jsonBody.request.attempts, 1);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);

    const status = await call(getSyncStatus, { method: "GET", path: "/api/sync/status" });
    assert.equal(status.status, 200);
    const tenant = status.jsonBody.tenants[0];
    assert.equal(tenant.tenantId, settings.tenantId);
    assert.equal(tenant.lastSuccessfulSyncAt, done.jsonBody.summary.endedAt);
    assert.equal(tenant.lastSuccessfulRunId, runId);
    assert.equal(tenant.lastRun.status, "succeeded");
    assert.equal(tenant.lastRun.users.created, env.model.users.size);
    assert.ok(tenant.lastRun.graphRequests > 0);
    assert.equal(tenant.activeRun, null);
    assert.deepEqual(tenant.warnings, []);
    const next = new Date(tenant.nextScheduledRunAt);
    assert.equal(next.toISOString().slice(11), "02:00:00.000Z");
    assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 86_400_000, "the next 02:00 UTC");
    assert.equal(status.jsonBody.schedule.expression, "0 0 2 * * *");
  });

  test("a run holding deletions back ends quarantined, status says so, and a request with allowDeletions applies them", async () => {
    const settings = env.settings({ DELETION_THRESHOLD_COUNT: "1", DELETION_THRESHOLD_PERCENT: "0" });
    installService(env, settings);
    const post = async (body: string) => asSent(await requestSync(httpRequest({ method: "POST", path: "/api/sync", body, headers: { "content-type": "application/json" } }), invocation("requestSync").context));
    await post("{}");
    await drainWorker(requestQueue(env));
    const [first, second] = [...env.model.users.values()].filter((user) => !user.deleted);
    env.model.softDeleteUser(first!.id);
    env.model.softDeleteUser(second!.id);
    const quarantined = await post("{}");
    await drainWorker(requestQueue(env));
    const run = await call(getSyncRun, { method: "GET", path: `/api/sync/runs/${quarantined.jsonBody.runId}`, params: { runId: quarantined.jsonBody.runId } });
    assert.equal(run.jsonBody.status, "quarantined");
    assert.equal(run.jsonBody.summary.heldDeletions.count, 2);
    const status = await call(getSyncStatus, { method: "GET", path: "/api/sync/status" });
    assert.ok(status.jsonBody.tenants[0].warnings.some((warning: string) => /^2 user deletions are held by the accidental-deletion threshold.*allowDeletions/.test(warning)), JSON.stringify(status.jsonBody.tenants[0].warnings));

    const allowed = await post('{"allowDeletions":true}');
    await drainWorker(requestQueue(env));
    const applied = await call(getSyncRun, { method: "GET", path: `/api/sync/runs/${allowed.jsonBody.runId}`, params: { runId: allowed.jsonBody.runId } });
    assert.equal(applied.jsonBody.status, "succeeded");
    assert.equal(applied.jsonBody.summary.users.softDeleted, 2);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("GET of a run id that does not exist is 404, and of a malformed one 400", async () => {
    installService(env, env.settings());
    const unknown = await call(getSyncRun, { method: "GET", path: "/api/sync/runs/20200101T000000Z-abcdef", params: { runId: "20200101T000000Z-abcdef" } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.jsonBody.error.code, "run_not_found");
    const malformed = await call(getSyncRun, { method: "GET", path: "/api/sync/runs/x'%20or%20'1'", params: { runId: "x' or '1'" } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.jsonBody.error.code, "invalid_run_id");
  });

  test("status and change feed queries refuse unknown tenants and parameters", async () => {
    installService(env, env.settings());
    const cases: Array<{ handler: typeof getSyncStatus; path: string; status: number; code: string }> = [
      { handler: getSyncStatus, path: "/api/sync/status?tenantId=0f0f0f0f-0000-4000-8000-000000000000", status: 404, code: "unknown_tenant" },
      { handler: getSyncStatus, path: "/api/sync/status?verbose=1", status: 400, code: "unknown_parameter" },
      { handler: getSyncChanges, path: "/api/sync/changes?since=yesterday", status: 400, code: "invalid_parameter" },
      // Times that do not exist, which Date.parse would roll over into the next day or month.
      ...["2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T12:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00%2B24:00"].map((since) => ({ handler: getSyncChanges, path: `/api/sync/changes?since=${since}`, status: 400, code: "invalid_parameter" })),
      { handler: getSyncChanges, path: "/api/sync/changes?since=2026-01-01T00:00:00Z&sinceRunId=20260101T000000Z-abcdef", status: 400, code: "invalid_parameter" },
      { handler: getSyncChanges, path: "/api/sync/changes?limit=0", status: 400, code: "invalid_parameter" },
      { handler: getSyncChanges, path: "/api/sync/changes?limit=5000", status: 400, code: "invalid_parameter" },
      { handler: getSyncChanges, path: "/api/sync/changes?cursor=bm90LWEtY3Vyc29y", status: 400, code: "invalid_parameter" },
      { handler: getSyncChanges, path: "/api/sync/changes?sinceRunId=20200101T000000Z-abcdef", status: 404, code: "run_not_found" },
      { handler: getSyncChanges, path: "/api/sync/changes?limit=5&limit=6", status: 400, code: "invalid_parameter" },
    ];
    for (const testCase of cases) {
      const response = await call(testCase.handler, { method: "GET", path: testCase.path });
      assert.equal(response.status, testCase.status, `${testCase.path}: ${JSON.stringify(response.jsonBody)}`);
      assert.equal(response.jsonBody.error.code, testCase.code, testCase.path);
    }
    const impossible = await call(getSyncChanges, { method: "GET", path: "/api/sync/changes?since=2026-02-30T00:00:00Z" });
    assert.equal(impossible.jsonBody.error.message, "since must be an ISO 8601 time that exists, with a zone, such as 2026-01-01T00:00:00Z");
    const leapDay = await call(getSyncChanges, { method: "GET", path: "/api/sync/changes?since=2024-02-29T23:59:59.5%2B01:00" });
    assert.equal(leapDay.status, 200, "a time that exists, with an offset, is taken");
    const keyed = await call(getSyncStatus, { method: "GET", path: "/api/sync/status?code=abc" });
    assert.equal(keyed.status, 200, "the function key in the query string is allowed");
  });
});

describe("GET /api/scope/suggestions", () => {
  test("lists service-looking accounts from the tables, 404 for a tenant not synced", async () => {
    const service = env.model.createUser({ displayName: "No Reply", userPrincipalName: "noreply@contoso.com", givenName: null, surname: null });
    const settings = env.settings();
    await env.compose(settings).engine.run();
    installService(env, settings);
    const answer = await call(getExclusionSuggestions, { method: "GET", path: "/api/scope/suggestions" });
    assert.equal(answer.status, 200, JSON.stringify(answer.jsonBody));
    assert.equal(answer.jsonBody.tenantId, settings.tenantId);
    assert.ok((answer.jsonBody.suggestions as Array<{ id: string; signals: string[] }>).some((suggestion) => suggestion.id === service.id && suggestion.signals.some((signal) => /noreply/.test(signal))));
    const other = await call(getExclusionSuggestions, { method: "GET", path: "/api/scope/suggestions?tenantId=00000000-0000-4000-8000-000000000000" });
    assert.equal(other.status, 404);
  });
});
