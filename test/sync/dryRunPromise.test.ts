// The dry run's promise: run dry, then real, and the real run does exactly what the dry run said, id for id, in every category.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Settings } from "../../src/config/settings";
import type { SyncRequest, SyncResult } from "../../src/sync/syncEngine";
import { DirectoryModel } from "../../standin/directoryModel";
import { startEnvironment, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 91, users: 50, groups: 6 }) });
});
after(async () => env?.stop());

interface Tables {
  users: Map<string, { deleted: boolean; outOfScope: boolean; hash: string | undefined }>;
  groups: Map<string, { deleted: boolean; hash: string | undefined }>;
  members: Set<string>;
  exclusions: Map<string, string>;
  held: Map<string, boolean>;
  checkpoint: string;
}

async function read(settings: Settings): Promise<Tables> {
  const composition = env.compose(settings);
  await composition.ensureTables();
  const snapshot = await composition.store.snapshot();
  const exclusions = new Map<string, string>();
  for await (const exclusion of composition.state.listExclusions()) if (exclusion.code !== "pending") exclusions.set(exclusion.id, exclusion.reason);
  return {
    users: new Map(snapshot.users.map((user) => [user.id, { deleted: user.deleted, outOfScope: user.outOfScope, hash: user.hash }])),
    groups: new Map(snapshot.groups.map((group) => [group.id, { deleted: group.deleted, hash: group.hash }])),
    members: new Set(snapshot.members.map((row) => `${row.memberId}>${row.groupId}`)),
    exclusions,
    held: new Map((await composition.state.readHeldDeletions()).map((held) => [held.userId, held.outOfScope === true])),
    checkpoint: JSON.stringify(await composition.state.readCheckpoint("users")),
  };
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

/** What the real run did to the tables, per category of the plan. */
function changes(before: Tables, after: Tables): Record<string, string[]> {
  const ids = <T>(map: Map<string, T>, keep: (id: string, now: T) => boolean) => sorted([...map].filter(([id, now]) => keep(id, now)).map(([id]) => id));
  const was = (id: string) => before.users.get(id);
  return {
    userCreated: ids(after.users, (id, now) => !was(id) && !now.deleted),
    userRestored: ids(after.users, (id, now) => was(id)?.deleted === true && !now.deleted),
    userUpdated: ids(after.users, (id, now) => was(id)?.deleted === false && !now.deleted && was(id)!.hash !== now.hash),
    userSoftDeleted: ids(after.users, (id, now) => was(id)?.deleted === false && now.deleted),
    userDeleted: ids(before.users, (id) => !after.users.has(id)),
    groupCreated: ids(after.groups, (id, now) => !before.groups.has(id) && !now.deleted),
    groupUpdated: ids(after.groups, (id, now) => before.groups.get(id)?.deleted === false && !now.deleted && before.groups.get(id)!.hash !== now.hash),
    groupSoftDeleted: ids(after.groups, (id, now) => before.groups.get(id)?.deleted === false && now.deleted),
    groupDeleted: ids(before.groups, (id) => !after.groups.has(id)),
    // Under scope settings, every user who gains an active row entered the scope (new under a scope group, or let in), except one restored in Entra.
    userEnteredScope: ids(after.users, (id, now) => !now.deleted && (!was(id) || was(id)!.outOfScope)),
    membershipAdded: sorted([...after.members].filter((key) => !before.members.has(key))),
    membershipRemoved: sorted([...before.members].filter((key) => !after.members.has(key))),
    // Users leaving the scope in this run: soft-deleted as out of scope (not held by an earlier run), or held for the threshold.
    userLeftScope: sorted(new Set([...ids(after.users, (id, now) => was(id)?.deleted === false && now.outOfScope && !before.held.has(id)), ...ids(after.held, (id, outOfScope) => outOfScope && !before.held.has(id))])),
    userExcluded: ids(after.exclusions, (id, reason) => before.exclusions.get(id) !== reason),
  };
}

/** Runs dry, checks nothing moved, runs for real, and checks the real run did what the dry run said. */
async function dryThenReal(settings: Settings, request: SyncRequest = {}): Promise<{ dry: SyncResult; real: SyncResult }> {
  const before = await read(settings);
  const dry = await env.compose(settings).engine.run({ ...request, dryRun: true });
  assert.equal(dry.summary.status, "succeeded", dry.summary.error);
  assert.deepEqual(await read(settings), before, "the dry run wrote nothing and moved no delta state");
  const real = await env.compose(settings).engine.run(request);
  assert.notEqual(real.summary.status, "failed", real.summary.error);
  const after = await read(settings);
  for (const [kind, done] of Object.entries(changes(before, after))) assert.deepEqual(dry.planIds[kind] ?? [], done, `${kind}: the dry run's ids are the real run's`);
  assert.equal(real.summary.status === "quarantined", dry.summary.heldDeletions !== undefined, "the dry run says whether the run ends quarantined");
  assert.deepEqual(real.summary.heldDeletions, dry.summary.heldDeletions, "held: the same count and sample");
  for (const kind of new Set([...Object.keys(dry.plan), ...Object.keys(real.plan)])) assert.equal(real.plan[kind]?.count, dry.plan[kind]?.count, `${kind}: the same count`);
  for (const counts of ["users", "groups", "memberships", "transitive", "scope"] as const) assert.deepEqual(real.summary[counts], dry.summary[counts], `${counts} counters agree`);
  return { dry, real };
}

describe("a dry run is the real run with its writes withheld", () => {
  test("first sync, churn in scope and exclusion groups, new users under scope groups, renames, deletions over the threshold, new scope settings", async () => {
    const model = env.model;
    const staff = model.createGroup({ displayName: "Staff - Teaching" });
    const team = model.createGroup({ displayName: "Team B" });
    const suspended = model.createGroup({ displayName: "Suspended" });
    const other = model.createGroup({ displayName: "Contractors" });
    const clubs = [model.createGroup({ displayName: "Chess club", groupTypes: ["Unified"], mailEnabled: true }), model.createGroup({ displayName: "Debating society" })];
    model.addMember(clubs[0]!.id, [...model.users.values()][0]!.id);
    model.addMember(staff.id, team.id);
    const users = [...model.users.values()].filter((user) => !user.deleted);
    for (const user of users.slice(0, 14)) model.addMember(staff.id, user.id);
    for (const user of users.slice(14, 20)) model.addMember(team.id, user.id);
    for (const user of users.slice(20, 26)) model.addMember(other.id, user.id);
    model.addMember(suspended.id, users[0]!.id);
    const settings = env.settings({ SCOPE_GROUP_NAME_PATTERNS: "Staff - *", SCOPE_EXCLUDE_GROUP_NAME_PATTERNS: "Suspended*", DELETION_THRESHOLD_COUNT: "8", DELETION_THRESHOLD_PERCENT: "0" });

    const first = await dryThenReal(settings);
    assert.ok(first.dry.planIds.userCreated!.length >= 18, "the first sync's dry run names everyone it would create");

    // Membership churn in the scope and exclusion groups, users new under a nested scope group, an update, a deletion in Entra.
    model.addMember(suspended.id, users[1]!.id);
    model.removeMember(staff.id, users[2]!.id);
    model.removeMember(suspended.id, users[0]!.id);
    for (let i = 0; i < 3; i++) model.addMember(team.id, model.createUser({ displayName: `New Teacher ${i}` }).id);
    model.updateUser(users[3]!.id, { displayName: "Renamed Teacher" });
    model.softDeleteUser(users[4]!.id);
    for (const club of clubs) model.deleteGroup(club.id);
    const churn = await dryThenReal(settings);
    assert.equal(churn.dry.planIds.userCreated?.length, 4, "three new teachers, and the user no longer suspended");
    assert.ok(churn.dry.planIds.userCreated.includes(users[0]!.id));
    assert.ok(churn.dry.planIds.userLeftScope?.includes(users[1]!.id) && churn.dry.planIds.userLeftScope.includes(users[2]!.id), JSON.stringify(churn.dry.planIds.userLeftScope));
    assert.deepEqual(churn.dry.planIds.groupSoftDeleted, [clubs[0]!.id], "the Microsoft 365 group is soft-deleted");
    assert.deepEqual(churn.dry.planIds.groupDeleted, [clubs[1]!.id], "the security group is gone for good");

    // A group renamed into a scope pattern brings its members in, in the same run.
    model.updateGroup(other.id, { displayName: "Staff - Contractors" });
    const renamedIn = await dryThenReal(settings);
    assert.deepEqual(renamedIn.dry.planIds.userEnteredScope, sorted(users.slice(20, 26).map((user) => user.id)));

    // Renamed out: its members (through nesting too) leave, past the threshold: quarantined, and the dry run said so.
    model.updateGroup(staff.id, { displayName: "Former staff" });
    const renamedOut = await dryThenReal(settings);
    assert.equal(renamedOut.real.summary.status, "quarantined");
    assert.ok(renamedOut.dry.summary.heldDeletions!.count > 8);

    // New scope settings, applied with allowDeletions: the held exits and the new filter's exits go together.
    const widened = env.settings({ TABLE_PREFIX: settings.tablePrefix, SCOPE_GROUP_NAME_PATTERNS: "Staff - *", SCOPE_EXCLUDE_GROUP_NAME_PATTERNS: "Suspended*", USER_EXCLUDE_PATTERNS: `${users[21]!.userPrincipalName}`, DELETION_THRESHOLD_COUNT: "8", DELETION_THRESHOLD_PERCENT: "0" });
    const changed = await dryThenReal(widened, { allowDeletions: true });
    assert.equal(changed.real.summary.status, "succeeded");
    assert.ok(changed.dry.planIds.userExcluded?.includes(users[21]!.id));
  });
});
