// Delta queries on the stand-in, read with the real Graph SDK: full reads, incremental rounds, tokens and query options.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DirectoryModel, type ModelUser } from "../../standin/directoryModel";
import type { GraphStandIn } from "../../standin/graphStandIn";
import {
  Replica,
  errorCode,
  graphClientFor,
  groupSelect,
  rawGet,
  readRound,
  startStandIn,
  userSelect,
} from "./standInTestSupport";

/** Small pages and appearances so that paging and split groups happen in a 40-user tenant. */
const smallPages = { usersPageSize: 7, groupsPageSize: 4, membersPerGroupAppearance: 3 };

function liveUsers(model: DirectoryModel): ModelUser[] {
  return [...model.users.values()].filter((user) => !user.deleted);
}

function byId(objects: ReadonlyArray<Record<string, unknown>>): Map<string, Array<Record<string, unknown>>> {
  const map = new Map<string, Array<Record<string, unknown>>>();
  for (const object of objects) map.set(object["id"] as string, [...(map.get(object["id"] as string) ?? []), object]);
  return map;
}

describe("full reads", () => {
  let standIn: GraphStandIn;
  let model: DirectoryModel;
  before(async () => {
    model = DirectoryModel.generate({ seed: 11, users: 40, groups: 9 });
    standIn = await startStandIn({ model, ...smallPages });
  });
  after(async () => standIn.stop());

  it("returns every live user exactly once, with only the selected properties, over several pages", async () => {
    const hidden = liveUsers(model)[10] as ModelUser;
    model.softDeleteUser(hidden.id);
    const client = graphClientFor(standIn);
    const round = await readRound(client, `/users/delta?$select=displayName,mail,accountEnabled`);

    const ids = round.objects.map((object) => object["id"] as string);
    assert.equal(new Set(ids).size, ids.length, "no user twice");
    assert.deepEqual(ids.sort(), liveUsers(model).map((user) => user.id).sort());
    for (const object of round.objects) assert.deepEqual(Object.keys(object).sort(), ["accountEnabled", "displayName", "id", "mail"]);
    assert.equal(round.pages.length, Math.ceil(ids.length / 7));
    assert.equal(round.pages[0]?.["@odata.context"], `${standIn.url}/v1.0/$metadata#users(displayName,mail,accountEnabled)`);
    assert.equal(round.pages[1]?.["@odata.context"], `${standIn.url}/v1.0/$metadata#users`);
    const nextLink = round.pages[0]?.["@odata.nextLink"] as string;
    assert.match(nextLink, new RegExp(`^${standIn.url}/v1\\.0/users/delta\\?\\$skiptoken=[A-Za-z0-9_.-]+$`));
    assert.match(round.deltaLink, new RegExp(`^${standIn.url}/v1\\.0/users/delta\\?\\$deltatoken=[A-Za-z0-9_.-]+$`));
    const names = round.objects.map((object) => object["displayName"]);
    for (const name of ["Zoë Ångström", "Łukasz Żółć", "李雷"]) assert.ok(names.includes(name), `${name} arrives intact`);
    model.restoreUser(hidden.id);
  });

  it("returns every membership, splitting large groups into appearances and leaving empty groups without members@delta", async () => {
    const client = graphClientFor(standIn);
    const round = await readRound(client, `/groups/delta?$select=${groupSelect}`);
    const appearances = byId(round.objects);
    assert.deepEqual([...appearances.keys()].sort(), [...model.groups.keys()].sort());
    const typesSeen = new Set<string>();
    for (const [groupId, parts] of appearances) {
      const edges = model.members.get(groupId) ?? new Map();
      assert.equal(parts.length, Math.max(1, Math.ceil(edges.size / 3)), `appearances of ${groupId}`);
      for (const part of parts) assert.equal(part["displayName"], model.groups.get(groupId)?.displayName, "each appearance carries the group's properties");
      const reported = parts.flatMap((part) => (part["members@delta"] as Array<Record<string, unknown>> | undefined) ?? []);
      if (edges.size === 0) assert.ok(parts.every((part) => !("members@delta" in part)), "an empty group has no members@delta");
      for (const entry of reported) {
        typesSeen.add(entry["@odata.type"] as string);
        assert.ok(parts.every((part) => ((part["members@delta"] as unknown[] | undefined)?.length ?? 0) <= 3));
      }
      assert.deepEqual(reported.map((entry) => entry["id"]).sort(), [...edges.keys()].sort(), `members of ${groupId}`);
    }
    for (const type of ["user", "group", "device", "servicePrincipal", "orgContact"]) assert.ok(typesSeen.has(`#microsoft.graph.${type}`), `${type} members are reported`);
    const split = [...appearances].find(([, parts]) => parts.length > 1)?.[0];
    const pagesWithSplit = round.pages.filter((page) => (page["value"] as Array<Record<string, unknown>>).some((object) => object["id"] === split));
    assert.ok(pagesWithSplit.length > 1, "a large group's appearances are spread over several pages");
  });

  it("is a snapshot: changes made while paging appear in the next round, not in this one", async () => {
    const client = graphClientFor(standIn);
    const first = (await client.api(`/users/delta?$select=${userSelect}`).get()) as Record<string, unknown>;
    const seenFirst = new Set((first["value"] as Array<Record<string, unknown>>).map((object) => object["id"]));
    const later = liveUsers(model).find((user) => !seenFirst.has(user.id)) as ModelUser;
    const originalTitle = later.jobTitle;
    model.updateUser(later.id, { jobTitle: "Changed mid-read" });
    const created = model.createUser({ displayName: "Created mid-read" });
    const rest = await readRound(client, first["@odata.nextLink"] as string);
    const all = [...(first["value"] as Array<Record<string, unknown>>), ...rest.objects];
    assert.equal(all.find((object) => object["id"] === later.id)?.["jobTitle"], originalTitle);
    assert.ok(!all.some((object) => object["id"] === created.id));

    const next = await readRound(client, rest.deltaLink);
    assert.deepEqual(next.objects.find((object) => object["id"] === later.id), { id: later.id, jobTitle: "Changed mid-read" });
    assert.equal(next.objects.find((object) => object["id"] === created.id)?.["displayName"], "Created mid-read");
  });
});

describe("incremental rounds", () => {
  it("report exactly the net changes: partial updates, @removed reasons, restores and members@delta", async () => {
    const model = DirectoryModel.generate({ seed: 21, users: 40, groups: 9 });
    const standIn = await startStandIn({ model, ...smallPages });
    try {
      const client = graphClientFor(standIn);
      const users = liveUsers(model);
      const restored = users[9] as ModelUser;
      model.softDeleteUser(restored.id);
      const replica = new Replica();
      const usersFull = await readRound(client, `/users/delta?$select=${userSelect}`);
      const groupsFull = await readRound(client, `/groups/delta?$select=${groupSelect}`);
      replica.applyUsers(usersFull.objects);
      replica.applyGroups(groupsFull.objects);
      replica.assertMatches(model);

      const [updated, disabled, softDeleted, hardDeleted] = users as [ModelUser, ModelUser, ModelUser, ModelUser];
      const groupsOfHardDeleted = model.memberOf(hardDeleted.id);
      assert.ok(groupsOfHardDeleted.length > 0, "the seed puts the hard-deleted user in a group");
      const groups = [...model.groups.values()];
      const unified = groups.find((group) => group.groupTypes.includes("Unified"));
      const nonUnified = groups.filter((group) => !group.groupTypes.includes("Unified"));
      assert.ok(unified && nonUnified.length >= 4);
      const doomed = nonUnified[nonUnified.length - 1] as (typeof nonUnified)[0];
      const parentsOfDoomed = model.memberOf(doomed.id);
      const untouched = nonUnified.filter((group) => group !== doomed && !groupsOfHardDeleted.includes(group.id) && !parentsOfDoomed.includes(group.id));
      const renamed = untouched[0];
      assert.ok(renamed, "the seed leaves a group untouched by the deletions");
      const others = nonUnified.filter((group) => group !== doomed && group !== renamed);
      const withRemoval = others.find((group) => [...(model.members.get(group.id)?.keys() ?? [])].some((id) => id !== hardDeleted.id && id !== softDeleted.id));
      assert.ok(withRemoval);
      const withNested = others.find((group) => group !== withRemoval) as (typeof nonUnified)[0];
      const removedMember = [...(model.members.get(withRemoval.id)?.keys() ?? [])].find((id) => id !== hardDeleted.id && id !== softDeleted.id) as string;

      model.updateUser(updated.id, { jobTitle: "Head of Science", department: null });
      model.updateUser(disabled.id, { accountEnabled: false });
      const created = model.createUser({ displayName: "Zoë New-Starter", givenName: "Zoë", surname: "New-Starter" });
      model.softDeleteUser(softDeleted.id);
      model.hardDeleteUser(hardDeleted.id);
      model.restoreUser(restored.id);
      model.removeMember(withRemoval.id, removedMember);
      model.addMember(withNested.id, created.id);
      const newGroup = model.createGroup({ displayName: "Année 7 — Français", description: "new" });
      model.addMember(newGroup.id, updated.id);
      model.addMember(newGroup.id, disabled.id);
      model.updateGroup(renamed.id, { description: "Renamed on purpose" });
      model.deleteGroup(unified.id);
      model.deleteGroup(doomed.id);

      const usersDelta = await readRound(client, usersFull.deltaLink);
      const userChanges = byId(usersDelta.objects);
      assert.deepEqual(userChanges.get(updated.id), [{ id: updated.id, jobTitle: "Head of Science", department: null }]);
      assert.deepEqual(userChanges.get(disabled.id), [{ id: disabled.id, accountEnabled: false }]);
      assert.deepEqual(userChanges.get(softDeleted.id), [{ id: softDeleted.id, "@removed": { reason: "changed" } }]);
      assert.deepEqual(userChanges.get(hardDeleted.id), [{ id: hardDeleted.id, "@removed": { reason: "deleted" } }]);
      assert.equal(userChanges.get(created.id)?.[0]?.["displayName"], "Zoë New-Starter");
      assert.equal(userChanges.get(created.id)?.[0]?.["userPrincipalName"], created.userPrincipalName);
      assert.equal(userChanges.get(restored.id)?.[0]?.["userPrincipalName"], restored.userPrincipalName, "a restored user comes back whole");
      assert.equal(userChanges.size, 6, "unchanged users are not reported");

      const groupsDelta = await readRound(client, groupsFull.deltaLink);
      const groupChanges = byId(groupsDelta.objects);
      assert.deepEqual(groupChanges.get(withRemoval.id)?.flatMap((part) => part["members@delta"] as unknown[]).filter((entry) => (entry as Record<string, unknown>)["id"] === removedMember), [
        { "@odata.type": `#microsoft.graph.${model.memberTypeOf(removedMember)}`, id: removedMember, "@removed": { reason: "deleted" } },
      ]);
      assert.deepEqual(Object.keys(groupChanges.get(withRemoval.id)?.[0] ?? {}).sort(), ["id", "members@delta"], "a membership change carries only id and members@delta");
      assert.deepEqual(groupChanges.get(renamed.id), [{ id: renamed.id, description: "Renamed on purpose" }]);
      for (const groupId of groupsOfHardDeleted) {
        if (groupId === doomed.id || groupId === unified.id) continue;
        const entries = (groupChanges.get(groupId) ?? []).flatMap((part) => (part["members@delta"] as Array<Record<string, unknown>> | undefined) ?? []);
        assert.ok(entries.some((entry) => entry["id"] === hardDeleted.id && (entry["@removed"] as Record<string, unknown>)?.["reason"] === "deleted"), `hard-deleted user leaves ${groupId}`);
      }
      assert.deepEqual(groupChanges.get(unified.id), [{ id: unified.id, "@removed": { reason: "changed" } }], "a Microsoft 365 group is soft-deleted");
      assert.deepEqual(groupChanges.get(doomed.id), [{ id: doomed.id, "@removed": { reason: "deleted" } }], "a security group is deleted for good");
      for (const parent of parentsOfDoomed) {
        if (parent === unified.id) continue;
        const entries = (groupChanges.get(parent) ?? []).flatMap((part) => (part["members@delta"] as Array<Record<string, unknown>> | undefined) ?? []);
        assert.ok(entries.some((entry) => entry["id"] === doomed.id && entry["@removed"] !== undefined), `deleted group leaves parent ${parent}`);
      }
      const newGroupParts = groupChanges.get(newGroup.id) ?? [];
      assert.equal(newGroupParts[0]?.["displayName"], "Année 7 — Français");
      assert.deepEqual(newGroupParts.flatMap((part) => (part["members@delta"] as Array<Record<string, unknown>>).map((entry) => entry["id"])).sort(), [updated.id, disabled.id].sort());
      const nestedEntries = (groupChanges.get(withNested.id) ?? []).flatMap((part) => part["members@delta"] as Array<Record<string, unknown>>);
      assert.ok(nestedEntries.some((entry) => entry["id"] === created.id && entry["@removed"] === undefined));
      assert.ok(!(groupChanges.get(softDeleted.id)), "soft-deleting a user produces no group delta by default");
      for (const [groupId, parts] of groupChanges) {
        for (const part of parts) {
          for (const entry of (part["members@delta"] as Array<Record<string, unknown>> | undefined) ?? []) {
            assert.notEqual(entry["id"], softDeleted.id, `soft-deleted user is not reported removed from ${groupId}`);
          }
        }
      }

      replica.applyUsers(usersDelta.objects);
      replica.applyGroups(groupsDelta.objects);
      replica.assertMatches(model);

      model.restoreGroup(unified.id);
      const afterRestore = await readRound(client, groupsDelta.deltaLink);
      const restoredGroup = byId(afterRestore.objects).get(unified.id) ?? [];
      assert.equal(restoredGroup[0]?.["displayName"], unified.displayName, "a restored group comes back whole");
      replica.applyGroups(afterRestore.objects);
      replica.assertMatches(model);

      const quiet = await readRound(client, afterRestore.deltaLink);
      assert.deepEqual(quiet.objects, [], "no changes, no objects");
      assert.equal(quiet.pages.length, 1);
    } finally {
      await standIn.stop();
    }
  });

  it("do not report changes to properties outside $select", async () => {
    const model = DirectoryModel.generate({ seed: 5, users: 12, groups: 4 });
    const standIn = await startStandIn({ model });
    try {
      const client = graphClientFor(standIn);
      const full = await readRound(client, "/users/delta?$select=displayName");
      const [first, second] = liveUsers(model) as [ModelUser, ModelUser];
      model.updateUser(first.id, { jobTitle: "Not tracked" });
      model.updateUser(second.id, { displayName: "Tracked Rename" });
      const next = await readRound(client, full.deltaLink);
      assert.deepEqual(next.objects, [{ id: second.id, displayName: "Tracked Rename" }]);
    } finally {
      await standIn.stop();
    }
  });

  it("report soft-deleted users as removed from their groups when configured as the older documentation describes", async () => {
    const model = DirectoryModel.generate({ seed: 21, users: 40, groups: 9 });
    const standIn = await startStandIn({ model, ...smallPages, softDeletedUserMembership: "reportedRemoved" });
    try {
      const client = graphClientFor(standIn);
      const replica = new Replica();
      const full = await readRound(client, `/groups/delta?$select=${groupSelect}`);
      const usersFull = await readRound(client, `/users/delta?$select=${userSelect}`);
      replica.applyGroups(full.objects);
      replica.applyUsers(usersFull.objects);
      const user = liveUsers(model).find((candidate) => model.memberOf(candidate.id).length >= 2) as ModelUser;
      const groupIds = model.memberOf(user.id);
      model.softDeleteUser(user.id);
      const removal = await readRound(client, full.deltaLink);
      for (const groupId of groupIds) {
        const entries = (byId(removal.objects).get(groupId) ?? []).flatMap((part) => part["members@delta"] as Array<Record<string, unknown>>);
        assert.deepEqual(entries, [{ "@odata.type": "#microsoft.graph.user", id: user.id, "@removed": { reason: "deleted" } }]);
      }
      replica.applyGroups(removal.objects);
      replica.applyUsers((await readRound(client, usersFull.deltaLink)).objects);
      replica.assertMatches(model, "reportedRemoved");
      model.restoreUser(user.id);
      const readd = await readRound(client, removal.deltaLink);
      for (const groupId of groupIds) {
        const entries = (byId(readd.objects).get(groupId) ?? []).flatMap((part) => part["members@delta"] as Array<Record<string, unknown>>);
        assert.deepEqual(entries, [{ "@odata.type": "#microsoft.graph.user", id: user.id }]);
      }
    } finally {
      await standIn.stop();
    }
  });

  const churnConfigurations = [
    { softDeletedUserMembership: "kept", updatedObjectProperties: "changed", replayChanges: false },
    { softDeletedUserMembership: "reportedRemoved", updatedObjectProperties: "changed", replayChanges: false },
    { softDeletedUserMembership: "kept", updatedObjectProperties: "selected", replayChanges: true },
  ] as const;
  for (const configuration of churnConfigurations) {
    it(`keep a merging consumer equal to the model through rounds of random churn (${Object.values(configuration).join(", ")})`, async () => {
      const model = DirectoryModel.generate({ seed: 99, users: 300, groups: 25 });
      const standIn = await startStandIn({ model, usersPageSize: 40, groupsPageSize: 10, membersPerGroupAppearance: 20, ...configuration });
      try {
        const client = graphClientFor(standIn);
        const replica = new Replica();
        let usersLink = `/users/delta?$select=${userSelect}`;
        let groupsLink = `/groups/delta?$select=${groupSelect}`;
        for (let round = 0; round <= 4; round++) {
          const users = await readRound(client, usersLink);
          const groups = await readRound(client, groupsLink);
          replica.applyUsers(users.objects);
          replica.applyGroups(groups.objects);
          replica.assertMatches(model, configuration.softDeletedUserMembership);
          if (round > 0 && configuration.replayChanges) {
            const ids = users.objects.map((object) => object["id"]);
            assert.equal(ids.at(-1), ids[0], "the first change is delivered again at the end of the round");
          }
          if (round === 4) break;
          usersLink = users.deltaLink;
          groupsLink = groups.deltaLink;
          const churn = model.applyChurn(0.2, 1000 + round);
          assert.ok(churn.usersChanged + churn.usersCreated + churn.usersDeleted + churn.membershipsAdded + churn.membershipsRemoved > 0);
          // Restores are not part of churn; bring one soft-deleted user back each round so they are exercised too.
          const deleted = [...model.users.values()].find((user) => user.deleted);
          if (deleted) model.restoreUser(deleted.id);
        }
      } finally {
        await standIn.stop();
      }
    });
  }

  it("return every tracked property of an updated object in \"selected\" mode, unless Prefer: return=minimal", async () => {
    const model = DirectoryModel.generate({ seed: 8, users: 10, groups: 4 });
    const standIn = await startStandIn({ model, updatedObjectProperties: "selected" });
    try {
      const client = graphClientFor(standIn);
      const full = await readRound(client, "/users/delta?$select=displayName,jobTitle");
      const user = liveUsers(model)[0] as ModelUser;
      model.updateUser(user.id, { jobTitle: "Changed" });
      const all = await rawGet(client, full.deltaLink);
      assert.deepEqual(all.body["value"], [{ displayName: user.displayName, jobTitle: "Changed", id: user.id }]);
      const minimal = await rawGet(client, full.deltaLink, { Prefer: "return=minimal" });
      assert.deepEqual(minimal.body["value"], [{ jobTitle: "Changed", id: user.id }]);
      assert.equal(minimal.headers.get("preference-applied"), "return=minimal");
    } finally {
      await standIn.stop();
    }
  });
});

describe("delta query options and tokens", () => {
  let standIn: GraphStandIn;
  let model: DirectoryModel;
  before(async () => {
    model = DirectoryModel.generate({ seed: 3, users: 30, groups: 8 });
    standIn = await startStandIn({ model, ...smallPages });
  });
  after(async () => standIn.stop());

  it("$deltatoken=latest returns no objects and a deltaLink that tracks from now", async () => {
    const client = graphClientFor(standIn);
    const latest = (await client.api("/users/delta?$deltatoken=latest&$select=displayName").get()) as Record<string, unknown>;
    assert.deepEqual(latest["value"], []);
    assert.equal(latest["@odata.nextLink"], undefined);
    const user = liveUsers(model)[2] as ModelUser;
    model.updateUser(user.id, { displayName: "Renamed After Latest" });
    const next = await readRound(client, latest["@odata.deltaLink"] as string);
    assert.deepEqual(next.objects, [{ id: user.id, displayName: "Renamed After Latest" }]);
  });

  it("$filter=id eq … or id eq … limits full and incremental rounds to those objects", async () => {
    const client = graphClientFor(standIn);
    const [a, b, c] = liveUsers(model) as [ModelUser, ModelUser, ModelUser];
    const full = await readRound(client, `/users/delta?$filter=id eq '${a.id}' or id eq '${b.id}'&$select=displayName`);
    assert.deepEqual(full.objects.map((object) => object["id"]).sort(), [a.id, b.id].sort());
    model.updateUser(a.id, { displayName: "Filtered A" });
    model.updateUser(c.id, { displayName: "Not In Filter" });
    const next = await readRound(client, full.deltaLink);
    assert.deepEqual(next.objects, [{ id: a.id, displayName: "Filtered A" }]);

    const group = [...model.groups.values()][0];
    assert.ok(group);
    const groups = await readRound(client, `/groups/delta?$filter=id eq '${group.id}'&$select=displayName,members`);
    assert.deepEqual([...new Set(groups.objects.map((object) => object["id"]))], [group.id]);
  });

  it("answers 400 to $top, unknown properties and unsupported filters, as Graph does for users and groups delta", async () => {
    const client = graphClientFor(standIn);
    const top = await rawGet(client, "/users/delta?$top=5");
    assert.equal(top.status, 400);
    assert.equal(errorCode(top.body), "Request_UnsupportedQuery");
    const unknown = await rawGet(client, "/users/delta?$select=displayName,favouriteColour");
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.body), /favouriteColour/);
    const filter = await rawGet(client, "/users/delta?$filter=startswith(displayName,'A')");
    assert.equal(filter.status, 400);
  });

  it("rejects malformed tokens, tokens of another stand-in and tokens of the other resource", async () => {
    const client = graphClientFor(standIn);
    const garbage = await rawGet(client, "/users/delta?$deltatoken=not-a-token");
    assert.equal(garbage.status, 400);
    assert.equal(errorCode(garbage.body), "BadRequest");
    assert.match(JSON.stringify(garbage.body), /malformed/);

    const other = await startStandIn({ model: DirectoryModel.generate({ seed: 3, users: 30, groups: 8 }) });
    try {
      const foreign = await readRound(graphClientFor(other), "/users/delta?$select=displayName");
      const token = new URL(foreign.deltaLink).searchParams.get("$deltatoken") as string;
      const replayed = await rawGet(client, `/users/delta?$deltatoken=${token}`);
      assert.equal(replayed.status, 400);
      assert.equal(errorCode(replayed.body), "syncStateNotFound");
    } finally {
      await other.stop();
    }

    const users = await readRound(client, "/users/delta?$select=displayName");
    const token = new URL(users.deltaLink).searchParams.get("$deltatoken") as string;
    const crossed = await rawGet(client, `/groups/delta?$deltatoken=${token}`);
    assert.equal(crossed.status, 400);
  });

  it("accepts the fully qualified function name the SDKs generate", async () => {
    const client = graphClientFor(standIn);
    const round = await readRound(client, "/users/microsoft.graph.delta()?$select=displayName");
    assert.equal(round.objects.length, liveUsers(model).length);
  });
});
