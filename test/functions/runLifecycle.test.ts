// A run's life through the timer, the queue and the worker: one run per tenant, continuations, crashes, retries and poison.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { HttpResponseInit, Timer } from "@azure/functions";
import { failPoisonedSyncRequest } from "../../functions/failPoisonedSyncRequest";
import { getSyncRun } from "../../functions/getSyncRun";
import { requestSync } from "../../functions/requestSync";
import { runSyncRequest } from "../../functions/runSyncRequest";
import { scheduledSync } from "../../functions/scheduledSync";
import type { Settings } from "../../src/config/settings";
import { RunLeases } from "../../src/service/runLease";
import { RunRequestLog } from "../../src/service/runRequests";
import { RunAttemptError } from "../../src/service/runWorker";
import { useSyncService } from "../../src/service/serviceProvider";
import { openServiceTables } from "../../src/service/serviceStorage";
import { RunLog } from "../../src/store/runLog";
import { emptyStoreMetrics } from "../../src/store/tableWriter";
import type { SyncRunSummary } from "../../src/sync/syncRun";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";
import { clearQueue, drainWorker, httpRequest, installService, invocation, queuedCount, requestQueue, takeMessages, type LoggedLine } from "./support/functionsHarness";

let env: TestEnvironment;

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 37, users: 60, groups: 10 }), standIn: { usersPageSize: 12, groupsPageSize: 3, membersPerGroupAppearance: 5 } });
});
afterEach(async () => {
  env.standIn.faults.clear();
  useSyncService(undefined);
  await clearQueue(requestQueue(env));
});
after(async () => env?.stop());

const timer = (isPastDue = false): Timer => ({ isPastDue, schedule: { adjustForDST: false }, scheduleStatus: { last: "2026-01-01T02:00:00Z", next: "2026-01-02T02:00:00Z", lastUpdated: "2026-01-01T02:00:00Z" } });

function postSync(body: object): Promise<HttpResponseInit & { jsonBody: Record<string, any> }> {
  const { context } = invocation("requestSync");
  return requestSync(httpRequest({ method: "POST", path: "/api/sync", body: JSON.stringify(body), headers: { "content-type": "application/json" } }), context) as Promise<HttpResponseInit & { jsonBody: Record<string, any> }>;
}

function stores(settings: Settings) {
  const tables = openServiceTables(settings);
  return { tables, leases: new RunLeases(tables.syncState, 60_000), requests: new RunRequestLog(tables.runRequests), runLog: new RunLog(tables.runs, settings.tenantId, emptyStoreMetrics()) };
}

/** Every run record of the tenant, as the import log lists them. */
async function runRecords(settings: Settings): Promise<SyncRunSummary[]> {
  return await stores(settings).runLog.listRecent(100);
}

/** Pages a full read of the stand-in takes, measured with the engine alone on its own tables. */
async function fullReadPages(): Promise<number> {
  const { summary } = await env.compose(env.settings()).engine.run({ mode: "full", dryRun: true });
  return summary.streams.users.pages + summary.streams.groups.pages;
}

function assertLinesNameRun(lines: LoggedLine[], runId: string, tenantId: string): void {
  assert.ok(lines.length > 0, "the invocation logged");
  for (const { line } of lines) {
    assert.equal(line.runId, runId, `every line names the run: ${JSON.stringify(line)}`);
    assert.equal(line.tenantId, tenantId, `every line names the tenant: ${JSON.stringify(line)}`);
  }
}

describe("run lifecycle", () => {
  test("the timer and an HTTP request at the same moment give exactly one run", async () => {
    for (let round = 0; round < 4; round++) {
      const settings = env.settings();
      installService(env, settings);
      const timerInvocation = invocation("scheduledSync");
      const [, answer] = await Promise.all([scheduledSync(timer(), timerInvocation.context), postSync({})]);
      const messages = await takeMessages(requestQueue(env));
      assert.equal(messages.length, 1, "one message for one run");
      const { message } = messages[0]!;
      assert.equal(answer.status, 202);
      assert.equal(answer.jsonBody.runId, message.runId, "the loser is told the winner's run id");
      assert.equal(answer.jsonBody.alreadyRunning, message.trigger === "schedule", "the HTTP caller hears whether its request or the timer's won");
      const { context, lines } = invocation("runSyncRequest", { dequeueCount: 1 });
      await runSyncRequest(message, context);
      assertLinesNameRun(lines, message.runId, settings.tenantId);
      const records = await runRecords(settings);
      assert.deepEqual(records.map((run) => [run.runId, run.status]), [[message.runId, "succeeded"]]);
    }
  });

  test("a request while a run is active names that run and queues nothing", async () => {
    const settings = env.settings();
    installService(env, settings);
    const first = await postSync({ mode: "full" });
    const second = await postSync({ dryRun: true });
    assert.equal(second.status, 202);
    assert.equal(second.jsonBody.runId, first.jsonBody.runId);
    assert.equal(second.jsonBody.alreadyRunning, true);
    assert.equal(second.jsonBody.status, "queued");
    assert.deepEqual(second.jsonBody.activeRun, { mode: "full", dryRun: false });
    assert.match(second.jsonBody.message, /already queued/);
    assert.equal(await queuedCount(requestQueue(env)), 1);
  });

  test("the timer logs when it is past due and queues one run per configured tenant", async () => {
    const other = "5b2f3c1d-1111-4222-8333-944455556666";
    const settings = env.settings({ SYNC_TENANTS: JSON.stringify([{ tenantId: other }]) });
    installService(env, settings);
    const { context, lines } = invocation("scheduledSync");
    await scheduledSync(timer(true), context);
    assert.ok(lines.some((entry) => entry.level === "warning" && /past due/.test(String(entry.line.message))));
    const messages = await takeMessages(requestQueue(env));
    assert.deepEqual(messages.map((item) => item.message.tenantId).sort(), [settings.tenantId, other].sort());
    assert.ok(messages.every((item) => item.message.trigger === "schedule" && item.message.mode === "incremental"));
    const { leases } = stores(settings);
    assert.equal((await leases.read(other))?.runId, messages.find((item) => item.message.tenantId === other)?.message.runId, "each tenant has its own lease");
  });

  test("a run larger than one invocation's budget pauses and continues until done, as one run record", async () => {
    const settings = env.settings();
    installService(env, settings, { runBudgetMs: 0 });
    const answer = await postSync({ mode: "full" });
    const runId = answer.jsonBody.runId as string;
    const carried: SyncRunSummary[] = [];
    let invocations = 0;
    for (let messages = await takeMessages(requestQueue(env)); messages.length > 0; messages = await takeMessages(requestQueue(env))) {
      assert.equal(messages.length, 1, "one message at a time: the continuation of the last invocation");
      const { message } = messages[0]!;
      assert.equal(message.runId, runId, "a continuation keeps the run id");
      if (invocations > 0) {
        assert.equal(message.trigger, "continuation");
        assert.ok(message.continues, "the message carries the paused summary");
        assert.equal(message.continues.status, "paused");
        carried.push(message.continues);
      }
      const { context, lines } = invocation("runSyncRequest", { dequeueCount: 1 });
      await runSyncRequest(message, context);
      assertLinesNameRun(lines, runId, settings.tenantId);
      assert.ok(++invocations < 40, "the continuations converge");
    }
    assert.ok(invocations >= 3, `continued over several invocations (${invocations})`);
    const records = await runRecords(settings);
    assert.equal(records.length, 1, "one run record");
    const run = records[0]!;
    assert.equal(run.runId, runId);
    assert.equal(run.status, "succeeded", run.error);
    assert.equal(run.trigger, "manual", "the record keeps the trigger of the request");
    assert.equal(run.startedAt, carried[0]!.startedAt, "and its start");
    // Each invocation adds to what the one before carried over.
    let previous = { users: 0, objects: 0, requests: 0 };
    for (const summary of [...carried, run]) {
      const now = { users: summary.users.created, objects: summary.streams.users.objects + summary.streams.groups.objects, requests: summary.graph.requests };
      assert.ok(now.users >= previous.users && now.objects >= previous.objects && now.requests > previous.requests, `counts are summed: ${JSON.stringify(previous)} then ${JSON.stringify(now)}`);
      previous = now;
    }
    assert.equal(run.users.created, env.model.users.size, "each user counted once over all invocations");
    assert.equal(run.streams.users.pages + run.streams.groups.pages, await fullReadPages(), "each page counted once over all invocations");
    const request = await stores(settings).requests.get(settings.tenantId, runId);
    assert.equal(request?.continuations, invocations - 1);
    assert.equal(request?.attempts, invocations);
    assert.equal(await stores(settings).leases.read(settings.tenantId), undefined, "released at the end");
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("between two invocations of a long run, the run view says paused", async () => {
    const settings = env.settings();
    installService(env, settings, { runBudgetMs: 0 });
    const runId = (await postSync({ mode: "full" })).jsonBody.runId as string;
    const [first] = await takeMessages(requestQueue(env));
    await runSyncRequest(first!.message, invocation("runSyncRequest", { dequeueCount: 1 }).context);
    const response = await getSyncRun(httpRequest({ method: "GET", path: `/api/sync/runs/${runId}`, params: { runId } }), invocation("getSyncRun").context);
    const view = JSON.parse(JSON.stringify(response.jsonBody)) as { status: string; lease: { state: string } | null; request: { continuations: number } };
    assert.deepEqual({ status: view.status, lease: view.lease?.state, continuations: view.request.continuations }, { status: "paused", lease: "queued", continuations: 1 });
    await drainWorker(requestQueue(env));
  });

  test(
    "a continued full read counts each group once",
    async () => {
      const settings = env.settings();
      installService(env, settings, { runBudgetMs: 0 });
      await postSync({ mode: "full" });
      await drainWorker(requestQueue(env));
      const [run] = await runRecords(settings);
      assert.equal(run?.groups.created, env.model.groups.size);
    },
  );

  test("a run killed after some pages is taken over once its lease expires, and the next run finishes it from the checkpoint", async () => {
    const settings = env.settings({ GRAPH_MAX_RETRIES: "1" });
    installService(env, settings, { leaseTtlMs: 1_500 });
    const killed = await postSync({ mode: "full" });
    const [original] = await takeMessages(requestQueue(env));
    env.standIn.faults.failAfterGraphRequests(5);
    const attempt = invocation("runSyncRequest", { dequeueCount: 1 });
    await assert.rejects(runSyncRequest(original!.message, attempt.context), RunAttemptError, "the failed attempt is handed back to the host to retry");
    env.standIn.faults.clear();
    assertLinesNameRun(attempt.lines, killed.jsonBody.runId, settings.tenantId);
    const { leases, runLog } = stores(settings);
    assert.equal((await leases.read(settings.tenantId))?.state, "retrying");
    const failedAttempt = await runLog.get(killed.jsonBody.runId);
    assert.ok(failedAttempt && failedAttempt.streams.users.pages + failedAttempt.streams.groups.pages > 0, "some pages were applied before the kill");
    assert.equal((await postSync({})).jsonBody.alreadyRunning, true, "the lease holds until it expires");

    // The host's retry never comes (the app was stopped); after the TTL the next scheduled run takes over.
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    await scheduledSync(timer(), invocation("scheduledSync").context);
    const [takeover] = await takeMessages(requestQueue(env));
    assert.notEqual(takeover!.message.runId, killed.jsonBody.runId);
    const abandoned = await runLog.get(killed.jsonBody.runId);
    assert.equal(abandoned?.status, "failed");
    assert.match(abandoned?.error ?? "", /Abandoned: .* took the tenant over from the last checkpoint/);

    // The late retry of the killed run's message now finds the tenant taken and does nothing.
    const late = invocation("runSyncRequest", { dequeueCount: 2 });
    await runSyncRequest(original!.message, late.context);
    assert.ok(late.lines.some((entry) => /Skipped a stale message/.test(String(entry.line.message))));
    assert.equal((await leases.read(settings.tenantId))?.runId, takeover!.message.runId);

    await runSyncRequest(takeover!.message, invocation("runSyncRequest", { dequeueCount: 1 }).context);
    const finished = await runLog.get(takeover!.message.runId);
    assert.equal(finished?.status, "succeeded", finished?.error);
    assert.ok(finished!.streams.users.pages + finished!.streams.groups.pages < (await fullReadPages()), "the takeover resumed the full read instead of starting over");
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("a retried attempt carries on the same run, and the last failing attempt records why and frees the tenant", async () => {
    const settings = env.settings({ GRAPH_MAX_RETRIES: "1" });
    installService(env, settings);
    const answer = await postSync({});
    const runId = answer.jsonBody.runId as string;
    const [queued] = await takeMessages(requestQueue(env));
    env.standIn.faults.failAfterGraphRequests(0);
    for (let dequeueCount = 1; dequeueCount < 5; dequeueCount++) {
      await assert.rejects(runSyncRequest(queued!.message, invocation("runSyncRequest", { dequeueCount }).context), RunAttemptError);
    }
    await runSyncRequest(queued!.message, invocation("runSyncRequest", { dequeueCount: 5 }).context);
    const { leases, requests } = stores(settings);
    const records = await runRecords(settings);
    assert.equal(records.length, 1, "every attempt wrote the same run record");
    assert.equal(records[0]!.status, "failed");
    assert.match(records[0]!.error ?? "", /Failed on attempt 5 of 5, the last: GraphRequestError: /);
    assert.equal((await requests.get(settings.tenantId, runId))?.attempts, 5);
    assert.equal(await leases.read(settings.tenantId), undefined, "the tenant is free again");
    assert.equal(await queuedCount(requestQueue(env)), 0, "nothing left to retry");
    env.standIn.faults.clear();
    assert.equal((await postSync({})).jsonBody.alreadyRunning, false);
  });

  test("a message the host moved to the poison queue ends its run as failed with the reason", async () => {
    const settings = env.settings();
    installService(env, settings);
    const answer = await postSync({});
    const [queued] = await takeMessages(requestQueue(env));
    const poison = invocation("failPoisonedSyncRequest");
    await failPoisonedSyncRequest(queued!.message, poison.context);
    const { leases, runLog, requests } = stores(settings);
    const run = await runLog.get(answer.jsonBody.runId);
    assert.equal(run?.status, "failed", "the run log shows the failure although the engine never started");
    assert.match(run?.error ?? "", /moved to sync-requests-poison after 5 attempts/);
    assert.equal((await requests.get(settings.tenantId, answer.jsonBody.runId))?.status, "failed");
    assert.equal(await leases.read(settings.tenantId), undefined);
    assert.ok(poison.lines.some((entry) => entry.level === "error" && entry.line.runId === answer.jsonBody.runId));

    const garbage = invocation("failPoisonedSyncRequest");
    await failPoisonedSyncRequest("not json at all", garbage.context);
    assert.ok(garbage.lines.some((entry) => entry.level === "error" && /not a run request/.test(String(entry.line.message))));
  });

  test("a second delivery while a worker holds the run is deferred, not run twice", async () => {
    const settings = env.settings();
    installService(env, settings);
    await postSync({});
    const [queued] = await takeMessages(requestQueue(env));
    const { leases } = stores(settings);
    // As if another invocation had claimed it a moment ago and is still working.
    await leases.update((await leases.read(settings.tenantId))!, { state: "running", ticketAttempts: 1 });
    const duplicate = invocation("runSyncRequest", { dequeueCount: 2 });
    await runSyncRequest(queued!.message, duplicate.context);
    assert.ok(duplicate.lines.some((entry) => /deferred/.test(String(entry.line.message))));
    assert.equal(await queuedCount(requestQueue(env)), 1, "a delayed copy waits for the lease to expire");
    assert.equal(await drainWorker(requestQueue(env)), 0, "and is not visible before then");
    assert.equal((await runRecords(settings)).length, 0, "the engine did not start");
  });
});
