// A full read that no longer finds objects asks Entra's deleted items: soft-deleted ones stay restorable, the others are removed with their memberships.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DirectoryModel } from "../../standin/directoryModel";
import { standInClient, startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 17, users: 40, groups: 6 }) });
});
after(async () => env?.stop());

describe("deletions after a full read", () => {
  test("soft-deleted users stay restorable, users gone for good are removed; security groups go, Microsoft 365 groups follow Group.Read.All", async () => {
    const model = env.model;
    const settings = env.settings();
    const [soft, gone] = [...model.users.values()].filter((user) => !user.deleted);
    const security = model.createGroup({ displayName: "Lab access", securityEnabled: true, mailEnabled: false, groupTypes: [] });
    const unified = model.createGroup({ displayName: "Project team", securityEnabled: false, mailEnabled: true, groupTypes: ["Unified"] });
    model.addMember(security.id, soft!.id);
    model.addMember(security.id, gone!.id);
    model.addMember(unified.id, gone!.id);
    await env.compose(settings).engine.run();

    model.softDeleteUser(soft!.id);
    model.hardDeleteUser(gone!.id);
    model.deleteGroup(security.id);
    model.deleteGroup(unified.id);
    const full = await env.compose(settings).engine.run({ mode: "full" });
    assert.equal(full.summary.status, "succeeded", full.summary.error);
    const snapshot = await env.compose(settings).store.snapshot();
    const users = new Map(snapshot.users.map((user) => [user.id, user]));
    const groups = new Map(snapshot.groups.map((group) => [group.id, group]));
    assert.equal(users.get(soft!.id)?.deleted, true, "a soft-deleted user stays, marked deleted");
    assert.equal(users.has(gone!.id), false, "a user in no deleted items is removed");
    assert.ok(!snapshot.members.some((row) => row.memberId === gone!.id) && !snapshot.memberGroups.has(gone!.id), "with its memberships");
    assert.equal(groups.has(security.id), false, "a security group cannot be soft-deleted: removed");
    assert.ok(!snapshot.members.some((row) => row.groupId === security.id) && ![...snapshot.memberGroups.values()].some((lists) => lists.groups.includes(security.id) || lists.inactiveDirectGroups.includes(security.id)));
    assert.equal(groups.get(unified.id)?.deleted, true, "without Group.Read.All a Microsoft 365 group stays marked deleted");
    assert.ok(full.summary.warnings.some((warning) => /Group\.Read\.All/.test(warning)), JSON.stringify(full.summary.warnings));
    assert.deepEqual([full.summary.users.softDeleted, full.summary.users.deleted, full.summary.groups.deleted, full.summary.groups.softDeleted], [1, 1, 1, 1]);

    // With Group.Read.All granted, a Microsoft 365 group gone from deleted items too is removed.
    env.standIn.updateClient(standInClient.clientId, { roles: ["User.Read.All", "GroupMember.Read.All", "Group.Read.All"] });
    try {
      model.deleteGroup(unified.id);
      await env.compose(settings).engine.run({ mode: "full" });
      assert.equal((await env.compose(settings).store.snapshot()).groups.some((group) => group.id === unified.id), false);
    } finally {
      env.standIn.updateClient(standInClient.clientId, { roles: ["User.Read.All", "GroupMember.Read.All"] });
    }
  });
});
