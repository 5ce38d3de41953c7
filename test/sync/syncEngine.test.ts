// The engine against Azurite and the Graph stand-in: after every scenario the store must equal the directory.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Composition } from "../../src/compositionRoot";
import { DirectoryModel } from "../../standin/directoryModel";
import { assertStoreMatches } from "../support/groundTruth";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;

before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 11, users: 120, groups: 16 }), standIn: { usersPageSize: 25, groupsPageSize: 4, membersPerGroupAppearance: 7 } });
});
after(async () => env?.stop());

async function sync(composition: Composition, request: Parameters<Composition["engine"]["run"]>[0] = {}) {
  const result = await composition.engine.run({ trigger: "cli", ...request });
  return result.summary;
}

/** Mixed changes of every kind the engine must handle, applied to the stand-in between runs. */
function applyMixedChanges(model: DirectoryModel): void {
  const users = [...model.users.values()].filter((user) => !user.deleted);
  const groups = [...model.groups.values()].filter((group) => !group.deleted);
  model.updateUser(users[0]!.id, { jobTitle: "Head of Science", department: null });
  model.updateUser(users[1]!.id, { accountEnabled: false });
  const created = model.createUser({ displayName: "Zoë New-Starter" });
  model.addMember(groups[0]!.id, created.id);
  model.softDeleteUser(users[2]!.id);
  model.hardDeleteUser(users[3]!.id);
  model.removeMember(groups[1]!.id, [...(model.members.get(groups[1]!.id)?.keys() ?? [])][0]!);
  model.addMember(groups[2]!.id, groups[3]!.id);
  const newGroup = model.createGroup({ displayName: "Année 7 — Français" });
  model.addMember(newGroup.id, users[4]!.id);
  model.addMember(groups[4]!.id, newGroup.id);
  model.updateGroup(groups[5]!.id, { description: "Renamed on purpose" });
}

describe("sync engine", () => {
  test("a full sync stores exactly the directory, and a second run with no changes writes nothing", async () => {
    const settings = env.settings();
    const first = await sync(env.compose(settings));
    assert.equal(first.status, "succeeded", first.error);
    assert.equal(first.streams.users.fullRead, true);
    assert.equal(first.users.created, env.model.users.size);
    assert.equal(first.groups.created, env.model.groups.size);
    assert.equal(first.groups.unchanged, 0, "a group's later appearances in a full read are not counted again");
    assert.ok(first.streams.groups.pages > 1, "groups arrive over several pages");
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);

    const noop = await sync(env.compose(settings));
    assert.equal(noop.status, "succeeded", noop.error);
    assert.ok(noop.graph.requests <= 4, `no-op run made ${noop.graph.requests} Graph requests`);
    assert.equal(noop.directoryWrites.entitiesWritten, 0);
    assert.equal(noop.directoryWrites.entitiesDeleted, 0);
    assert.equal(noop.streams.users.fullRead, false);
  });

  test("mixed changes arrive through delta and leave the store equal to the directory", async () => {
    const settings = env.settings();
    await sync(env.compose(settings));
    applyMixedChanges(env.model);
    const run = await sync(env.compose(settings));
    assert.equal(run.status, "succeeded", run.error);
    assert.equal(run.streams.users.fullRead, false);
    assert.equal(run.users.created, 1);
    assert.equal(run.users.softDeleted, 1);
    assert.equal(run.users.deleted, 1);
    assert.ok(run.users.updated >= 2);
    assert.equal(run.groups.updated, 1, "only the group whose description changed is rewritten");
    assert.equal(run.groups.created, 1);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);

    const restoredId = [...env.model.users.values()].find((user) => user.deleted)!.id;
    env.model.restoreUser(restoredId);
    const restore = await sync(env.compose(settings));
    assert.equal(restore.users.restored, 1);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });

  test("groups: Microsoft 365 soft delete and restore, hard delete, nesting with a cycle, devices and service principals", async () => {
    const settings = env.settings();
    const model = env.model;
    const parent = model.createGroup({ displayName: "All staff", groupTypes: ["Unified"], mailEnabled: true, securityEnabled: false });
    const middle = model.createGroup({ displayName: "Teachers", securityEnabled: true });
    const leaf = model.createGroup({ displayName: "Science", securityEnabled: true });
    const users = [...model.users.values()].filter((user) => !user.deleted);
    model.addMember(parent.id, middle.id);
    model.addMember(middle.id, leaf.id);
    model.addMember(leaf.id, parent.id);
    model.addMember(leaf.id, users[10]!.id);
    model.addMember(middle.id, users[10]!.id);
    model.addMember(leaf.id, model.createOtherObject("device"));
    model.addMember(leaf.id, model.createOtherObject("servicePrincipal"));
    const first = await sync(env.compose(settings));
    assert.equal(first.status, "succeeded", first.error);
    assertStoreMatches(await env.compose(settings).store.snapshot(), model);
    const lists = await env.compose(settings).store.readMemberGroups(users[10]!.id);
    assert.ok(lists.groups.includes(parent.id) && !lists.directGroups.includes(parent.id), "reached through two levels of nesting");
    assert.ok(lists.directGroups.includes(middle.id) && lists.groups.includes(middle.id), "direct, and also reached through the cycle");
    const leafMembers = await env.compose(settings).store.listMembers(leaf.id);
    assert.deepEqual(leafMembers.map((row) => row.memberType).sort(), ["device", "group", "servicePrincipal", "user"]);

    model.deleteGroup(parent.id);
    const softDeleted = await sync(env.compose(settings));
    assert.equal(softDeleted.groups.softDeleted, 1);
    assertStoreMatches(await env.compose(settings).store.snapshot(), model);
    assert.equal((await env.compose(settings).store.readMemberGroups(users[10]!.id)).groups.includes(parent.id), false, "a soft-deleted group passes on nothing");

    model.restoreGroup(parent.id);
    model.deleteGroup(leaf.id);
    const restored = await sync(env.compose(settings));
    assert.equal(restored.groups.restored, 1);
    assert.equal(restored.groups.deleted, 1);
    assertStoreMatches(await env.compose(settings).store.snapshot(), model);
    assert.deepEqual(await env.compose(settings).store.listMembers(leaf.id), [], "a group deleted for good leaves no member rows");
  });

  test("a user reached through two paths keeps the group when one path goes", async () => {
    const settings = env.settings();
    const model = env.model;
    const top = model.createGroup({ displayName: "Everyone" });
    const pathA = model.createGroup({ displayName: "Path A" });
    const pathB = model.createGroup({ displayName: "Path B" });
    const user = [...model.users.values()].filter((candidate) => !candidate.deleted)[20]!;
    model.addMember(top.id, pathA.id);
    model.addMember(top.id, pathB.id);
    model.addMember(pathA.id, user.id);
    model.addMember(pathB.id, user.id);
    await sync(env.compose(settings));
    model.removeMember(pathA.id, user.id);
    const run = await sync(env.compose(settings));
    assert.equal(run.status, "succeeded", run.error);
    assert.ok((await env.compose(settings).store.readMemberGroups(user.id)).groups.includes(top.id), "still reached through Path B");
    model.removeMember(pathB.id, user.id);
    await sync(env.compose(settings));
    assert.equal((await env.compose(settings).store.readMemberGroups(user.id)).groups.includes(top.id), false);
    assertStoreMatches(await env.compose(settings).store.snapshot(), model);
  });

  test("a removed membership costs one write per row it changes, and stays as inherited where nesting still reaches the group", async () => {
    const settings = env.settings();
    const model = env.model;
    const outer = model.createGroup({ displayName: "Whole school" });
    const inner = model.createGroup({ displayName: "Year 9" });
    const [direct, both] = [...model.users.values()].filter((candidate) => !candidate.deleted).slice(30, 32);
    model.addMember(outer.id, inner.id);
    model.addMember(inner.id, both!.id);
    model.addMember(outer.id, both!.id);
    model.addMember(outer.id, direct!.id);
    await sync(env.compose(settings));
    model.removeMember(outer.id, direct!.id);
    const run = await sync(env.compose(settings));
    assert.equal(run.status, "succeeded", run.error);
    // Its Members row goes and the user's row loses the group: two rows, two writes.
    assert.equal(run.directoryWrites.entitiesWritten + run.directoryWrites.entitiesDeleted, 2);
    model.removeMember(outer.id, both!.id);
    assert.equal((await sync(env.compose(settings))).status, "succeeded");
    const bothLists = await env.compose(settings).store.readMemberGroups(both!.id);
    assert.deepEqual([bothLists.directGroups.includes(outer.id), bothLists.groups.includes(outer.id)], [false, true], "inherited through Year 9");
    assert.equal((await env.compose(settings).store.readMemberGroups(direct!.id)).groups.includes(outer.id), false);
    assertStoreMatches(await env.compose(settings).store.snapshot(), model);
  });
});

describe("deletion policy", () => {
  test("soft-deleted users and groups stay, marked deleted, for DELETED_RETENTION_DAYS, then are purged with their memberships", async () => {
    const settings = env.settings({ DELETED_RETENTION_DAYS: "30" });
    const model = env.model;
    await sync(env.compose(settings));
    const user = [...model.users.values()].find((candidate) => !candidate.deleted && model.memberOf(candidate.id).length > 0)!;
    const group = model.createGroup({ displayName: "Year 13 leavers", groupTypes: ["Unified"], mailEnabled: true, securityEnabled: false });
    model.addMember(group.id, [...model.users.values()].find((candidate) => !candidate.deleted && candidate.id !== user.id)!.id);
    await sync(env.compose(settings));
    model.softDeleteUser(user.id);
    model.deleteGroup(group.id);
    const dayMs = 86_400_000;
    const deleted = await sync(env.compose(settings));
    assert.equal(deleted.users.softDeleted, 1);
    assert.equal(deleted.groups.softDeleted, 1);

    const kept = await sync(env.compose(settings, { clock: () => Date.now() + 29 * dayMs }));
    assert.deepEqual([kept.users.purged, kept.groups.purged], [0, 0]);
    const store = env.compose(settings).store;
    assert.equal((await store.readObjects("users", [user.id])).get(user.id)?.deleted, true, "29 days on: still there, marked deleted");

    const purged = await sync(env.compose(settings, { clock: () => Date.now() + 31 * dayMs }));
    assert.deepEqual([purged.users.purged, purged.groups.purged], [1, 1]);
    assert.equal((await store.readObjects("users", [user.id])).size, 0);
    assert.equal((await store.readObjects("groups", [group.id])).size, 0);
    assert.deepEqual(await store.readMemberGroups(user.id), { groups: [], directGroups: [], inactiveDirectGroups: [] }, "no membership is left behind");
    assert.equal([...(await store.snapshot()).members].some((row) => row.memberId === user.id), false);
    assert.deepEqual(await store.listMembers(group.id), []);
    assertStoreMatches(await store.snapshot(), model);
  });
});

describe("sync engine under other documented Graph behaviours", () => {
  test("changes delivered twice (replays) give the same store", async () => {
    const replayEnv = await startEnvironment({ model: DirectoryModel.generate({ seed: 5, users: 50, groups: 8 }), standIn: { replayChanges: true } });
    try {
      const settings = replayEnv.settings();
      await replayEnv.compose(settings).engine.run();
      applyMixedChanges(replayEnv.model);
      const run = await replayEnv.compose(settings).engine.run();
      assert.equal(run.summary.status, "succeeded", run.summary.error);
      assertStoreMatches(await replayEnv.compose(settings).store.snapshot(), replayEnv.model);
    } finally {
      await replayEnv.stop();
    }
  });

  test("older Graph: soft-deleting a user reports it removed from groups, restoring reports it back", async () => {
    const olderEnv = await startEnvironment({ model: DirectoryModel.generate({ seed: 6, users: 50, groups: 8 }), standIn: { softDeletedUserMembership: "reportedRemoved", updatedObjectProperties: "selected" } });
    try {
      const settings = olderEnv.settings();
      await olderEnv.compose(settings).engine.run();
      const member = [...olderEnv.model.members.values()].flatMap((members) => [...members].filter(([, type]) => type === "user").map(([id]) => id))[0]!;
      olderEnv.model.softDeleteUser(member);
      await olderEnv.compose(settings).engine.run();
      assert.deepEqual((await olderEnv.compose(settings).store.readMemberGroups(member)).directGroups, [], "a soft-deleted user's memberships do not count");
      olderEnv.model.restoreUser(member);
      const restored = await olderEnv.compose(settings).engine.run();
      assert.equal(restored.summary.users.restored, 1);
      assertStoreMatches(await olderEnv.compose(settings).store.snapshot(), olderEnv.model);
      assert.ok((await olderEnv.compose(settings).store.readMemberGroups(member)).directGroups.length > 0);
    } finally {
      await olderEnv.stop();
    }
  });
});
