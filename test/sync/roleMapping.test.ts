// ROLE_MAPPING: each user's effective roles, resolved through nested groups, stored on its row and kept current.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Settings } from "../../src/config/settings";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 41, users: 40, groups: 6 }) });
});
after(async () => env?.stop());

async function rolesOf(settings: Settings, userId: string): Promise<string[]> {
  const [user] = (await env.compose(settings).store.readObjects("users", [userId])).values();
  return JSON.parse(user?.roles ?? "[]") as string[];
}

describe("group to role mapping", () => {
  test("roles come through two levels of nesting, follow membership changes, and a new mapping applies on the next run without a full read", async () => {
    const model = env.model;
    const top = model.createGroup({ displayName: "School admins" });
    const middle = model.createGroup({ displayName: "Heads of department" });
    const leaf = model.createGroup({ displayName: "Head of science" });
    model.addMember(top.id, middle.id);
    model.addMember(middle.id, leaf.id);
    const [deep, shallow, outside] = [...model.users.values()].filter((user) => !user.deleted);
    model.addMember(leaf.id, deep!.id);
    model.addMember(middle.id, shallow!.id);
    const mapping = { [top.id]: "Admin", [middle.id]: ["Manager", "Member"] };
    const settings = env.settings({ ROLE_MAPPING: JSON.stringify(mapping) });

    const first = await env.compose(settings).engine.run();
    assert.equal(first.summary.status, "succeeded", first.summary.error);
    assert.deepEqual(await rolesOf(settings, deep!.id), ["Admin", "Manager", "Member"], "leaf → middle → top");
    assert.deepEqual(await rolesOf(settings, shallow!.id), ["Admin", "Manager", "Member"]);
    assert.deepEqual(await rolesOf(settings, outside!.id), []);

    model.removeMember(middle.id, leaf.id);
    const moved = await env.compose(settings).engine.run();
    assert.equal(moved.summary.roles.changed, 1);
    assert.deepEqual(await rolesOf(settings, deep!.id), [], "the nesting that carried the roles is gone");
    model.updateUser(deep!.id, { jobTitle: "Keeps no roles" });
    await env.compose(settings).engine.run();
    assert.deepEqual(await rolesOf(settings, shallow!.id), ["Admin", "Manager", "Member"], "a rewrite of another user's row leaves these roles alone");

    const remapped = env.settings({ ROLE_MAPPING: JSON.stringify({ [middle.id]: "Reviewer" }), TABLE_PREFIX: settings.tablePrefix });
    const applied = await env.compose(remapped).engine.run();
    assert.equal(applied.summary.status, "succeeded", applied.summary.error);
    assert.equal(applied.summary.streams.users.fullRead || applied.summary.streams.groups.fullRead, false, "no full read for a mapping change");
    assert.ok(applied.summary.graph.requests <= 4, `${applied.summary.graph.requests} Graph requests`);
    assert.deepEqual(await rolesOf(remapped, shallow!.id), ["Reviewer"]);

    const unmapped = env.settings({ TABLE_PREFIX: settings.tablePrefix });
    await env.compose(unmapped).engine.run();
    assert.deepEqual(await rolesOf(unmapped, shallow!.id), [], "removing the mapping clears the roles");
    const quiet = await env.compose(unmapped).engine.run();
    assert.equal(quiet.summary.directoryWrites.entitiesWritten, 0, "and then nothing more is written");
  });

  test("a user's row rewritten by an update keeps its roles", async () => {
    const model = env.model;
    const group = model.createGroup({ displayName: "Governors" });
    const user = [...model.users.values()].filter((candidate) => !candidate.deleted)[10]!;
    model.addMember(group.id, user.id);
    const settings = env.settings({ ROLE_MAPPING: JSON.stringify({ [group.id]: "Governor" }) });
    await env.compose(settings).engine.run();
    model.updateUser(user.id, { department: "Board" });
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.users.updated, 1);
    assert.deepEqual(await rolesOf(settings, user.id), ["Governor"]);
  });
});
