// Scope and filters: who is synced, who is left out and why, and how leaving the scope goes through the deletion guard.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Settings } from "../../src/config/settings";
import { ClientSecretCredential } from "@azure/identity";
import { runConnectionCheck } from "../../src/check/connectionCheck";
import { DirectoryModel, type ModelUser } from "../../standin/directoryModel";
import { tableKeys } from "../../src/store/tableKeys";
import { startEnvironment, standInClient, type TestEnvironment } from "../support/testEnvironment";

let env: TestEnvironment;
before(async () => {
  env = await startEnvironment({ model: DirectoryModel.generate({ seed: 53, users: 50, groups: 6 }) });
});
after(async () => env?.stop());

const live = () => [...env.model.users.values()].filter((user) => !user.deleted);

async function storedUsers(settings: Settings): Promise<Map<string, { deleted: boolean; outOfScope: boolean; upn: unknown }>> {
  const users = new Map<string, { deleted: boolean; outOfScope: boolean; upn: unknown }>();
  for await (const user of env.compose(settings).store.listObjects("users")) users.set(user.id, { deleted: user.deleted, outOfScope: user.outOfScope, upn: user.properties.userPrincipalName });
  return users;
}

async function activeIds(settings: Settings): Promise<Set<string>> {
  return new Set([...(await storedUsers(settings))].filter(([, user]) => !user.deleted).map(([id]) => id));
}

/** Every entity of every table this deployment wrote, as text, to look for a value anywhere. */
async function everythingStored(settings: Settings): Promise<string> {
  const parts: string[] = [];
  const { legacyMemberOf: _neverCreated, ...tables } = env.compose(settings).tables;
  for (const table of Object.values(tables)) for await (const entity of table.listEntities()) parts.push(JSON.stringify(entity));
  return parts.join("\n");
}

function user(overrides: Partial<ModelUser> = {}): ModelUser {
  return env.model.createUser(overrides);
}

describe("group scope", () => {
  test("nested scope groups with a cycle: members at every level are synced, everyone else is not stored at all", async () => {
    const model = env.model;
    const [a, b, c] = [model.createGroup({ displayName: "Scope A" }), model.createGroup({ displayName: "Scope B" }), model.createGroup({ displayName: "Scope C" })];
    model.addMember(a.id, b.id);
    model.addMember(b.id, c.id);
    model.addMember(c.id, a.id);
    const [top, deep] = [user({ displayName: "Top Member" }), user({ displayName: "Deep Member" })];
    model.addMember(a.id, top.id);
    model.addMember(c.id, deep.id);
    const outsider = user({ displayName: "Outside Person", userPrincipalName: "outside.person@contoso.com", mail: "outside.person@contoso.com" });
    const settings = env.settings({ SCOPE_GROUPS: a.id });

    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    const active = await activeIds(settings);
    assert.deepEqual([...active].sort(), [top.id, deep.id].sort(), "exactly the members of A, B and C");
    assert.ok(run.summary.scope.excluded >= 50, `${run.summary.scope.excluded} users left out`);
    const everything = await everythingStored(settings);
    assert.ok(!everything.includes("outside.person"), "no property of a user outside the scope is stored anywhere");
    assert.ok(!everything.includes("Outside Person"));

    // Joining a scope group later brings the user in on the next run, read by id.
    model.addMember(b.id, outsider.id);
    const joined = await env.compose(settings).engine.run();
    assert.equal(joined.summary.status, "succeeded", joined.summary.error);
    assert.equal(joined.summary.scope.entered, 1);
    assert.equal(joined.summary.streams.users.fullRead || joined.summary.streams.groups.fullRead, false);
    const stored = await storedUsers(settings);
    assert.equal(stored.get(outsider.id)?.upn, "outside.person@contoso.com");
    assert.equal(stored.get(outsider.id)?.deleted, false);
  });

  test("scope and exclusion groups by display-name pattern: an exclusion wins over any inclusion", async () => {
    const model = env.model;
    const [science, maths, suspended] = [model.createGroup({ displayName: "Staff - Science" }), model.createGroup({ displayName: "Staff - Maths" }), model.createGroup({ displayName: "Suspended accounts" })];
    const [teacher, other, barred] = [user({ displayName: "Science Teacher" }), user({ displayName: "Maths Teacher" }), user({ displayName: "Barred Teacher" })];
    model.addMember(science.id, teacher.id);
    model.addMember(maths.id, other.id);
    model.addMember(maths.id, barred.id);
    model.addMember(suspended.id, barred.id);
    const settings = env.settings({ SCOPE_GROUP_NAME_PATTERNS: "staff - *", SCOPE_EXCLUDE_GROUP_NAME_PATTERNS: "Suspended*", DELETION_THRESHOLD_PERCENT: "0" });
    const dry = await env.compose(settings).engine.run({ dryRun: true });
    assert.equal(dry.summary.status, "succeeded", dry.summary.error);
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.deepEqual([...(await activeIds(settings))].sort(), [teacher.id, other.id].sort());
    const exclusions = [];
    for await (const exclusion of env.compose(settings).state.listExclusions()) if (exclusion.id === barred.id) exclusions.push(exclusion);
    assert.deepEqual(exclusions.map((exclusion) => exclusion.reason), ["member of excluded group Suspended accounts"]);
  });

  test("a user reached through two paths who leaves one stays; leaving the last one is a held, then applied, soft delete", async () => {
    const model = env.model;
    const scope = model.createGroup({ displayName: "Staff" });
    const [teachers, office] = [model.createGroup({ displayName: "Teachers" }), model.createGroup({ displayName: "Office" })];
    model.addMember(scope.id, teachers.id);
    model.addMember(scope.id, office.id);
    const both = user({ displayName: "Two Paths" });
    model.addMember(teachers.id, both.id);
    model.addMember(office.id, both.id);
    // One user in scope: any exit is 100 %, so only the count limit is left on.
    const settings = env.settings({ SCOPE_GROUPS: scope.id, DELETION_THRESHOLD_PERCENT: "0" });
    await env.compose(settings).engine.run();
    assert.ok((await activeIds(settings)).has(both.id));

    model.removeMember(teachers.id, both.id);
    const one = await env.compose(settings).engine.run();
    assert.equal(one.summary.status, "succeeded");
    assert.equal(one.summary.scope.left, 0);
    assert.ok((await activeIds(settings)).has(both.id), "still in through Office");

    model.removeMember(office.id, both.id);
    const gone = await env.compose(settings).engine.run();
    assert.equal(gone.summary.status, "succeeded", gone.summary.error);
    assert.equal(gone.summary.scope.left, 1);
    const row = (await storedUsers(settings)).get(both.id);
    assert.deepEqual({ deleted: row?.deleted, outOfScope: row?.outOfScope }, { deleted: true, outOfScope: true }, "soft-deleted, marked as out of scope");

    // An update to the user while out of scope does not bring it back; rejoining does.
    model.updateUser(both.id, { jobTitle: "Still outside" });
    await env.compose(settings).engine.run();
    assert.equal((await storedUsers(settings)).get(both.id)?.deleted, true);
    model.addMember(office.id, both.id);
    const back = await env.compose(settings).engine.run();
    assert.equal(back.summary.scope.entered, 1);
    assert.equal((await storedUsers(settings)).get(both.id)?.deleted, false);
  });

  test("a scope group deleted: the run is quarantined and nobody is deleted, until allowDeletions", async () => {
    const model = env.model;
    const scope = model.createGroup({ displayName: "Everyone at school" });
    const members = live().slice(0, 12);
    for (const member of members) model.addMember(scope.id, member.id);
    const settings = env.settings({ SCOPE_GROUPS: scope.id, DELETION_THRESHOLD_COUNT: "5", DELETION_THRESHOLD_PERCENT: "0" });
    await env.compose(settings).engine.run();
    assert.equal((await activeIds(settings)).size, 12);

    model.deleteGroup(scope.id);
    const held = await env.compose(settings).engine.run();
    assert.equal(held.summary.status, "quarantined", held.summary.error);
    assert.equal(held.summary.heldDeletions?.count, 12);
    assert.ok(held.summary.warnings.some((warning) => warning.startsWith(`SCOPE_GROUPS names group ${scope.id}, which is not a synced group`)), held.summary.warnings.join("; "));
    assert.ok(held.summary.heldDeletions?.sample.every((entry) => /left the scope \(not a member of any scope group\)/.test(entry)), held.summary.heldDeletions?.sample.join("; "));
    assert.equal((await activeIds(settings)).size, 12, "nobody deleted while held");

    const again = await env.compose(settings).engine.run();
    assert.equal(again.summary.status, "quarantined", "still held on the next scheduled run");

    const allowed = await env.compose(settings).engine.run({ allowDeletions: true });
    assert.equal(allowed.summary.status, "succeeded", allowed.summary.error);
    assert.equal(allowed.summary.users.softDeleted, 12);
    assert.equal((await activeIds(settings)).size, 0);
  });

  test("changing the scope applies on the next run without a full read", async () => {
    const model = env.model;
    const scope = model.createGroup({ displayName: "Pilot" });
    const [inside, other] = live();
    model.addMember(scope.id, inside!.id);
    const everyone = env.settings({ DELETION_THRESHOLD_COUNT: "0", DELETION_THRESHOLD_PERCENT: "0" });
    await env.compose(everyone).engine.run();
    assert.ok((await activeIds(everyone)).has(other!.id));

    const scoped = env.settings({ TABLE_PREFIX: everyone.tablePrefix, SCOPE_GROUPS: scope.id, DELETION_THRESHOLD_COUNT: "0", DELETION_THRESHOLD_PERCENT: "0" });
    const narrowed = await env.compose(scoped).engine.run();
    assert.equal(narrowed.summary.status, "succeeded", narrowed.summary.error);
    assert.equal(narrowed.summary.streams.users.fullRead || narrowed.summary.streams.groups.fullRead, false, "no full read");
    assert.ok(narrowed.summary.graph.requests <= 4, `${narrowed.summary.graph.requests} Graph requests`);
    assert.deepEqual([...(await activeIds(scoped))], [inside!.id]);

    // Widening again brings everyone back, read by id (50 per request), still without a full read.
    const widened = await env.compose(everyone).engine.run();
    assert.equal(widened.summary.status, "succeeded", widened.summary.error);
    assert.equal(widened.summary.streams.users.fullRead || widened.summary.streams.groups.fullRead, false);
    assert.ok((await activeIds(everyone)).has(other!.id));
    assert.equal((await activeIds(everyone)).size, live().length);
  });

  test("groups of a kind left out are not stored and pass on no membership", async () => {
    const model = env.model;
    const m365 = model.createGroup({ displayName: "Year 7 team", groupTypes: ["Unified"], mailEnabled: true, securityEnabled: false });
    const security = model.createGroup({ displayName: "Year 7 security" });
    const [member] = live();
    model.addMember(m365.id, member!.id);
    model.addMember(security.id, member!.id);
    const settings = env.settings({ SYNC_GROUP_KINDS: "security" });
    const run = await env.compose(settings).engine.run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.equal(run.summary.graph.requests, run.summary.streams.users.pages + run.summary.streams.groups.pages, "no group read again by id");
    const store = env.compose(settings).store;
    const groups = await store.readObjects("groups", [m365.id, security.id]);
    assert.ok(!groups.has(m365.id), "the Microsoft 365 group is not stored");
    assert.ok(groups.has(security.id));
    const lists = await store.readMemberGroups(member!.id);
    assert.equal(lists.directGroups.includes(m365.id), false);
    assert.ok(lists.inactiveDirectGroups.includes(m365.id), "kept, not counting, for when the kind is synced again");
    assert.equal(lists.directGroups.includes(security.id), true);

    // Adding the kind back brings the group in on the next run, read by id.
    const all = env.settings({ TABLE_PREFIX: settings.tablePrefix });
    const widened = await env.compose(all).engine.run();
    assert.equal(widened.summary.status, "succeeded", widened.summary.error);
    assert.ok((await store.readObjects("groups", [m365.id])).has(m365.id));
    assert.equal((await store.readMemberGroups(member!.id)).directGroups.includes(m365.id), true);
  });
});

describe("test mode and retention with a scope", () => {
  test("a dry run of a new scope lists who would leave and why, and writes nothing nor moves the delta state", async () => {
    const model = env.model;
    const scope = model.createGroup({ displayName: "Dry run scope" });
    const [kept] = live();
    model.addMember(scope.id, kept!.id);
    const everyone = env.settings();
    await env.compose(everyone).engine.run();
    const state = env.compose(everyone).state;
    const before = await state.readCheckpoint("users");

    const scoped = env.settings({ TABLE_PREFIX: everyone.tablePrefix, SCOPE_GROUPS: scope.id });
    const dry = await env.compose(scoped).engine.run({ dryRun: true });
    assert.equal(dry.summary.status, "succeeded", dry.summary.error);
    assert.equal(dry.summary.scope.left, live().length - 1);
    assert.equal(dry.plan.userLeftScope?.count, live().length - 1);
    assert.ok(dry.plan.userLeftScope.sample.length === 10 && dry.plan.userLeftScope.sample.every((entry) => entry.reason === "not a member of any scope group" && entry.name === undefined), JSON.stringify(dry.plan.userLeftScope));
    assert.deepEqual(dry.planIds.userLeftScope, live().filter((user) => user.id !== kept!.id).map((user) => user.id).sort(), "the dry run names everyone who would leave");
    assert.ok(dry.summary.warnings.some((warning) => /would hold \d+ user deletions/.test(warning)), "and that the threshold would quarantine it");
    assert.equal(dry.summary.directoryWrites.entitiesWritten + dry.summary.directoryWrites.entitiesDeleted, 0);
    assert.deepEqual(await state.readCheckpoint("users"), before, "delta state not advanced");
    const record = await env.compose(scoped).runLog.get(dry.summary.runId);
    assert.deepEqual(record?.plan?.userLeftScope, dry.plan.userLeftScope, "the plan is in the run record");
    assert.equal((await activeIds(everyone)).size, live().length, "nobody removed");
  });

  test("a user who left the scope is purged after DELETED_RETENTION_DAYS", async () => {
    const model = env.model;
    const scope = model.createGroup({ displayName: "Retention scope" });
    const [stays, leaves] = live();
    model.addMember(scope.id, stays!.id);
    model.addMember(scope.id, leaves!.id);
    const settings = env.settings({ SCOPE_GROUPS: scope.id, DELETION_THRESHOLD_PERCENT: "0", DELETED_RETENTION_DAYS: "30" });
    await env.compose(settings).engine.run();
    model.removeMember(scope.id, leaves!.id);
    await env.compose(settings).engine.run();
    assert.equal((await storedUsers(settings)).get(leaves!.id)?.outOfScope, true);
    const dayMs = 86_400_000;
    await env.compose(settings, { clock: () => Date.now() + 29 * dayMs }).engine.run();
    assert.ok((await storedUsers(settings)).has(leaves!.id), "kept for the retention period");
    const purged = await env.compose(settings, { clock: () => Date.now() + 31 * dayMs }).engine.run();
    assert.equal(purged.summary.users.purged, 1);
    assert.ok(!(await storedUsers(settings)).has(leaves!.id));
    assert.ok((await activeIds(settings)).has(stays!.id));
  });
});

describe("scope check", () => {
  test("entra-sync check says which scope group does not exist or is of a kind not synced", async () => {
    const staff = env.model.createGroup({ displayName: "All staff" });
    const team = env.model.createGroup({ displayName: "Staff team", groupTypes: ["Unified"], mailEnabled: true, securityEnabled: false });
    const missing = "0badc0de-0000-4000-8000-000000000000";
    const settings = env.settings();
    const credential = new ClientSecretCredential(settings.tenantId, standInClient.clientId, standInClient.clientSecret, { authorityHost: settings.authorityHost, disableInstanceDiscovery: true });
    const report = await runConnectionCheck(
      { ENTRA_TENANT_ID: settings.tenantId, GRAPH_ENDPOINT: settings.graphEndpoint, AUTHORITY_HOST: settings.authorityHost, DirectoryStorage: env.azurite.connectionString, TABLE_PREFIX: settings.tablePrefix, SCOPE_GROUPS: `${staff.id},${missing}`, SCOPE_EXCLUDE_GROUPS: team.id, SYNC_GROUP_KINDS: "security" },
      { credential },
    );
    const scope = report.results.filter((result) => result.check === "scope");
    assert.equal(scope.length, 3, JSON.stringify(report.results));
    assert.match(scope[0]!.message, /SCOPE_GROUPS: group "All staff" .*security\) exists/);
    assert.equal(scope[1]!.outcome, "fail");
    assert.match(scope[1]!.message, new RegExp(`SCOPE_GROUPS names group ${missing}, which does not exist`));
    assert.match(scope[2]!.message, /SCOPE_EXCLUDE_GROUPS names group "Staff team" .*a microsoft365 group, which SYNC_GROUP_KINDS leaves out/);
    assert.equal(report.ok, false);
  });
});

describe("user filters", () => {
  test("an excluded pattern on the user principal name or mail leaves the account out, and the dry run says why", async () => {
    const service = user({ displayName: "Backup Service", userPrincipalName: "svc-backup@contoso.com", mail: null });
    const noreply = user({ displayName: "No Reply", userPrincipalName: "alerts@contoso.com", mail: "noreply@contoso.com" });
    const settings = env.settings({ USER_EXCLUDE_PATTERNS: "svc-*, *noreply*" });
    const dry = await env.compose(settings).engine.run({ dryRun: true });
    assert.ok(dry.plan.userExcluded?.sample.some((entry) => entry.id === service.id && /userPrincipalName matches svc-\*/.test(entry.reason ?? "")), JSON.stringify(dry.plan.userExcluded));
    assert.ok(dry.plan.userExcluded?.sample.some((entry) => entry.id === noreply.id && /mail matches \*noreply\*/.test(entry.reason ?? "")));
    assert.equal(dry.summary.directoryWrites.entitiesWritten, 0, "the dry run writes nothing");

    await env.compose(settings).engine.run();
    const active = await activeIds(settings);
    assert.ok(!active.has(service.id) && !active.has(noreply.id));
    assert.equal(active.size, live().length - 2);
  });

  test("guests off leaves them out; guests on brings them in on the next run", async () => {
    const guest = user({ displayName: "Visiting Examiner", userType: "Guest", userPrincipalName: "examiner_fabrikam.com#EXT#@contoso.com" });
    const off = env.settings({ SYNC_GUESTS: "false" });
    const first = await env.compose(off).engine.run();
    assert.equal(first.summary.status, "succeeded", first.summary.error);
    assert.ok(!(await activeIds(off)).has(guest.id));
    const on = env.settings({ TABLE_PREFIX: off.tablePrefix, SYNC_GUESTS: "true" });
    const second = await env.compose(on).engine.run();
    assert.equal(second.summary.status, "succeeded", second.summary.error);
    assert.equal(second.summary.streams.users.fullRead, false);
    assert.ok((await activeIds(on)).has(guest.id), "brought in by id");
  });

  test("disabled accounts are kept, marked, by default and left out with SYNC_DISABLED_USERS=exclude", async () => {
    const disabled = user({ displayName: "Left Staff", accountEnabled: false });
    const keep = env.settings();
    await env.compose(keep).engine.run();
    const [row] = (await env.compose(keep).store.readObjects("users", [disabled.id])).values();
    assert.equal(row?.properties.accountEnabled, false);
    const exclude = env.settings({ SYNC_DISABLED_USERS: "exclude" });
    await env.compose(exclude).engine.run();
    assert.ok(!(await activeIds(exclude)).has(disabled.id));
  });
});

describe("consumer flags", () => {
  test("a membership added incrementally is on the user's row and its Members row is active, as consumers query them", async () => {
    const settings = env.settings();
    await env.compose(settings).engine.run();
    const group = env.model.createGroup({ displayName: "Added later" });
    const [member] = live();
    env.model.addMember(group.id, member!.id);
    await env.compose(settings).engine.run();
    const key = tableKeys.user(settings.tenantId, member!.id);
    const row = await env.compose(settings).tables.users.getEntity<Record<string, unknown>>(key.partitionKey, key.rowKey);
    assert.ok((JSON.parse(String(row.groups)) as string[]).includes(group.id));
    assert.ok((JSON.parse(String(row.directGroups)) as string[]).includes(group.id));
    assert.ok((await env.compose(settings).store.listMembers(group.id)).some((member_) => member_.memberId === member!.id && member_.active));
  });
});
