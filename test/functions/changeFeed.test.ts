// The change feed and retention: what changed in which run, read since a time or a run a page at a time, and purged when old.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { HttpResponseInit, Timer } from "@azure/functions";
import { getSyncChanges } from "../../functions/getSyncChanges";
import { getSyncStatus } from "../../functions/getSyncStatus";
import { requestSync } from "../../functions/requestSync";
import { scheduledSync } from "../../functions/scheduledSync";
import type { Settings } from "../../src/config/settings";
import type { ChangeEvent } from "../../src/service/changeFeed";
import { useSyncService } from "../../src/service/serviceProvider";
import { openServiceTables } from "../../src/service/serviceStorage";
import { SyncService } from "../../src/service/syncService";
import { DirectoryModel } from "../../standin/directoryModel";
import { silentLogger } from "../../src/logging/logger";
import { runUnderLease } from "../../src/service/leasedRun";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";
import { clearQueue, drainWorker, httpRequest, installService, invocation, requestQueue, standInComposer } from "./support/functionsHarness";

let env: TestEnvironment;
const dayMs = 86_400_000;

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 41, users: 30, groups: 6 }), standIn: { usersPageSize: 10, groupsPageSize: 2, membersPerGroupAppearance: 4 } });
});
afterEach(async () => {
  useSyncService(undefined);
  await clearQueue(requestQueue(env));
});
after(async () => env?.stop());

type Answer = HttpResponseInit & { jsonBody: Record<string, any> };

async function get(handler: typeof getSyncChanges, path: string): Promise<Answer> {
  const response = await handler(httpRequest({ method: "GET", path }), invocation("test").context);
  return { ...response, jsonBody: JSON.parse(JSON.stringify(response.jsonBody)) as Record<string, any> };
}

async function syncNow(body: object): Promise<string> {
  const response = (await requestSync(httpRequest({ method: "POST", path: "/api/sync", body: JSON.stringify(body), headers: { "content-type": "application/json" } }), invocation("requestSync").context)) as Answer;
  assert.equal(response.status, 202);
  await drainWorker(requestQueue(env));
  return response.jsonBody.runId as string;
}

/** Follows nextUrl from the first page to the last, as a feed consumer would. */
async function readAll(path: string): Promise<{ events: ChangeEvent[]; pages: number }> {
  const events: ChangeEvent[] = [];
  let pages = 0;
  for (let next: string | null = path; next !== null; pages++) {
    const page = await get(getSyncChanges, next);
    assert.equal(page.status, 200, JSON.stringify(page.jsonBody));
    events.push(...(page.jsonBody.events as ChangeEvent[]));
    next = page.jsonBody.nextUrl === null ? null : new URL(page.jsonBody.nextUrl as string).pathname + new URL(page.jsonBody.nextUrl as string).search;
  }
  return { events, pages };
}

const countOf = (events: ChangeEvent[], kind: string) => events.filter((event) => event.kind === kind).length;

async function entityCount(settings: Settings, table: "runs" | "runRequests" | "changes"): Promise<number> {
  let count = 0;
  for await (const entity of openServiceTables(settings)[table].listEntities({ queryOptions: { filter: `PartitionKey eq '${settings.tenantId}'` } })) if (entity.rowKey !== "lastSuccess") count++;
  return count;
}

describe("change feed", () => {
  let settings: Settings;
  let firstRun: string;
  let secondRun: string;
  let thirdRun: string;
  let changed: { updated: string[]; softDeleted: string; removedFrom: string; removedMember: string; laterUpdated: string };

  before(async () => {
    settings = env.settings();
    installService(env, settings);
    firstRun = await syncNow({ mode: "full" });
    const users = [...env.model.users.values()].filter((user) => !user.deleted);
    const group = [...env.model.groups.values()].find((candidate) => (env.model.members.get(candidate.id)?.size ?? 0) > 0)!;
    const removedMember = [...env.model.members.get(group.id)!.keys()][0]!;
    changed = { updated: users.slice(2, 14).map((user) => user.id), softDeleted: users[1]!.id, removedFrom: group.id, removedMember, laterUpdated: users[0]!.id };
    for (const id of changed.updated) env.model.updateUser(id, { jobTitle: "Head of Feeds" });
    env.model.softDeleteUser(changed.softDeleted);
    env.model.removeMember(group.id, removedMember);
    secondRun = await syncNow({});
    env.model.updateUser(changed.laterUpdated, { jobTitle: "Later" });
    thirdRun = await syncNow({});
  });

  test("the first sync records no events (the tables are the starting point); later runs list every change, in time order, across pages", async () => {
    installService(env, settings);
    assert.deepEqual((await readAll(`/api/sync/changes?runId=${firstRun}&limit=1000`)).events, []);
    const all = await readAll(`/api/sync/changes?runId=${secondRun}&limit=1000`);
    assert.equal(all.pages, 1);
    const { events } = all;
    assert.ok(events.every((event) => event.runId === secondRun && event.tenantId === settings.tenantId));
    assert.equal(countOf(events, "userUpdated"), changed.updated.length);
    const membership = events.find((event) => event.kind === "membershipRemoved")!;
    assert.ok(membership.groupId && env.model.groups.has(membership.groupId), "a membership event names the group");
    const times = events.map((event) => event.at);
    assert.deepEqual(times, [...times].sort(), "oldest first");

    const paged = await readAll(`/api/sync/changes?runId=${secondRun}&limit=7`);
    assert.equal(paged.pages, Math.ceil(events.length / 7));
    assert.deepEqual(paged.events, events, "paging returns the same events, each once");
  });

  test("since a run, the feed holds only what later runs changed", async () => {
    installService(env, settings);
    const { events } = await readAll(`/api/sync/changes?sinceRunId=${firstRun}`);
    assert.ok(events.length > 0);
    assert.ok(events.every((event) => event.runId === secondRun || event.runId === thirdRun), "only the later runs' events");
    assert.ok(events.some((event) => event.kind === "userUpdated" && event.objectId === changed.updated[0]));
    assert.ok(events.some((event) => event.kind === "userSoftDeleted" && event.objectId === changed.softDeleted));
    assert.ok(events.some((event) => event.kind === "membershipRemoved" && event.objectId === changed.removedMember && event.groupId === changed.removedFrom));
    assert.equal(countOf(events, "userCreated"), 0);

    const sinceSecond = await readAll(`/api/sync/changes?sinceRunId=${secondRun}`);
    assert.deepEqual(sinceSecond.events.map((event) => [event.runId, event.kind, event.objectId]), [[thirdRun, "userUpdated", changed.laterUpdated]]);
    assert.deepEqual((await readAll(`/api/sync/changes?sinceRunId=${thirdRun}`)).events, [], "nothing after the last run");
  });

  test("since a time, the feed starts at that time", async () => {
    installService(env, settings);
    const third = (await readAll(`/api/sync/changes?runId=${thirdRun}`)).events;
    const since = new Date(Date.parse(third[0]!.at)).toISOString().replace(".000Z", "Z");
    const { events } = await readAll(`/api/sync/changes?since=${encodeURIComponent(since)}&tenantId=${settings.tenantId.toUpperCase()}`);
    assert.ok(events.length >= third.length);
    assert.ok(events.every((event) => Date.parse(event.at) >= Date.parse(since)));
    const everything = (await readAll("/api/sync/changes")).events;
    assert.ok(everything.length > events.length, "without since, every retained event");
  });

  test("a dry run records no change events", async () => {
    installService(env, settings);
    env.model.updateUser(changed.laterUpdated, { jobTitle: "Dry Runner" });
    const dryRun = await syncNow({ dryRun: true });
    const { events } = await readAll(`/api/sync/changes?runId=${dryRun}`);
    assert.deepEqual(events, []);
  });
});

describe("status and retention over time", () => {
  const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };

  test("status warns once the last successful sync is older than the delta tokens last", async () => {
    const settings = env.settings();
    installService(env, settings);
    await syncNow({});
    useSyncService(new SyncService(settings, { composeTenant: standInComposer(env), clock: () => Date.now() + 8 * dayMs }));
    const status = await get(getSyncStatus, "/api/sync/status");
    const [tenant] = status.jsonBody.tenants as Array<{ warnings: string[]; lastSuccessfulSyncAt: string }>;
    assert.ok(tenant!.lastSuccessfulSyncAt);
    assert.ok(tenant!.warnings.some((warning) => /delta tokens have expired/.test(warning)), JSON.stringify(tenant!.warnings));
  });

  test("status shows each tenant's credential and warns, with the fix, when its Key Vault secret is about to expire", async () => {
    const settings = env.settings();
    installService(env, settings);
    await syncNow({});
    const message = `Key Vault secret "entra-sync-secret" in https://vault.example.test expires in 9 days; renew it with az keyvault secret set.`;
    useSyncService(
      new SyncService(settings, {
        composeTenant: standInComposer(env),
        credentialStatus: async () => [
          {
            tenantId: settings.tenantId,
            mode: "clientSecret",
            clientId: "b0000000-0000-4000-8000-0000000000b1",
            secret: { vaultUrl: "https://vault.example.test", secretName: "entra-sync-secret", kind: "clientSecret", state: "expiring", expiresOn: new Date(Date.now() + 9 * dayMs).toISOString(), daysLeft: 9, version: "v1", message },
          },
        ],
      }),
    );
    const status = await get(getSyncStatus, "/api/sync/status");
    const [tenant] = status.jsonBody.tenants as Array<{ warnings: string[]; credential: { mode: string; secret: { daysLeft: number } } }>;
    assert.equal(tenant!.credential.mode, "clientSecret");
    assert.equal(tenant!.credential.secret.daysLeft, 9);
    assert.ok(tenant!.warnings.includes(message), JSON.stringify(tenant!.warnings));
  });

  test("the timer purges runs, requests and change events older than RUN_RETENTION_DAYS and keeps younger ones", async () => {
    const settings = env.settings({ RUN_RETENTION_DAYS: "30" });
    installService(env, settings);
    await syncNow({ mode: "full" });
    // The first sync records no change events, so a second one makes some to purge.
    env.model.updateUser([...env.model.users.values()].find((user) => !user.deleted)!.id, { jobTitle: "Retained for a while" });
    await syncNow({});
    const before = { runs: await entityCount(settings, "runs"), requests: await entityCount(settings, "runRequests"), changes: await entityCount(settings, "changes") };
    assert.deepEqual({ runs: before.runs, requests: before.requests }, { runs: 2, requests: 2 });
    assert.ok(before.changes > 0);

    useSyncService(new SyncService(settings, { composeTenant: standInComposer(env), clock: () => Date.now() + 29 * dayMs }));
    await scheduledSync(timer, invocation("scheduledSync").context);
    assert.equal(await entityCount(settings, "runs"), 2, "29 days old: kept");
    assert.equal(await entityCount(settings, "changes"), before.changes);
    // The timer's own run is worked off; the engine stamps it with today's date, so the next purge takes it too.
    assert.equal(await drainWorker(requestQueue(env)), 1);

    const purge = invocation("scheduledSync");
    useSyncService(new SyncService(settings, { composeTenant: standInComposer(env), clock: () => Date.now() + 31 * dayMs }));
    await scheduledSync(timer, purge.context);
    assert.equal(await entityCount(settings, "runs"), 0, "31 days old: purged");
    assert.equal(await entityCount(settings, "changes"), 0);
    assert.equal(await entityCount(settings, "runRequests"), 2, "only the requests the two timers made remain");
    const purged = new RegExp(`Purged 3 runs, 2 run requests and ${before.changes} change events`);
    assert.ok(purge.lines.some((entry) => purged.test(String(entry.line.message)) && entry.line.tenantId === settings.tenantId), JSON.stringify(purge.lines));
  });
});

describe("one engine, one change feed", () => {
  test("a sync started from the CLI writes the feed exactly as a run of the app does", async () => {
    const appSettings = env.settings();
    const cliSettings = env.settings();
    const cliSync = async () => {
      const outcome = await runUnderLease(cliSettings, { trigger: "cli" }, { logger: silentLogger, composeTenant: standInComposer(env) });
      assert.ok(outcome.started && outcome.result.summary.status === "succeeded");
      return outcome.result.summary.runId;
    };
    installService(env, appSettings);
    await syncNow({ mode: "full" });
    await cliSync();
    const user = [...env.model.users.values()].find((candidate) => !candidate.deleted)!;
    const group = [...env.model.groups.values()].find((candidate) => (env.model.members.get(candidate.id)?.size ?? 0) > 1)!;
    env.model.updateUser(user.id, { jobTitle: "Feed Reader" });
    env.model.removeMember(group.id, [...env.model.members.get(group.id)!.keys()][0]!);
    const appRun = await syncNow({});
    const cliRun = await cliSync();
    const comparable = (events: ChangeEvent[]) => events.map((event) => `${event.kind} ${event.objectId} ${event.groupId ?? ""} ${event.description}`).sort();
    const appEvents = (await readAll(`/api/sync/changes?runId=${appRun}`)).events;
    installService(env, cliSettings);
    const cliEvents = (await readAll(`/api/sync/changes?runId=${cliRun}`)).events;
    assert.ok(appEvents.some((event) => event.kind === "userUpdated" && event.objectId === user.id));
    assert.ok(appEvents.some((event) => event.kind === "membershipRemoved" && event.groupId === group.id));
    assert.deepEqual(comparable(cliEvents), comparable(appEvents));
    const status = (await get(getSyncStatus, "/api/sync/status")).jsonBody as { tenants: Array<{ lastSuccessfulRunId: string }> };
    assert.equal(status.tenants[0]!.lastSuccessfulRunId, cliRun, "the CLI's run is the last success, as the app's would be");
  });
});
