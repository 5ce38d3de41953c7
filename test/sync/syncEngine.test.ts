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
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);

    const restoredId = [...env.model.users.values()].find((user) => user.deleted)!.id;
    env.model.restoreUser(restoredId);
    const restore = await sync(env.compose(settings));
    assert.equal(restore.users.restored, 1);
    assertStoreMatches(await env.compose(settings).store.snapshot(), env.model);
  });
});
