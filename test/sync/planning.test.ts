// The core's decisions on in-memory tables: scope verdicts, renames, the threshold, the closure, and the dry run's plan; milliseconds each.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { collectingSink } from "../support/testEnvironment";
import { maxIdsPerProperty } from "../../src/store/memberGroups";
import { storeSchemaMarker } from "../../src/store/storeSchema";
import { tableKeys } from "../../src/store/tableKeys";
import { memorySync } from "./support/memorySync";

async function activeUsers(sync: ReturnType<typeof memorySync>): Promise<string[]> {
  return [...(await sync.store.listObjectIds("users", "deleted eq false"))].sort();
}

describe("planning on the in-memory store", () => {
  test("scope verdicts: members of a scope group (through nesting) are in, an exclusion group wins, everyone else is not stored", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const [ann, bob, cid, dan] = ["Ann", "Bob", "Cid", "Dan"].map((name) => d.addUser(name));
    const team = d.addGroup("Team", [bob!]);
    d.addGroup("Staff - All", [ann!, team, cid!]);
    d.addGroup("Suspended", [cid!]);
    const run = await sync.engine({ scope: { includeGroupPatterns: ["Staff - *"], excludeGroupPatterns: ["Suspended"] } }).run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.deepEqual(await activeUsers(sync), [ann!, bob!].sort());
    assert.equal((await sync.store.readObjects("users", [cid!, dan!])).size, 0, "left out: no row at all");
    const exclusions = await sync.state.readExclusions([cid!, dan!]);
    assert.equal(exclusions.get(cid!)?.reason, "member of excluded group Suspended");
    assert.equal(exclusions.get(dan!)?.reason, "not a member of any scope group");
  });

  test("a group renamed into a scope pattern brings its members in, in the same run; renamed out, they leave through the threshold", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const users = ["Eve", "Fay", "Gus"].map((name) => d.addUser(name));
    const group = d.addGroup("Contractors", users);
    d.addGroup("Staff - Core", [d.addUser("Hal")]);
    const scope = { includeGroupPatterns: ["Staff - *"] };
    await sync.engine({ scope }).run();
    assert.equal((await activeUsers(sync)).length, 1);
    d.renameGroup(group, "Staff - Contractors");
    const renamedIn = await sync.engine({ scope }).run();
    assert.deepEqual(renamedIn.summary.scope.entered, 3);
    assert.equal((await activeUsers(sync)).length, 4);
    d.renameGroup(group, "Former contractors");
    const renamedOut = await sync.engine({ scope, deletionThreshold: { count: 2, percent: 0 } }).run();
    assert.equal(renamedOut.summary.status, "quarantined", "three leavers are past a threshold of two");
    assert.equal(renamedOut.summary.heldDeletions?.count, 3);
    assert.equal((await activeUsers(sync)).length, 4, "nobody left yet");
    const applied = await sync.engine({ scope, deletionThreshold: { count: 2, percent: 0 } }).run({ allowDeletions: true });
    assert.equal(applied.summary.status, "succeeded");
    assert.equal((await activeUsers(sync)).length, 1);
  });

  test("a group renamed into an exclusion pattern takes its members out through the deletion policy; renamed back, they return", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const [ann, bob, cid] = ["Ann", "Bob", "Cid"].map((name) => d.addUser(name));
    const interns = d.addGroup("Interns", [ann!, bob!]);
    d.addGroup("Staff - All", [ann!, bob!, cid!]);
    const scope = { includeGroupPatterns: ["Staff - *"], excludeGroupPatterns: ["Suspended*"] };
    await sync.engine({ scope }).run();
    assert.deepEqual(await activeUsers(sync), [ann!, bob!, cid!].sort());
    d.renameGroup(interns, "Suspended interns");
    const out = await sync.engine({ scope }).run();
    assert.equal(out.summary.status, "succeeded", out.summary.error);
    assert.equal(out.summary.scope.left, 2);
    assert.deepEqual(await activeUsers(sync), [cid!]);
    assert.equal((await sync.state.readExclusions([ann!])).get(ann!)?.reason, "member of excluded group Suspended interns");
    d.renameGroup(interns, "Interns 2027");
    const back = await sync.engine({ scope }).run();
    assert.equal(back.summary.scope.entered, 2);
    assert.deepEqual(await activeUsers(sync), [ann!, bob!, cid!].sort());
  });

  test("the closure: nested membership is inherited, and a direct membership lost while nesting still reaches the group becomes inherited", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const ivy = d.addUser("Ivy");
    const inner = d.addGroup("Inner", [ivy]);
    const outer = d.addGroup("Outer", [inner, ivy]);
    await sync.engine().run();
    const of = async () => {
      const lists = await sync.store.readMemberGroups(ivy);
      return [lists.directGroups.includes(outer), lists.groups.includes(outer)];
    };
    assert.deepEqual(await of(), [true, true]);
    d.removeMember(outer, ivy);
    const run = await sync.engine().run();
    assert.deepEqual(await of(), [false, true], "still a member through Inner");
    assert.deepEqual(run.summary.transitive, { added: 1, removed: 0 }, "Outer is now reached only through nesting");
    d.removeMember(inner, ivy);
    const left = await sync.engine().run();
    assert.deepEqual(await sync.store.readMemberGroups(ivy), { groups: [], directGroups: [], inactiveDirectGroups: [] });
    assert.equal(left.summary.transitive.removed, 1);
  });

  test("a first sync writes each user once, with its groups: the users stream is read after every membership, and the closure rewrites nobody", async () => {
    const build = () => {
      const sync = memorySync();
      const d = sync.directory;
      const [ann, bob, cid, dan] = ["Ann", "Bob", "Cid", "Dan"].map((name) => d.addUser(name)) as [string, string, string, string];
      const team = d.addGroup("Team", [bob]);
      const staff = d.addGroup("Staff", [ann, team]);
      // A cycle: each group reaches the other, and Dan both.
      const a = d.addGroup("A");
      const b = d.addGroup("B", [a, dan]);
      d.addMember(a, b);
      return { sync, ann, bob, cid, dan, team, staff, a, b };
    };
    const { sync, ann, bob, cid, dan, team, staff, a, b } = build();
    const userWrites: string[] = [];
    const apply = sync.store.apply.bind(sync.store);
    sync.store.apply = async (table, operations) => {
      if (table === "users") userWrites.push(...operations.map((operation) => operation.rowKey));
      return apply(table, operations);
    };
    const first = await sync.engine().run();
    assert.equal(first.summary.status, "succeeded", first.summary.error);
    assert.equal(userWrites.length, 4, `one write per user, not one more for its groups: ${userWrites.length}`);
    assert.deepEqual(await sync.store.readMemberGroups(bob), { groups: [team, staff].sort(), directGroups: [team], inactiveDirectGroups: [] });
    assert.deepEqual(await sync.store.readMemberGroups(dan), { groups: [a, b].sort(), directGroups: [b], inactiveDirectGroups: [] });
    assert.deepEqual(await sync.store.readMemberGroups(ann), { groups: [staff], directGroups: [staff], inactiveDirectGroups: [] });
    assert.deepEqual(await sync.store.readMemberGroups(cid), { groups: [], directGroups: [], inactiveDirectGroups: [] });
    assert.deepEqual(first.summary.transitive, { added: 2, removed: 0 }, "Bob inherits Staff and Dan inherits A, counted as the closure would");
    userWrites.length = 0;
    const again = await sync.engine().run({ mode: "full" });
    // A full read restamps every row with its generation (Replace, carrying the lists); the closure's Merge would be a second write.
    assert.deepEqual(userWrites.sort(), [ann, bob, cid, dan].sort(), "a full read writes each user once again, and the closure finds nothing to change");
    assert.deepEqual(again.summary.transitive, { added: 0, removed: 0 });

    // Paused after the first groups page, the continuation reads users without the lists in memory: the closure writes them, and the store ends the same.
    const paused = build();
    paused.sync.directory.pageSize = 1;
    const stopped = await paused.sync.engine().run({ deadline: Date.now() });
    assert.equal(stopped.summary.status, "paused");
    assert.equal(stopped.summary.streams.users.pages, 0, "users wait for the groups stream");
    const continued = await paused.sync.engine().run({ continues: stopped.summary });
    assert.equal(continued.summary.status, "succeeded", continued.summary.error);
    for (const id of [paused.ann, paused.bob, paused.cid, paused.dan]) assert.deepEqual(await paused.sync.store.readMemberGroups(id), await sync.store.readMemberGroups(id), "ids are the same in both builds");
    assert.deepEqual(continued.summary.transitive, first.summary.transitive);
  });

  test("an incremental run writes a user created in it once, with the groups it joined in the same run; one that was a member before it had a row is moved by the closure", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const inner = d.addGroup("Inner", [d.addUser("Ivy")]);
    const outer = d.addGroup("Outer", [inner]);
    // Excluded by the filters, so a member without a row of its own until the filters change.
    const guest = d.addUser("Gail", { userType: "Guest" });
    d.addMember(outer, guest);
    const scope = { includeGuests: false };
    await sync.engine({ scope }).run();
    const userWrites: string[] = [];
    const apply = sync.store.apply.bind(sync.store);
    sync.store.apply = async (table, operations) => {
      if (table === "users") userWrites.push(...operations.map((operation) => operation.rowKey));
      return apply(table, operations);
    };
    const newcomer = d.addUser("Nia");
    d.addMember(inner, newcomer);
    const run = await sync.engine({ scope }).run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.deepEqual(userWrites, [newcomer], "the newcomer's row once, with its groups");
    assert.deepEqual(await sync.store.readMemberGroups(newcomer), { groups: [inner, outer].sort(), directGroups: [inner], inactiveDirectGroups: [] });
    assert.deepEqual(run.summary.transitive, { added: 1, removed: 0 }, "Outer, through Inner");

    userWrites.length = 0;
    const widened = await sync.engine({ scope: { includeGuests: true } }).run();
    assert.equal(widened.summary.status, "succeeded", widened.summary.error);
    assert.deepEqual(await sync.store.readMemberGroups(guest), { groups: [outer], directGroups: [outer], inactiveDirectGroups: [] }, "the membership from before the row now counts");
    const [membersRow] = await sync.store.listMembers(outer).then((rows) => rows.filter((row) => row.memberId === guest));
    assert.equal(membersRow?.active, true, "and its Members row is active again");
  });

  test("a user in more groups than one property holds gets overflow rows, rewritten and deleted as the groups change", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const ada = d.addUser("Ada");
    const groups = Array.from({ length: maxIdsPerProperty + 50 }, (_, index) => d.addGroup(`Club ${index}`, [ada]));
    assert.equal((await sync.engine().run()).summary.status, "succeeded");
    const overflowRows = async () => {
      const rows: string[] = [];
      for await (const row of sync.store.tables.memberGroupsOverflow.listRows({ filter: `PartitionKey eq '${tableKeys.memberGroupsOverflow(sync.store.tenantId, ada, "").partitionKey}'` })) rows.push(row.rowKey);
      return rows.sort();
    };
    const row = await sync.store.tables.users.getRow(tableKeys.user(sync.store.tenantId, ada).partitionKey, ada);
    assert.deepEqual([row?.groups, row?.groupsOverflow], ["[]", 4], "the lists are in 4 overflow rows: 2 for groups, 2 for directGroups");
    assert.deepEqual(await overflowRows(), ["directGroups_000", "directGroups_001", "groups_000", "groups_001"]);
    assert.deepEqual((await sync.store.readMemberGroups(ada)).groups, [...groups].sort());
    for (const groupId of groups.slice(0, 60)) d.removeMember(groupId, ada);
    const written: string[] = [];
    const apply = sync.store.apply.bind(sync.store);
    sync.store.apply = async (table, operations) => {
      written.push(...operations.map((operation) => `${table} ${operation.kind} ${operation.rowKey}`));
      await apply(table, operations);
    };
    const shrunk = await sync.engine().run();
    sync.store.apply = apply;
    assert.equal(shrunk.summary.status, "succeeded");
    assert.deepEqual(await overflowRows(), [], "back under the limit: the lists are on the row again and the overflow rows are gone");
    assert.deepEqual((await sync.store.readMemberGroups(ada)).directGroups, groups.slice(60).sort());
    // 60 Members rows deleted, the user row rewritten, 4 overflow rows deleted: each write changes a row.
    assert.equal(written.length, 60 + 1 + 4, written.filter((line) => !line.startsWith("members")).join("\n"));
  });

  test("a store of schema version 2 is rebuilt on its next run from the Members table, with no Graph full read; a crash in between repeats it", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const ivy = d.addUser("Ivy");
    const inner = d.addGroup("Inner", [ivy]);
    const outer = d.addGroup("Outer", [inner]);
    await sync.engine().run();
    // Version 2: no lists on the rows, the by-member copy in entraMemberOf.
    const user = tableKeys.user(sync.store.tenantId, ivy);
    const stored = (await sync.store.tables.users.getRow(user.partitionKey, user.rowKey))!;
    const { groups: _g, directGroups: _d, inactiveDirectGroups: _i, groupsOverflow: _o, partitionKey: _p, rowKey: _r, ...v2 } = stored;
    await sync.store.apply("users", [{ kind: "upsert", mode: "Replace", ...user, properties: v2 as Record<string, string> }]);
    const legacy = (groupId: string) => tableKeys.legacyMemberOf(sync.store.tenantId, ivy, groupId);
    await sync.store.apply("legacyMemberOf", [inner, outer].map((groupId) => ({ kind: "upsert", mode: "Replace", ...legacy(groupId), properties: { memberType: "user", active: true } })));
    await sync.state.saveMarker(storeSchemaMarker, "2");
    assert.deepEqual((await sync.store.readMemberGroups(ivy)).groups, []);

    const failing = sync.engine();
    const apply = sync.store.apply.bind(sync.store);
    sync.store.apply = async (table, operations) => {
      if (table === "users" && operations.some((operation) => operation.kind === "upsert" && operation.mode === "Merge")) throw new Error("injected: crash during the rebuild");
      await apply(table, operations);
    };
    assert.equal((await failing.run()).summary.status, "failed");
    sync.store.apply = apply;
    assert.equal(await sync.state.readMarker(storeSchemaMarker), "2", "the version is recorded only after the rebuild");

    const run = await sync.engine().run();
    assert.equal(run.summary.status, "succeeded", run.summary.error);
    assert.equal(run.summary.streams.users.fullRead || run.summary.streams.groups.fullRead, false, "no Graph full read");
    assert.deepEqual((await sync.store.readMemberGroups(ivy)).groups, [inner, outer].sort());
    assert.equal(await sync.state.readMarker(storeSchemaMarker), "4");
    const left: string[] = [];
    for await (const row of sync.store.tables.legacyMemberOf.listRows({})) left.push(row.rowKey);
    assert.deepEqual(left, [], "entraMemberOf is emptied");
    let writes = 0;
    sync.store.apply = async (table, operations) => {
      writes += operations.length;
      await apply(table, operations);
    };
    await sync.engine().run();
    assert.equal(writes, 0, "once upgraded, a quiet run writes nothing");
  });

  test("a dry run on the in-memory store plans what the real run then does, and writes nothing", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const users = ["Jo", "Kim", "Lee", "Max"].map((name) => d.addUser(name));
    const scopeGroup = d.addGroup("Staff - Office", users.slice(0, 3));
    const scope = { includeGroupPatterns: ["Staff - *"] };
    await sync.engine({ scope }).run();
    d.removeMember(scopeGroup, users[0]!);
    d.addMember(scopeGroup, users[3]!);
    d.softDeleteUser(users[1]!);
    const before = await sync.store.snapshot();
    const dry = await sync.engine({ scope }).run({ dryRun: true });
    assert.deepEqual(await sync.store.snapshot(), before);
    const real = await sync.engine({ scope }).run();
    assert.deepEqual(dry.planIds.userLeftScope, [users[0]!]);
    assert.deepEqual(dry.planIds.userEnteredScope, [users[3]!]);
    assert.deepEqual(dry.planIds.userSoftDeleted, [users[0]!, users[1]!].sort());
    assert.deepEqual(real.summary.users, dry.summary.users);
    assert.deepEqual(await activeUsers(sync), [users[2]!, users[3]!].sort());
  });

  test("the change feed speaks only of memberships a consumer can see: none for a user outside the scope or a group kind not synced", async () => {
    const sync = memorySync();
    const d = sync.directory;
    const [inside, outside] = [d.addUser("Nia"), d.addUser("Oz")];
    const staff = d.addGroup("Staff - Ops", [inside]);
    const other = d.addGroup("Choir", []);
    const unified = d.addGroup("Team site", [], "microsoft365");
    const scope = { includeGroupPatterns: ["Staff - *"], groupKinds: ["security" as const] };
    await sync.engine({ scope }).run();
    d.addMember(other, inside);
    d.addMember(other, outside);
    d.addMember(unified, inside);
    const sink = collectingSink();
    await sync.engine({ scope, changeSink: sink }).run();
    const memberships = sink.events.filter((event) => event.kind.startsWith("membership")).map((event) => `${event.objectId}>${event.groupId}`);
    assert.deepEqual(memberships, [`${inside}>${other}`], "only the in-scope user's membership of a synced group");
    assert.ok(staff);
  });
});
