// Failures halfway, expired tokens, throttling and dry runs: after each the store still equals the directory.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DirectoryModel } from "../../standin/directoryModel";
import { GraphStandIn } from "../../standin/graphStandIn";
import { assertStoreMatches } from "../support/groundTruth";
import { certDir, collectingSink, startEnvironment, type TestEnvironment } from "../support/testEnvironment";
import type { DirectorySnapshot } from "../../src/store/directoryStore";

let env: TestEnvironment;

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 23, users: 150, groups: 14 }), standIn: { usersPageSize: 20, groupsPageSize: 3, membersPerGroupAppearance: 6 } });
});
after(async () => env?.stop());

function liveUsers(model: DirectoryModel) {
  return [...model.users.values()].filter((user) => !user.deleted);
}

/** Changes users and memberships; returns the memberships it added and removed, as `memberId>groupId`. */
function churn(model: DirectoryModel, round: number): { added: string; removed: string | undefined } {
  const users = liveUsers(model);
  const groups = [...model.groups.values()].filter((group) => !group.deleted);
  for (let i = 0; i < 30; i++) model.updateUser(users[(round * 13 + i) % users.length]!.id, { jobTitle: `Role ${round}-${i}` });
  const created = model.createUser({ displayName: `Starter ${round}` });
  model.addMember(groups[round % groups.length]!.id, created.id);
  model.hardDeleteUser(users[(round * 7 + 20) % users.length]!.id);
  model.softDeleteUser(users[(round * 7 + 21) % users.length]!.id);
  const group = groups[(round + 1) % groups.length]!;
  const someMember = [...(model.members.get(group.id)?.keys() ?? [])][0];
  if (someMember) model.removeMember(group.id, someMember);
  return { added: `${created.id}>${groups[round % groups.length]!.id}`, removed: someMember ? `${someMember}>${group.id}` : undefined };
}

describe("resilience", () => {
  test("a full sync killed after some pages is finished by the next run, which resumes instead of starting over", async () => {
    const settings = env.settings({ GRAPH_MAX_RETRIES: "1" });
    env.standIn.faults.failAfterGraphRequests(6);
    const crashed = await env.compose(settings).engine.run();
    const requestsWhenReturned = env.standIn.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(env.standIn.requests.length, requestsWhenReturned, "neither stream goes on after the run has returned");
    env.standIn.faults.clear();
    assert.equal(crashed.summary.status, "failed");
    assert.match(crashed.summary.error ?? "", /GET https:\/\/localhost:\d+\/v1\.0\/(users|groups)\/delta/);
    const pagesBefore = crashed.summary.streams.users.pages + crashed.summary.streams.groups.pages;
    assert.ok(pagesBefore > 0, "some pages were applied before the crash");

    const rerun = await env.compose(settings).engine.run();
    assert.equal(rerun.summary.status, "succeeded", rerun.summary.error);
    const fullPages = await countFullReadPages(settings);
    assert.ok(rerun.summary.streams.users.pages + rerun.summary.streams.groups.pages < fullPages, "the rerun resumed from the checkpoints");
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("a full read that buffers writes across pages, killed between flushes, replays from the last flushed checkpoint", async () => {
    const settings = env.settings({ GRAPH_MAX_RETRIES: "1" });
    env.standIn.faults.failAfterGraphRequests(9);
    const crashed = await env.compose(settings, { writeBufferOperations: 150 }).engine.run();
    env.standIn.faults.clear();
    assert.equal(crashed.summary.status, "failed");
    // The stream that met the failure stops without flushing; the other may flush as it stops, so either can be the one that lags.
    const state = env.compose(settings).state;
    const lags = await Promise.all((["users", "groups"] as const).map(async (stream) => ({ stream, saved: (await state.readCheckpoint(stream)).pages, read: crashed.summary.streams[stream].pages })));
    assert.ok(lags.some((lag) => lag.saved < lag.read), `a checkpoint lags the pages read by what was still buffered: ${JSON.stringify(lags)}`);
    const rerun = await env.compose(settings, { writeBufferOperations: 150 }).engine.run();
    assert.equal(rerun.summary.status, "succeeded", rerun.summary.error);
    // The same full read, buffered and flushing after every page, into fresh tables: buffering needs fewer transactions.
    const full = async (prefix: string, writeBufferOperations: number) => (await env.compose(env.settings({ TABLE_PREFIX: prefix }), { writeBufferOperations }).engine.run({ mode: "full" })).summary.directoryWrites;
    const [buffered, unbuffered] = [await full("buffered", 150), await full("unbuffered", 1)];
    assert.equal(buffered.entitiesWritten, unbuffered.entitiesWritten);
    assert.ok(buffered.transactions < unbuffered.transactions * 0.9, `buffering packs rows into fewer transactions (${buffered.transactions} against ${unbuffered.transactions} for ${buffered.entitiesWritten} entities)`);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("a Table Storage failure while memberships are recomputed fails the run, and the next run finishes them", async () => {
    const settings = env.settings();
    assert.equal((await env.compose(settings).engine.run()).summary.status, "succeeded");
    churn(env.model, 5);
    const failing = env.compose(settings);
    const apply = failing.store.apply.bind(failing.store);
    let failures = 0;
    failing.store.apply = async (table, operations) => {
      // In an incremental run only the closure merges lists onto user rows; pages replace them whole.
      if (table === "users" && operations.some((operation) => operation.kind === "upsert" && operation.mode === "Merge" && "groups" in operation.properties) && failures++ === 0) throw new Error("injected: the Users table is unavailable");
      await apply(table, operations);
    };
    const failed = await failing.engine.run();
    assert.equal(failed.summary.status, "failed");
    assert.match(failed.summary.error ?? "", /Users table is unavailable/);
    const rerun = await env.compose(settings).engine.run();
    assert.equal(rerun.summary.status, "succeeded", rerun.summary.error);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("an incremental sync killed halfway is finished by the next run", async () => {
    const settings = env.settings({ GRAPH_MAX_RETRIES: "1" });
    await env.compose(settings).engine.run();
    churn(env.model, 1);
    env.standIn.faults.failAfterGraphRequests(2);
    const crashed = await env.compose(settings).engine.run();
    env.standIn.faults.clear();
    assert.equal(crashed.summary.status, "failed");
    const rerun = await env.compose(settings).engine.run();
    assert.equal(rerun.summary.status, "succeeded", rerun.summary.error);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  for (const style of ["gone", "badRequest"] as const) {
    test(`an expired delta token (${style === "gone" ? "410 resyncRequired" : "400 syncStateNotFound"}) starts a full read and removes what vanished for good`, async () => {
      const settings = env.settings();
      await env.compose(settings).engine.run();
      const vanished = liveUsers(env.model)[5]!;
      const memberships = churn(env.model, 2);
      env.model.hardDeleteUser(vanished.id);
      env.standIn.faults.expireDeltaTokens(style);
      const sink = collectingSink();
      const run = await env.compose(settings, { changeSink: sink }).engine.run();
      assert.equal(run.summary.status, "succeeded", run.summary.error);
      assert.equal(run.summary.streams.users.fullRead, true);
      assert.equal(run.summary.streams.groups.fullRead, true);
      assert.ok(run.summary.warnings.some((warning) => /delta token was no longer valid/.test(warning)), run.summary.warnings.join("; "));
      const snapshot = await env.compose(settings).store.snapshot();
      // Not in Entra's deleted items either: deleted for good, so removed with its memberships.
      assert.equal(snapshot.users.some((user) => user.id === vanished.id), false);
      assert.equal(snapshot.members.some((row) => row.memberId === vanished.id), false);
      assert.ok(sink.events.some((event) => event.kind === "userDeleted" && event.objectId === vanished.id && /not found by a full read/.test(event.description)), "the change feed says why");
      // Only the memberships that changed, as an incremental run would report them: none for a member deleted meanwhile.
      const stillThere = (id: string) => env.model.groups.has(id) || env.model.users.get(id)?.deleted === false;
      const removed = memberships.removed && stillThere(memberships.removed.split(">")[0]!) ? [`membershipRemoved ${memberships.removed}`] : [];
      const reported = sink.events.filter((event) => event.kind.startsWith("membership")).map((event) => `${event.kind} ${event.objectId}>${event.groupId}`);
      assert.deepEqual(reported.sort(), [`membershipAdded ${memberships.added}`, ...removed].sort());
      assertStoreMatches(withoutObjectsAbsentFrom(snapshot, env.model), env.model);

      const next = await env.compose(settings).engine.run();
      assert.equal(next.summary.streams.users.fullRead, false, "the run after the resync is incremental again");
      assert.equal(next.summary.directoryWrites.entitiesWritten, 0);
    });
  }

  test("a throttling storm is ridden out by honouring Retry-After", async () => {
    const settings = env.settings();
    const sleeps: number[] = [];
    env.standIn.faults.throttleNext(5, 2);
    const run = await env.compose(settings, { sleeps }).engine.run();
    env.standIn.faults.failNext(2, 503, 1);
    churn(env.model, 3);
    const second = await env.compose(settings, { sleeps }).engine.run();
    env.standIn.faults.clear();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.equal(second.summary.status, "succeeded", second.summary.error);
    assert.equal(run.summary.graph.throttled, 5);
    assert.equal(sleeps.filter((ms) => ms === 2000).length, 5, `waits: ${sleeps.join(",")}`);
    assert.equal(sleeps.filter((ms) => ms === 1000).length, 2, `waits: ${sleeps.join(",")}`);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("throttling that never ends fails the run with a message naming the request, and a later run recovers", async () => {
    const settings = env.settings({ GRAPH_MAX_RETRIES: "3" });
    env.standIn.faults.throttleNext(1000, 1);
    const run = await env.compose(settings).engine.run();
    env.standIn.faults.clear();
    assert.equal(run.summary.status, "failed");
    assert.match(run.summary.error ?? "", /GET https:\/\/localhost:\d+\/v1\.0\/(users|groups)\/delta\?… answered 429 \S+ after 4 attempts/);
    const recovered = await env.compose(settings).engine.run();
    assert.equal(recovered.summary.status, "succeeded", recovered.summary.error);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("a dry run reports the plan but writes no directory table and does not advance the delta token", async () => {
    const settings = env.settings();
    const composition = env.compose(settings);
    await composition.engine.run();
    churn(env.model, 4);
    const before = await composition.store.snapshot();
    const checkpointBefore = await composition.state.readCheckpoint("users");
    const dry = await env.compose(settings).engine.run({ dryRun: true });
    assert.equal(dry.summary.status, "succeeded", dry.summary.error);
    assert.equal(dry.summary.dryRun, true);
    assert.equal(dry.summary.directoryWrites.entitiesWritten + dry.summary.directoryWrites.entitiesDeleted, 0);
    assert.ok(dry.summary.users.updated >= 12 && dry.summary.users.created === 1 && dry.summary.users.deleted === 1, JSON.stringify(dry.summary.users));
    assert.ok((dry.plan.userUpdated?.sample ?? []).length > 0, "the plan names who would be updated");
    assert.deepEqual(await composition.store.snapshot(), before);
    assert.deepEqual(await composition.state.readCheckpoint("users"), checkpointBefore);

    const real = await env.compose(settings).engine.run();
    assert.deepEqual(real.summary.users, dry.summary.users, "the real run does what the dry run said");
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("a run past its deadline pauses at a checkpoint and its continuation completes it as the same run", async () => {
    const settings = env.settings();
    const paused = await env.compose(settings).engine.run({ deadline: Date.now() });
    assert.equal(paused.summary.status, "paused");
    let summary = paused.summary;
    for (let i = 0; i < 100 && summary.status === "paused"; i++) {
      summary = (await env.compose(settings).engine.run({ continues: summary, deadline: Date.now() })).summary;
    }
    assert.equal(summary.status, "succeeded", summary.error);
    assert.equal(summary.runId, paused.summary.runId);
    assert.equal(summary.users.created, liveUsers(env.model).length, "counts add up across continuations");
    const runs = await env.compose(settings).runLog.listRecent(10);
    assert.equal(runs.length, 1, "continuations update the one run record");
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("two tenants share one storage account and table prefix without touching each other", async () => {
    const otherModel = DirectoryModel.generate({ seed: 99, users: 40, groups: 5 });
    const other = await GraphStandIn.start({ certDir, model: otherModel, tenantId: "22222222-3333-4444-5555-666666666666" });
    try {
      const settings = env.settings();
      const otherSettings = { ...settings, ...{ tenantId: other.tenantId, tenants: [{ ...settings.tenants[0]!, tenantId: other.tenantId }] }, graphEndpoint: other.url, authorityHost: other.url };
      await env.compose(settings).engine.run();
      const composition = env.compose(otherSettings);
      const otherRun = await composition.engine.run();
      assert.equal(otherRun.summary.status, "succeeded", otherRun.summary.error);
      assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
      assertStoreMatches(await composition.store.snapshot(), otherModel);
    } finally {
      await other.stop();
    }
  });
});

/** Counts the pages of a complete full read, to tell a resumed run from one that started over. */
async function countFullReadPages(settings: ReturnType<TestEnvironment["settings"]>): Promise<number> {
  const fresh = await env.compose(env.settings()).engine.run({ dryRun: true });
  void settings;
  return fresh.summary.streams.users.pages + fresh.summary.streams.groups.pages;
}

/** Drops users and groups the model no longer has (kept by the store as deleted after a full read). */
function withoutObjectsAbsentFrom(snapshot: DirectorySnapshot, model: DirectoryModel): DirectorySnapshot {
  return {
    ...snapshot,
    users: snapshot.users.filter((user) => model.users.has(user.id)),
    groups: snapshot.groups.filter((group) => model.groups.has(group.id)),
  };
}
